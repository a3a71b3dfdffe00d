// Discovery: which files are candidates. Git's own listing when there is a work tree (tracked plus untracked
// not ignored: exactly what the user sees in `git status`), else a walk that applies git's ignore rules.
// Path rules (globs, defaults, secret names) apply here so that pruned folders are never entered.
import { lstatSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { git, gitTopLevel, splitNul } from './git.ts';
import { IgnoreStack } from './gitignore.ts';
import type { Omissions } from './report.ts';
import type { PathRules } from './rules.ts';
import type { Progress } from './types.ts';

export interface Discovery {
  mode: 'git' | 'walk';
  paths: string[];
  /** Untracked files (git mode): they are being worked on, so they sort last. */
  untracked: Set<string>;
}

interface DiscoverOptions {
  mode: 'auto' | 'git' | 'walk';
  rules: PathRules;
  omitted: Omissions;
  maxFiles: number;
  signal?: AbortSignal | undefined;
  onProgress: (p: Progress) => void;
}

export async function discover(rootAbs: string, o: DiscoverOptions): Promise<Discovery> {
  if (o.mode !== 'walk') {
    const top = await gitTopLevel(rootAbs, o.signal);
    if (o.mode === 'git' && !top) throw new Error(`${rootAbs} is not inside a git work tree (or git is not installed)`);
    // A folder the enclosing repository ignores (a package opened inside node_modules) would list nothing.
    if (top && (o.mode === 'git' || !(await isIgnoredByGit(rootAbs, o.signal)))) return discoverGit(rootAbs, o);
  }
  return discoverWalk(rootAbs, o);
}

async function isIgnoredByGit(rootAbs: string, signal?: AbortSignal): Promise<boolean> {
  try {
    await git(rootAbs, ['check-ignore', '-q', '.'], signal);
    return true;
  } catch {
    signal?.throwIfAborted();
    return false; // Exit status 1: not ignored.
  }
}

/** Applies path rules to one file; true when it stays a candidate. */
function keep(rel: string, o: DiscoverOptions, scanned: boolean): boolean {
  const up = o.rules.ancestor(rel);
  if (up) {
    o.omitted.dir(up.dir, up.verdict, scanned);
    return false;
  }
  const v = o.rules.file(rel);
  if (v) o.omitted.file(rel, v);
  return !v;
}

function capReached(o: DiscoverOptions, detail: string): void {
  o.omitted.file('', { reason: 'file-limit', detail });
}

async function discoverGit(rootAbs: string, o: DiscoverOptions): Promise<Discovery> {
  const [tracked, others] = await Promise.all([
    git(rootAbs, ['ls-files', '-z', '--cached', '-t'], o.signal),
    git(rootAbs, ['ls-files', '-z', '--others', '--exclude-standard'], o.signal),
  ]);
  const untracked = new Set(splitNul(others));
  // Sorted so that the cap, when it bites, always keeps the same files.
  const all = [...new Set([...onDisk(rootAbs, splitNul(tracked)), ...untracked])].sort();
  const paths: string[] = [];
  for (let i = 0; i < all.length; i++) {
    if (keep(all[i]!, o, true)) {
      if (paths.length === o.maxFiles) {
        capReached(o, `stopped at ${o.maxFiles} files; ${all.length - i} listed paths not scanned`);
        break;
      }
      paths.push(all[i]!);
    }
  }
  o.onProgress({ phase: 'discover', done: paths.length, total: paths.length });
  return { mode: 'git', paths, untracked };
}

/**
 * The tracked paths of `ls-files -t` (each tagged, `S` for skip-worktree) that are in the work tree. A sparse
 * checkout marks the paths it leaves off the disk skip-worktree, and it may leave most of a large repository
 * off: counted, they would fill the file cap before the files that are there. A skip-worktree path that is on
 * disk anyway (`update-index --skip-worktree` on a file edited locally) is what the user sees, and stays.
 */
function onDisk(rootAbs: string, tagged: string[]): string[] {
  return tagged.flatMap((entry) => {
    const path = entry.slice(2);
    return entry[0] !== 'S' || lstatSync(join(rootAbs, path), { throwIfNoEntry: false }) ? [path] : [];
  });
}

async function discoverWalk(rootAbs: string, o: DiscoverOptions): Promise<Discovery> {
  const paths: string[] = [];
  const stack: { rel: string; ignore: IgnoreStack }[] = [{ rel: '', ignore: await IgnoreStack.forRoot(rootAbs) }];
  walk: while (stack.length > 0) {
    o.signal?.throwIfAborted();
    const { rel: dirRel, ignore } = stack.pop()!;
    let entries;
    try {
      entries = await readdir(join(rootAbs, dirRel), { withFileTypes: true });
    } catch (e) {
      o.omitted.dir(dirRel, { reason: 'unreadable', detail: (e as NodeJS.ErrnoException).code ?? String(e) }, false);
      continue;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirs: string[] = [];
    for (const entry of entries) {
      // Never a candidate, whatever the defaults say: it is the repository's database.
      if (entry.name === '.git') continue;
      const rel = dirRel ? `${dirRel}/${entry.name}` : entry.name;
      // A symlink to a folder is a file to git, and is never followed here (no loops, no escaping the root).
      if (entry.isDirectory()) {
        if (ignore.ignores(rel, true)) continue;
        const v = o.rules.dir(rel);
        if (v) o.omitted.dir(rel, v, false);
        else subdirs.push(rel);
        continue;
      }
      if (ignore.ignores(rel, false) || !keep(rel, o, false)) continue;
      if (paths.length === o.maxFiles) {
        capReached(o, `stopped at ${o.maxFiles} files; the rest of the tree was not scanned`);
        break walk;
      }
      paths.push(rel);
      if (paths.length % 1000 === 0) o.onProgress({ phase: 'discover', done: paths.length, total: 0 });
    }
    for (let i = subdirs.length - 1; i >= 0; i--) {
      stack.push({ rel: subdirs[i]!, ignore: await ignore.enter(rootAbs, subdirs[i]!) });
    }
  }
  o.onProgress({ phase: 'discover', done: paths.length, total: paths.length });
  return { mode: 'walk', paths, untracked: new Set() };
}
