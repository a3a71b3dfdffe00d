// Ranking by value for understanding the code: the user's pins first, then by kind (source, tests, docs and
// examples, configuration and CI), and inside a kind by PageRank over the import graph, as Aider's repo map
// ranks files. A file many others import (directly or through other central files) ranks high; the walk
// restarts more often at entry points and at files the README names, so those count too.
import picomatch from 'picomatch';
import { fileKind, KIND_TIER, type FileKind } from './kind.ts';

export interface RankInput {
  paths: readonly string[];
  /** Edges importer -> imported, as indexes into paths. */
  edges: ReadonlyMap<number, readonly number[]>;
  /** Files the README mentions by path. */
  mentioned?: ReadonlySet<string>;
  /** Globs of files that rank before everything else. */
  pinned?: readonly string[];
}

export interface Ranked {
  path: string;
  /** 1 = the most valuable file. */
  rank: number;
  kind: FileKind;
  pinned: boolean;
  /** PageRank, summing to 1 over all files. */
  score: number;
  /** How many other files import this one. */
  importedBy: number;
}

const DAMPING = 0.85;
const ITERATIONS = 40;
/** Restart weight of an entry point or a README-named file, against 1 for any other file. */
const ENTRY_WEIGHT = 20;

const ENTRY = /(^|\/)(index|main|__main__|__init__|app|lib|mod|cli|server)\.[a-z]+$|(^|\/)cmd\/[^/]+\/main\.go$/;

/** The README at the top of a workspace folder: the first doc a newcomer reads. */
const TOP_README = /^([^/]+\/)?readme(\.[a-z]+)?$/i;

export function isEntryPoint(path: string): boolean {
  return (ENTRY.test(path) && !path.includes('/test')) || TOP_README.test(path);
}

/** Power iteration; dangling files spread their rank by the restart distribution. */
export function pageRank(n: number, edges: ReadonlyMap<number, readonly number[]>, restart: Float64Array): Float64Array {
  let rank = Float64Array.from(restart);
  for (let it = 0; it < ITERATIONS; it++) {
    const next = new Float64Array(n);
    let dangling = 0;
    for (let i = 0; i < n; i++) {
      const out = edges.get(i);
      if (!out || out.length === 0) {
        dangling += rank[i]!;
        continue;
      }
      const share = (DAMPING * rank[i]!) / out.length;
      for (const j of out) next[j]! += share;
    }
    for (let i = 0; i < n; i++) next[i]! += (1 - DAMPING + DAMPING * dangling) * restart[i]!;
    rank = next;
  }
  return rank;
}

export function rankFiles(input: RankInput): Ranked[] {
  const { paths, edges } = input;
  const n = paths.length;
  const isPinned = input.pinned?.length ? picomatch([...input.pinned], { dot: true }) : undefined;
  const restart = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const p = paths[i]!;
    restart[i] = isEntryPoint(p) || input.mentioned?.has(p) ? ENTRY_WEIGHT : 1;
    sum += restart[i]!;
  }
  for (let i = 0; i < n; i++) restart[i]! /= sum || 1;
  const score = n > 0 ? pageRank(n, edges, restart) : new Float64Array(0);
  const importedBy = new Uint32Array(n);
  for (const out of edges.values()) for (const j of new Set(out)) importedBy[j]!++;

  const items = paths.map((path, i) => ({
    path,
    kind: fileKind(path),
    pinned: isPinned?.(path) ?? false,
    score: score[i]!,
    importedBy: importedBy[i]!,
  }));
  items.sort(
    (a, b) =>
      Number(b.pinned) - Number(a.pinned) ||
      KIND_TIER[a.kind] - KIND_TIER[b.kind] ||
      b.score - a.score ||
      b.importedBy - a.importedBy ||
      (a.path < b.path ? -1 : a.path > b.path ? 1 : 0),
  );
  return items.map((it, i) => ({ ...it, rank: i + 1 }));
}

/** The tier a ranked file fills in: pins form their own tier ahead of the kinds. */
export function tierOf(r: Ranked): number {
  return r.pinned ? -1 : KIND_TIER[r.kind];
}
