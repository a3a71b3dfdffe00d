// Token budget policy for a repository bigger than the window: drop the largest files first.
//
// Files are tried smallest first and kept while they fit. Many small files cover more of the repository
// (more paths, more definitions, more structure to answer from) than a few big ones, and the biggest files in
// a source tree are most often data, fixtures or generated code. Ranking by centrality (import graph) would
// need per-language parsing; size needs only the stat we already have. Sizes are bytes, a proxy for tokens,
// so the loop still checks each file's real token count, and gives up after a run of misses so that a huge
// repository costs reading about one budget's worth of files, not the whole tree.
export const MAX_CONSECUTIVE_MISSES = 16;

export interface Sized {
  path: string;
  bytes: number;
}

/** The order in which files are tried against the budget. */
export function fillOrder<T extends Sized>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => a.bytes - b.bytes || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export class TokenBudget {
  private used = 0;
  private misses = 0;

  constructor(readonly max: number) {}

  /** Takes n tokens if they fit. */
  take(n: number): boolean {
    if (this.used + n > this.max) {
      this.misses++;
      return false;
    }
    this.used += n;
    this.misses = 0;
    return true;
  }

  /** True once nothing more is worth trying. */
  get full(): boolean {
    return this.used >= this.max || this.misses >= MAX_CONSECUTIVE_MISSES;
  }
}
