// Build time estimate on the CPU, before anything is loaded: prefill is a term linear in the context (the
// weights' matrix products) plus a quadratic one (attention); KVzip scoring repeats the linear term and pays for
// the attention pairs its repeat passes read, which depend on the scoring level.
// The terms are fitted to the engine bench's CPU times for the Qwen2.5-0.5B shape in fp32
// (bench/results/engine.json, 2 cores: prefill 4.3 s at 1K, 20.8 s at 4K, 52.3 s at 8K, the fit giving 21.1 s
// at 4K; scoring 1.39-1.53 prefills at 2K, 1.71-2.1 exact and 0.99-1.01 local at 8K) and scaled to another shape by
// its linear parameters and its layers x heads x head size. A machine with more or faster cores is faster; the
// estimate says which machine it was fitted on.
import { parameterCounts, type ModelShape } from './presets.ts';
import type { Scoring } from '../core/choices.ts';

/** Seconds per context token per linear parameter, and per token² per (layer x head x head size). */
const LINEAR_S = 3.93e-3 / 357_826_560;
const ATTENTION_S = 3.0e-7 / (24 * 14 * 64);
/** A scoring pass's explicit attention, per query-key pair: about 3× the prefill's fused attention per pair. */
const SCORING_PAIR_S = 3 * ATTENTION_S;

export const BUILD_TIME_BASIS = 'CPU, fp32, fitted on the 2-core reference machine (bench/results/engine.json)';

/**
 * Prefill plus KVzip scoring of `tokens` in chunks of m. Exact repeat passes read the whole cache and half their
 * own chunk, N·(N + m/2) pairs; local ones their chunk once and half again, N·1.5m.
 */
export function estimateBuildSeconds(shape: ModelShape, tokens: number, scoring: Scoring, chunk: number): number {
  const { prefill, score } = estimateBuildParts(shape, tokens, scoring, chunk);
  return prefill + score;
}

/** The same estimate split into its prefill and its scoring, which a build reports as two phases. */
export function estimateBuildParts(shape: ModelShape, tokens: number, scoring: Scoring, chunk: number): { prefill: number; score: number } {
  const linear = LINEAR_S * parameterCounts(shape).linear * tokens;
  const attention = shape.numLayers * shape.numHeads * shape.headDim;
  const m = Math.min(chunk, tokens);
  const pairs = scoring === 'exact' ? tokens * (tokens + m / 2) : tokens * 1.5 * m;
  return { prefill: linear + ATTENTION_S * attention * tokens * tokens, score: linear + SCORING_PAIR_S * attention * pairs };
}
