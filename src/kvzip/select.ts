// Which context KV pairs to keep. KVzip's levels (pair, pair-uniform, head) and the evaluation baselines
// (random, recency window with sinks, SnapKV-style query-aware) share one output: per (layer, kvHead), the
// sorted context indices kept. The system prefix is kept by compaction, outside these sets.
import type { Level } from '../core/choices.ts';
import { PairScores } from './scores.ts';

export type KeepSets = Int32Array[][];

function topIndices(values: Float32Array, k: number): Int32Array {
  const idx = Array.from({ length: values.length }, (_, i) => i);
  idx.sort((a, b) => values[b] - values[a] || a - b);
  return Int32Array.from(idx.slice(0, k)).sort();
}

/** Global top r·N over every layer and head: budgets differ per head, KVzip's default. */
export function selectPair(s: PairScores, ratio: number): KeepSets {
  const total = s.data.length;
  const k = Math.round(ratio * total);
  const keep: number[][][] = Array.from({ length: s.layers }, () => Array.from({ length: s.kvHeads }, () => []));
  if (k > 0) {
    const sorted = Float32Array.from(s.data).sort();
    const threshold = sorted[total - k];
    // Strictly above the threshold first, then ties in position order until the budget is met.
    let above = 0;
    for (let i = 0; i < total; i++) if (s.data[i] > threshold) above++;
    let ties = k - above;
    for (let l = 0; l < s.layers; l++) {
      for (let h = 0; h < s.kvHeads; h++) {
        for (let i = 0; i < s.n; i++) {
          const v = s.at(l, h, i);
          if (v > threshold || (v === threshold && ties-- > 0)) keep[l][h].push(i);
        }
      }
    }
  }
  return keep.map((layer) => layer.map((head) => Int32Array.from(head)));
}

/** Top r·n in every (layer, head). */
export function selectPairUniform(s: PairScores, ratio: number): KeepSets {
  const k = Math.round(ratio * s.n);
  return perHead(s.layers, s.kvHeads, (l, h) => topIndices(s.data.subarray((l * s.kvHeads + h) * s.n, (l * s.kvHeads + h + 1) * s.n), k));
}

/** Whole heads kept or dropped by context-independent head scores [L*Hkv]. */
export function selectHeads(headScores: Float32Array, layers: number, kvHeads: number, n: number, ratio: number): KeepSets {
  const kept = new Set(topIndices(headScores, Math.round(ratio * layers * kvHeads)));
  const all = Int32Array.from({ length: n }, (_, i) => i);
  return perHead(layers, kvHeads, (l, h) => (kept.has(l * kvHeads + h) ? all : new Int32Array(0)));
}

/** A head's score for `head` selection: the max of its pair scores on a sample context. */
export function headScoresOf(s: PairScores): Float32Array {
  const out = new Float32Array(s.layers * s.kvHeads);
  for (let j = 0; j < out.length; j++) {
    let m = 0;
    for (let i = 0; i < s.n; i++) m = Math.max(m, s.data[j * s.n + i]);
    out[j] = m;
  }
  return out;
}

/** What a level's selection needs besides the scores: a fresh build's inputs, or a refresh's earlier build. */
export type LevelBasis =
  /** Head scores are context-independent: computed once per model and stored with it (level head only). */
  | { headScores?: () => Float32Array }
  /**
   * A refresh's suffix follows the earlier build's rule so its selection agrees with the prefix's: pair keeps
   * what passes the earlier global threshold, head keeps the heads kept before.
   */
  | { earlier: { threshold: number; keptHead: (l: number, h: number) => boolean } };

