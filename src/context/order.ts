// Order: files that change least come first. Attention is causal, so an edit invalidates the KV of every
// token after the edited file's first token; the engine re-prefills that suffix. Putting volatile files last
// keeps the suffix, and so the refresh, short. Ties break by path so the order is stable across builds.
import { git, splitNul } from './git.ts';

export interface Churn {
  /** Commits touching the file within the history read. */
  commits: number;
  /** Unix seconds of the newest such commit; 0 when none. */
  last: number;
}

/** One bounded `git log` call: per path, how often and how recently it changed. */
export async function gitChurn(rootAbs: string, maxCommits: number, signal?: AbortSignal): Promise<Map<string, Churn>> {
  const churn = new Map<string, Churn>();
  let out: string;
  try {
    out = await git(
      rootAbs,
      [
        'log',
        `-n${maxCommits}`,
        '--no-renames',
        '--no-ext-diff',
        '--no-textconv',
        '--relative',
        '--name-only',
        '-z',
        '--format=%x01%ct',
        '--',
        '.',
      ],
      signal,
    );
  } catch {
    signal?.throwIfAborted();
    return churn; // No commits yet: every file is equally new.
  }
  // Output: "\x01<time>\0\n<path>\0<path>\0\x01<time>\0..." newest commit first.
  let time = 0;
  for (const field of splitNul(out)) {
    if (field.charCodeAt(0) === 1) {
      time = Number(field.slice(1));
      continue;
    }
    const path = field.charCodeAt(0) === 10 ? field.slice(1) : field;
    const c = churn.get(path);
    if (c) c.commits++;
    else churn.set(path, { commits: 1, last: time });
  }
  return churn;
}

/** Tracked files with changes not yet committed (staged or not): they are being edited now. */
export async function gitDirty(rootAbs: string, signal?: AbortSignal): Promise<Set<string>> {
  const [modified, staged] = await Promise.all([
    git(rootAbs, ['ls-files', '-z', '--modified'], signal),
    // Fails without a HEAD commit, when nothing is "changed since" anything yet.
    git(
      rootAbs,
      ['diff-index', '--cached', '--no-ext-diff', '--no-textconv', '--name-only', '-z', '--relative', 'HEAD', '--'],
      signal,
    ).catch(() => ''),
  ]);
  return new Set([...splitNul(modified), ...splitNul(staged)]);
}

export interface OrderItem {
  path: string;
  mtimeMs: number;
}

const byPath = (a: OrderItem, b: OrderItem): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/** Git order: committed-and-clean first, then by commit count, then by last commit time, then path. */
export function orderByChurn<T extends OrderItem>(items: T[], churn: Map<string, Churn>, volatile: Set<string>): T[] {
  const none: Churn = { commits: 0, last: 0 };
  const key = (p: string): [number, number, number] => {
    const c = churn.get(p) ?? none;
    return [volatile.has(p) ? 1 : 0, c.commits, c.last];
  };
  const keys = new Map(items.map((i) => [i.path, key(i.path)]));
  return [...items].sort((a, b) => {
    const ka = keys.get(a.path)!;
    const kb = keys.get(b.path)!;
    return ka[0] - kb[0] || ka[1] - kb[1] || ka[2] - kb[2] || byPath(a, b);
  });
}

/** Without git: oldest modification first. Whole seconds, so a checkout's near-equal times fall back to path. */
export function orderByMtime<T extends OrderItem>(items: T[]): T[] {
  return [...items].sort((a, b) => Math.floor(a.mtimeMs / 1000) - Math.floor(b.mtimeMs / 1000) || byPath(a, b));
}
