// Which context KV pairs to keep. KVzip's levels (pair, pair-uniform, head) and the evaluation baselines
// (random, recency window with sinks, SnapKV-style query-aware) share one output: per (layer, kvHead), the
// sorted context indices kept. The system prefix is kept by compaction, outside these sets.
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
