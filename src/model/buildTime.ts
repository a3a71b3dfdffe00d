// Build time estimate on the CPU, before anything is loaded: prefill is a term linear in the context (the
// weights' matrix products) plus a quadratic one (attention), and KVzip scoring costs about 1.9 prefills.
// Both terms are fitted to the engine bench's CPU prefill times for the Qwen2.5-0.5B shape in fp32
// (bench/results/engine.json, 2 cores: 4.3 s at 1K, 20.8 s at 4K, 52.3 s at 8K; the fit gives 21.1 s at 4K)
// and scaled to another shape by its linear parameters and its layers x heads x head size. A machine with
// more or faster cores is faster; the estimate says which machine it was fitted on.
import { parameterCounts, type ModelShape } from './presets.ts';

/** Seconds per context token per linear parameter, and per token² per (layer x head x head size). */
const LINEAR_S = 3.93e-3 / 357_826_560;
const ATTENTION_S = 3.0e-7 / (24 * 14 * 64);
/** KVzip's scoring pass over prefill (bench/results/engine.json: 1.95 at 2K, 1.85 at 8K). */
const SCORE_OVER_PREFILL = 1.9;

export const BUILD_TIME_BASIS = 'CPU, fp32, fitted on the 2-core reference machine (bench/results/engine.json)';

export function estimateBuildSeconds(shape: ModelShape, tokens: number): number {
  const linear = parameterCounts(shape).linear;
  const attention = shape.numLayers * shape.numHeads * shape.headDim;
  const prefill = LINEAR_S * linear * tokens + ATTENTION_S * attention * tokens * tokens;
  return prefill * (1 + SCORE_OVER_PREFILL);
}
