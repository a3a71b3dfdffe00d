// How large a prefill chunk is, per device. On CUDA, onnxruntime-node has no IO binding: every run copies its whole
// past KV to the device (the dense graph returns only the new positions). A prefill of N tokens in k equal chunks
// therefore moves Σ KV(i·N/k) in plus KV(N) out = (k+1)/2 × KV(N): the traffic is set by the number of chunks.
// CUDA's chunks grow with the context so there are never more than CUDA_PREFILL_MULTIPLE of them, which bounds a
// prefill's traffic by CUDA_PREFILL_MULTIPLE × the final KV bytes (plus the ids and top logits). The CPU and WebGPU
// keep the KV where the run is, so their chunks stay small (less working memory).
import type { Backend } from '../core/choices.ts';

export const PREFILL_CHUNK = 512;
/** A CUDA prefill moves at most this many times its final KV bytes between host and device. */
export const CUDA_PREFILL_MULTIPLE = 8;

export function prefillChunk(device: Backend, tokens: number): number {
  if (device !== 'cuda') return PREFILL_CHUNK;
  return Math.max(PREFILL_CHUNK, Math.ceil(tokens / CUDA_PREFILL_MULTIPLE));
}
