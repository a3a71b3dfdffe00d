// What an engine killed mid-write leaves in the cache folder. A cancel normally unwinds and each writer removes
// its own temporary files, but a model run or a weight conversion cannot be interrupted, so an engine that must
// stop now is killed, and its client removes them instead. Every temporary name in the cache carries its
// writer's pid, in its name (store.ts, prepare.ts, contentCheck.ts, open.ts, build.ts, gguf/import.ts,
// sessions.ts) or, for a lock, inside it (cache/lock.ts's folders, core/jobLock.ts's files and their drafts).
import { readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { lockedBy } from './lock.ts';

/** entries/<key>/<generation> and models/<prepared>/<file> are the deepest temporary names. */
const DEPTH = 3;

/** Removes what process `pid`, now ended, left half-written under the cache folder `root`. */
export function removeLeftovers(root: string, pid: number): void {
  const forms = [
    // A generation being written: gen-<ms>-<pid>-<random>.tmp
    new RegExp(`^gen-\\d+-${pid}-\\w+\\.tmp$`),
    // A file or folder written aside before its rename: <name>.<pid>.tmp, <name>.<pid>.<random>.tmp
    new RegExp(`\\.${pid}(\\.\\w+)?\\.tmp$`),
    // The entry's next pointer, and a reader's lease on a generation.
    new RegExp(`^current\\.${pid}\\.\\w+$`),
    new RegExp(`\\.lease-${pid}-\\w+$`),
  ];
  const walk = (dir: string, depth: number) => {
    let names;
    try {
      names = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of names) {
      const p = join(dir, e.name);
      const mine =
        forms.some((f) => f.test(e.name)) ||
        (e.isDirectory() && e.name.endsWith('.lock') && lockedBy(p, pid)) ||
        (e.isFile() && /\.(lock|tmp)$/.test(e.name) && namesOwner(p, pid));
      if (mine) rmSync(p, { recursive: true, force: true });
      else if (e.isDirectory() && depth < DEPTH) walk(p, depth + 1);
    }
  };
  walk(root, 1);
}

/** A job lock or its draft: a small JSON file that names its owner's pid. */
function namesOwner(file: string, pid: number): boolean {
  try {
    if (statSync(file).size > 4096) return false;
    return (JSON.parse(readFileSync(file, 'utf8')) as { pid?: unknown })?.pid === pid;
  } catch {
    return false;
  }
}
