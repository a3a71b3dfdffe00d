// What a build would cost before anything is loaded: memory (src/model/memory.ts) and, on the CPU in fp32, time
// (src/model/buildTime.ts). Pure, and light enough for the extension's bundle: the preview computes its estimate
// here, and the extension's build confirmation computes the smaller settings it offers with the same inputs.
import { BUILD_TIME_BASIS, estimateBuildSeconds } from '../model/buildTime.ts';
import { estimateMemory, memoryVerdict } from '../model/memory.ts';
import { parameterCounts, type HubPreset, type ModelShape } from '../model/presets.ts';
import { DEFAULT_CHUNK, fittingChunk, longestChunk } from '../kvzip/schedule.ts';
import type { CacheSettings, ContextPreview } from './protocol.ts';

/** Tokens per prefill chunk, as the build runs it. */
const PREFILL_CHUNK = 512;
/** Every preset's repo publishes bf16 safetensors: 2 bytes a parameter (Qwen2.5-Coder-1.5B-Instruct: 3.09 GB). */
const HUB_BYTES_PER_PARAMETER = 2;

/** Bytes of a preset's weights on the Hub, from its shape. */
export function presetDownloadBytes(preset: HubPreset): number {
  return parameterCounts(preset.shape).total * HUB_BYTES_PER_PARAMETER;
}

export type EstimateSettings = Pick<CacheSettings, 'device' | 'int4' | 'scoring'>;

/** The cost of prefilling and scoring `sequenceTokens` (prefix and context) in a model window of `window` positions. */
export function buildEstimate(
  shape: ModelShape,
  sequenceTokens: number,
  window: number,
  s: EstimateSettings,
  /** A GGUF's weights keep the file's own blocks, so their size comes from the file (model/gguf/size.ts). */
  ggufWeightsBytes?: number,
): ContextPreview['estimate'] {
  // 'auto' decides only when the build opens a device: the estimate is the CPU's unless CUDA was asked for.
  const device = s.device === 'cuda' ? 'cuda' : 'cpu';
  const scoreChunk = fittingChunk(DEFAULT_CHUNK, sequenceTokens, window);
  const float = device === 'cuda' ? 'fp16' : 'fp32';
  const weights = ggufWeightsBytes !== undefined ? 'gguf' : s.int4 ? 'int4' : float;
  const input = {
    shape,
    device,
    // A GGUF's own blocks are sized by ggufWeightsBytes; its activations and KV are the device's float dtype.
    weights: weights === 'gguf' ? float : weights,
    contextTokens: sequenceTokens,
    chunkTokens: PREFILL_CHUNK,
    scoreChunkTokens: longestChunk(scoreChunk),
    scoring: s.scoring ?? 'exact',
    preparedWeightsBytes: ggufWeightsBytes,
  } as const;
  if (device === 'cuda') {
    // The GPU's free memory is known only once the engine opens the device.
    return { device, weights, memory: estimateMemory(input), message: 'GPU memory is checked when the build opens the device.' };
  }
  const v = memoryVerdict(input);
  const estimate: ContextPreview['estimate'] = { device, weights, memory: v.estimate, fits: v.fits, message: v.message };
  if (weights === 'fp32') {
    estimate.buildSeconds = estimateBuildSeconds(shape, sequenceTokens, input.scoring, scoreChunk);
    estimate.buildBasis = BUILD_TIME_BASIS;
  }
  return estimate;
}
