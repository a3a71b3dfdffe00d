// Percentile bootstrap intervals over questions (or contexts): a statistic recomputed on resamples drawn with
// replacement, inside each stratum (a workspace) so every resample keeps each workspace's share of questions.
import { mulberry32 } from '../../src/runtime/random.ts';

export interface Interval {
  value: number;
  lo: number;
  hi: number;
}

export const BOOTSTRAP_ITERATIONS = 2000;

/**
 * `stat(idx)` on the original indices, and its 2.5th and 97.5th percentiles over resamples of the indices
 * 0..n-1 (within each stratum when `strata[i]` labels index i). Deterministic for a seed.
 */
export function bootstrap(
  n: number,
  stat: (idx: Int32Array) => number,
  o: { strata?: ArrayLike<number | string>; iterations?: number; seed?: number; level?: number } = {},
): Interval {
  const all = Int32Array.from({ length: n }, (_, i) => i);
  const value = stat(all);
  if (n === 0) return { value: NaN, lo: NaN, hi: NaN };
  const groups = new Map<number | string, number[]>();
  for (let i = 0; i < n; i++) {
    const key = o.strata ? o.strata[i]! : 0;
    const list = groups.get(key);
    if (list) list.push(i);
    else groups.set(key, [i]);
  }
  const random = mulberry32(o.seed ?? 1);
  const iterations = o.iterations ?? BOOTSTRAP_ITERATIONS;
  const values: number[] = [];
  const idx = new Int32Array(n);
  for (let it = 0; it < iterations; it++) {
    let k = 0;
    for (const list of groups.values()) for (let j = 0; j < list.length; j++) idx[k++] = list[Math.floor(random() * list.length)]!;
    const v = stat(idx);
    if (Number.isFinite(v)) values.push(v);
  }
  values.sort((a, b) => a - b);
  const alpha = (1 - (o.level ?? 0.95)) / 2;
  const at = (q: number) => values[Math.min(values.length - 1, Math.max(0, Math.floor(q * values.length)))] ?? NaN;
  return { value, lo: at(alpha), hi: at(1 - alpha) };
}

/** The mean of `xs` (0/1 outcomes give an accuracy) with its interval. */
export function meanInterval(xs: ArrayLike<number>, o: Parameters<typeof bootstrap>[2] = {}): Interval {
  return bootstrap(xs.length, (idx) => meanAt(xs, idx), o);
}

/** mean(a) − mean(b) over the same questions (paired), with its interval. */
export function pairedDifference(a: ArrayLike<number>, b: ArrayLike<number>, o: Parameters<typeof bootstrap>[2] = {}): Interval {
  return bootstrap(a.length, (idx) => meanAt(a, idx) - meanAt(b, idx), o);
}

/** mean(a) / mean(b) over the same questions (a compressed cache's share of the full cache's accuracy). */
export function pairedRatio(a: ArrayLike<number>, b: ArrayLike<number>, o: Parameters<typeof bootstrap>[2] = {}): Interval {
  return bootstrap(a.length, (idx) => meanAt(a, idx) / meanAt(b, idx), o);
}

function meanAt(xs: ArrayLike<number>, idx: Int32Array): number {
  let s = 0;
  for (const i of idx) s += xs[i]!;
  return s / idx.length;
}
