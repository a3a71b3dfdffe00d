// The omission report: every file left out, with why. A folder left out whole is one entry with a count,
// so node_modules does not drown the rest.
import type { Verdict } from './defaults.ts';
import type { FileKind } from './kind.ts';
import type { BuiltContext, ContextStats, OmittedFile } from './types.ts';

export class Omissions {
  private readonly files: OmittedFile[] = [];
  private readonly dirs = new Map<string, { verdict: Verdict; count: number; scanned: boolean }>();

  file(
    path: string,
    verdict: Verdict,
    extra?: { bytes?: number | undefined; tokens?: number; rank?: number; kind?: OmittedFile['kind'] },
  ): void {
    const entry: OmittedFile = { path, reason: verdict.reason, detail: verdict.detail };
    if (extra?.bytes !== undefined) entry.bytes = extra.bytes;
    if (extra?.tokens !== undefined) entry.tokens = extra.tokens;
    if (extra?.rank !== undefined) entry.rank = extra.rank;
    if (extra?.kind !== undefined) entry.kind = extra.kind;
    this.files.push(entry);
  }

  /** Moves another folder's omissions in, their paths prefixed with that folder's name. */
  merge(other: Omissions, prefix: string): void {
    for (const f of other.files) this.files.push({ ...f, path: prefix + f.path });
    for (const [path, d] of other.dirs) this.dirs.set(prefix + path, d);
    other.files.length = 0;
    other.dirs.clear();
  }

  /** A folder left out; `scanned` when its files were listed (git) and so counted. */
  dir(path: string, verdict: Verdict, scanned: boolean): void {
    const d = this.dirs.get(path);
    if (d) d.count++;
    else this.dirs.set(path, { verdict, count: scanned ? 1 : 0, scanned });
  }

  get size(): number {
    return this.files.length + this.dirs.size;
  }

  list(): OmittedFile[] {
    const dirs: OmittedFile[] = [...this.dirs].map(([path, d]) => ({
      path: path + '/',
      reason: d.verdict.reason,
      detail: d.scanned ? `${d.verdict.detail} (${d.count} files)` : `${d.verdict.detail} (not scanned)`,
    }));
    return [...dirs, ...this.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
}

export interface ContextReport {
  totalTokens: number;
  stats: ContextStats;
  included: { path: string; tokens: number; bytes: number; outline: boolean; rank: number; kind: FileKind; note?: string }[];
  omitted: OmittedFile[];
}

/** What `build --json` shows: the context without its text and ids. */
export function contextReport(ctx: BuiltContext): ContextReport {
  return {
    totalTokens: ctx.totalTokens,
    stats: ctx.stats,
    included: ctx.files.map((f) => ({
      path: f.path,
      tokens: f.tokenEnd - f.tokenStart,
      bytes: f.bytes,
      outline: f.outline === true,
      rank: f.rank,
      kind: f.kind,
      ...(f.note ? { note: f.note } : {}),
    })),
    omitted: ctx.omitted,
  };
}
