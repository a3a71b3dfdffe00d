// Thin wrapper over the git binary: execFile (no shell), bounded output, cancellable.
import { execFile } from 'node:child_process';

const MAX_BUFFER = 512 * 1024 * 1024;

export function git(cwd: string, args: string[], signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      // quotePath off so non-ASCII names come back verbatim even where -z is not used.
      ['-c', 'core.quotePath=false', ...args],
      { cwd, maxBuffer: MAX_BUFFER, encoding: 'utf8', signal, windowsHide: true },
      (err, stdout) => (err ? reject(err) : resolve(stdout)),
    );
  });
}

/** The work tree's top level when cwd is inside a git work tree, else undefined (no git, not a repo). */
export async function gitTopLevel(cwd: string, signal?: AbortSignal): Promise<string | undefined> {
  try {
    const out = await git(cwd, ['rev-parse', '--is-inside-work-tree', '--show-toplevel'], signal);
    const [inside, top] = out.split('\n');
    return inside === 'true' && top ? top : undefined;
  } catch {
    signal?.throwIfAborted();
    return undefined;
  }
}

export function splitNul(out: string): string[] {
  return out.split('\0').filter((s) => s.length > 0);
}