/** The one dispatch over KVzip's levels. */
export function selectLevel(level: Level, s: PairScores, ratio: number, basis: LevelBasis): KeepSets {
  if (ratio >= 1) return keepAll(s.layers, s.kvHeads, s.n);
  switch (level) {
    case 'pair':
      return 'earlier' in basis ? selectAbove(s, basis.earlier.threshold) : selectPair(s, ratio);
    case 'pair-uniform':
      return selectPairUniform(s, ratio);
    case 'head': {
      if (!('earlier' in basis)) {
        if (!basis.headScores) throw new Error("internal: head level needs the model's head scores");
        return selectHeads(basis.headScores(), s.layers, s.kvHeads, s.n, ratio);
      }
      const { keptHead } = basis.earlier;
      const all = Int32Array.from({ length: s.n }, (_, i) => i);
      return perHead(s.layers, s.kvHeads, (l, h) => (keptHead(l, h) ? all : new Int32Array(0)));
    }
  }
}

/** Every pair at or above `threshold`. */
function selectAbove(s: PairScores, threshold: number): KeepSets {
  return perHead(s.layers, s.kvHeads, (l, h) => Int32Array.from({ length: s.n }, (_, i) => i).filter((i) => s.at(l, h, i) >= threshold));
}

export function keepAll(layers: number, kvHeads: number, n: number): KeepSets {
  const all = Int32Array.from({ length: n }, (_, i) => i);
  return perHead(layers, kvHeads, () => all);
}

/** The lowest score among kept pairs: the global threshold pair selection applied (0 when nothing is kept). */
export function lowestKept(s: PairScores, keep: KeepSets): number {
  let t = Infinity;
  keep.forEach((layer, l) => layer.forEach((head, h) => head.forEach((i) => (t = Math.min(t, s.at(l, h, i))))));
  return Number.isFinite(t) ? t : 0;
}

/** Baseline: uniformly random pairs, r·N in all. */
export function selectRandom(layers: number, kvHeads: number, n: number, ratio: number, seed: number): KeepSets {
  let a = seed >>> 0 || 1;
  const rand = () => (a = (Math.imul(a, 1664525) + 1013904223) >>> 0) / 4294967296;
  const s = new PairScores(layers, kvHeads, n);
  for (let i = 0; i < s.data.length; i++) s.data[i] = rand();
  return selectPair(s, ratio);
}

/** Baseline (StreamingLLM): the first `sinks` context tokens plus the most recent ones, r·n per head. */
export function selectRecency(layers: number, kvHeads: number, n: number, ratio: number, sinks: number): KeepSets {
  const k = Math.round(ratio * n);
  const first = Math.min(sinks, k);
  const idx = Int32Array.from(
    new Set([...Array.from({ length: first }, (_, i) => i), ...Array.from({ length: k - first }, (_, i) => n - (k - first) + i)]),
  );
  return perHead(layers, kvHeads, () => idx);
}

/**
 * Baseline (SnapKV): attention of one question's tokens over the context, max-pooled over a window of
 * neighbouring keys, top r·n per head. Made for one question and then used for others.
 */
export function selectSnapKv(questionScores: PairScores, ratio: number, pool = 7): KeepSets {
  const pooled = new PairScores(questionScores.layers, questionScores.kvHeads, questionScores.n);
  const r = Math.floor(pool / 2);
  const n = questionScores.n;
  for (let j = 0; j < questionScores.layers * questionScores.kvHeads; j++) {
    for (let i = 0; i < n; i++) {
      let m = 0;
      for (let d = Math.max(0, i - r); d <= Math.min(n - 1, i + r); d++) m = Math.max(m, questionScores.data[j * n + d]);
      pooled.data[j * n + i] = m;
    }
  }
  return selectPairUniform(pooled, ratio);
}

function perHead(layers: number, kvHeads: number, f: (l: number, h: number) => Int32Array): KeepSets {
  return Array.from({ length: layers }, (_, l) => Array.from({ length: kvHeads }, (_, h) => f(l, h)));
}

export function keptPairs(keep: KeepSets): number {
  let n = 0;
  for (const layer of keep) for (const head of layer) n += head.length;
  return n;
}
