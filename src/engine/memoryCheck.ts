// The memory check, per device, before the weights are prepared and again before a context is prefilled: the CPU
// against free RAM, CUDA against the driver's free memory, WebGPU against the adapter's buffer limits (an adapter
// does not tell its free memory). What would not fit is refused with numbers and what to try instead.
import { freemem } from 'node:os';
import type { Backend, Scoring } from '../core/choices.ts';
import { UserError } from '../core/errors.ts';
import { bufferLimitsVerdict } from '../model/bufferLimits.ts';
import { memoryVerdict } from '../model/memory.ts';
import type { ModelShape } from '../model/presets.ts';
import { cudaFreeBytes } from '../runtime/cudaProvider.ts';
import { prefillChunk } from '../runtime/traffic.ts';
import { adapterName, type WebGpuAdapter } from '../runtime/webgpu.ts';

export interface FitInput {
  shape: ModelShape;
  device: Backend;
  adapter?: WebGpuAdapter;
  dtype: 'fp32' | 'fp16';
  int4: boolean;
  contextTokens: number;
  /** KVzip's longest scoring chunk (the build scores), or undefined (it does not). */
  scoreChunkTokens?: number;
  /** How the build scores: a local repeat pass attends over its chunk, not the whole context. */
  scoring?: Scoring;
  /** The prepared weights' bytes where the shape does not decide them (a GGUF's own blocks). */
  preparedWeightsBytes?: number;
}

/**
 * Throws a UserError (code 'memory') when the run would not fit. Returns the estimate of the bytes it needs where
 * there is one (not on WebGPU, nor on CUDA when nvidia-smi cannot tell the free memory).
 */
export function checkFits(i: FitInput): number | undefined {
  const weights = i.int4 ? 'int4' : i.dtype;
  if (i.device === 'webgpu') {
    if (!i.adapter) return undefined;
    const v = bufferLimitsVerdict({
      shape: i.shape,
      weights,
      floatBytes: i.dtype === 'fp16' ? 2 : 4,
      contextTokens: i.contextTokens,
      scoreChunkTokens: i.scoreChunkTokens,
      limits: i.adapter,
      adapterName: adapterName(i.adapter),
      cpuAvailableBytes: freemem(),
    });
    if (!v.fits) throw new UserError(v.message, 'memory');
    return undefined;
  }
  const availableBytes = i.device === 'cuda' ? cudaFreeBytes() : undefined;
  if (i.device === 'cuda' && availableBytes === undefined) return undefined;
  const v = memoryVerdict({
    shape: i.shape,
    device: i.device,
    weights,
    contextTokens: i.contextTokens,
    chunkTokens: prefillChunk(i.device, i.contextTokens),
    scoreChunkTokens: i.scoreChunkTokens,
    scoring: i.scoring,
    preparedWeightsBytes: i.preparedWeightsBytes,
    availableBytes,
  });
  if (!v.fits) throw new UserError(v.message, 'memory');
  return v.estimate.totalBytes;
}
