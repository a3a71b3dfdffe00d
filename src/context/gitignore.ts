// Git's ignore semantics for the tree walk (when there is no git to ask): .git/info/exclude, then one
// .gitignore per folder, a deeper file overriding a shallower one, the last matching line winning within a
// file, and negation. A folder git ignores is never entered, so nothing under it can be re-included, as in git.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import ignore, { type Ignore } from 'ignore';

interface Level {
  /** Folder the patterns are relative to: '' for the root, else 'a/b/'. */
  base: string;
  ig: Ignore;
}

async function load(file: string): Promise<Ignore | undefined> {
  try {
    return ignore().add(await readFile(file, 'utf8'));
  } catch {
    return undefined; // Absent or unreadable: git ignores such a file too.
  }
}

export class IgnoreStack {
  private constructor(private readonly levels: readonly Level[]) {}

  static async forRoot(rootAbs: string): Promise<IgnoreStack> {
    const levels: Level[] = [];
    const exclude = await load(join(rootAbs, '.git', 'info', 'exclude'));
    if (exclude) levels.push({ base: '', ig: exclude });
    const own = await load(join(rootAbs, '.gitignore'));
    if (own) levels.push({ base: '', ig: own });
    return new IgnoreStack(levels);
  }

  /** The stack for a subfolder (relative 'a/b'), with its own .gitignore on top when it has one. */
  async enter(rootAbs: string, dirRel: string): Promise<IgnoreStack> {
    const own = await load(join(rootAbs, dirRel, '.gitignore'));
    return own ? new IgnoreStack([...this.levels, { base: dirRel + '/', ig: own }]) : this;
  }

  ignores(rel: string, isDir: boolean): boolean {
    for (let i = this.levels.length - 1; i >= 0; i--) {
      const { base, ig } = this.levels[i]!;
      const local = rel.slice(base.length) + (isDir ? '/' : '');
      const r = ig.test(local);
      if (r.ignored) return true;
      if (r.unignored) return false;
    }
    return false;
  }
}
