// Git's ignore semantics for the tree walk (when there is no git to ask): .git/info/exclude, then one
// .gitignore per folder, a deeper file overriding a shallower one, the last matching line winning, negation,
// and no re-including a file whose folder is excluded.
//
// Every folder's patterns are rebased onto the root and appended to one list, lowest precedence first. One
// `ignore` instance then decides with git's precedence, because "last match wins" over that list is exactly
// "deeper file first, last line within a file". Testing each file's patterns separately would not do: the
// `ignore` package treats a path as ignored when its folder is, judged by that file's rules alone, even when a
// deeper file re-included the folder.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import ignore, { type Ignore } from 'ignore';

async function lines(file: string): Promise<string[]> {
  try {
    return (await readFile(file, 'utf8')).split(/\r?\n/);
  } catch {
    return []; // Absent or unreadable: git ignores such a file too.
  }
}

/** A pattern from the .gitignore in folder `base` ('a/b/', '' for the root), made relative to the root. */
export function rebase(line: string, base: string): string | undefined {
  if (line.trim() === '' || line.startsWith('#')) return undefined;
  if (!base) return line;
  const negated = line.startsWith('!');
  const body = negated ? line.slice(1) : line;
  // A slash at the start or in the middle anchors a pattern to its .gitignore's folder; otherwise it
  // matches at any depth below it.
  const anchored = body.replace(/\/+$/, '').includes('/');
  const rebased = anchored ? base + body.replace(/^\//, '') : `${base}**/${body}`;
  return (negated ? '!' : '') + rebased;
}

// Git matches case-insensitively only where it set core.ignoreCase at init: the default file systems of
// macOS and Windows.
const IGNORE_CASE = process.platform === 'darwin' || process.platform === 'win32';
const make = (patterns: readonly string[]): Ignore => ignore({ ignorecase: IGNORE_CASE }).add(patterns);

export class IgnoreStack {
  private constructor(
    private readonly patterns: readonly string[],
    private readonly ig: Ignore,
  ) {}

  static async forRoot(rootAbs: string): Promise<IgnoreStack> {
    const patterns = [...(await lines(join(rootAbs, '.git', 'info', 'exclude'))), ...(await lines(join(rootAbs, '.gitignore')))]
      .map((l) => rebase(l, ''))
      .filter((l): l is string => l !== undefined);
    return new IgnoreStack(patterns, make(patterns));
  }

  /** The stack for a subfolder (relative 'a/b'), with its own .gitignore on top when it has one. */
  async enter(rootAbs: string, dirRel: string): Promise<IgnoreStack> {
    const own = (await lines(join(rootAbs, dirRel, '.gitignore')))
      .map((l) => rebase(l, dirRel + '/'))
      .filter((l): l is string => l !== undefined);
    if (own.length === 0) return this;
    const patterns = [...this.patterns, ...own];
    return new IgnoreStack(patterns, make(patterns));
  }

  ignores(rel: string, isDir: boolean): boolean {
    return this.ig.ignores(isDir ? rel + '/' : rel);
  }
}
