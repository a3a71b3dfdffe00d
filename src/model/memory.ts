// Memory estimate before preparing or prefilling, and a verdict with concrete alternatives, so a run that cannot
// fit is refused up front instead of dying half-way.
import { freemem } from 'node:os';
import type { Scoring } from '../core/choices.ts';
import { INT4_TABLE_BLOCK } from './int4.ts';
import { HUB_PRESETS, parameterCounts, type HubPreset, type ModelShape } from './presets.ts';

export type WeightFormat = 'fp32' | 'fp16' | 'int4';
export type MemoryDevice = 'cpu' | 'cuda';

export interface EstimateInput {
  shape: ModelShape;
  device: MemoryDevice;
  weights: WeightFormat;
  contextTokens: number;
  /** Tokens per prefill chunk. */
  chunkTokens?: number;
  /** KVzip's longest scoring chunk (kvzip/schedule.ts): its repeat pass holds the largest activations of a build. */
  scoreChunkTokens?: number;
  /** Local scoring's repeat passes attend over the prefix and their chunk only (default exact: the whole context). */
  scoring?: Scoring;
  blockSize?: number;
  /** The weights' bytes where the format decides them, not the shape (a GGUF's own blocks as a build holds them: gguf/size.ts). */
  preparedWeightsBytes?: number;
}

export interface MemoryEstimate {
  weightsBytes: number;
  kvBytes: number;
  activationBytes: number;
  runtimeBytes: number;
  totalBytes: number;
}

/** Node, onnxruntime, the tokenizer and the engine's own state; the CUDA context and library workspaces on the GPU. */
const RUNTIME_BYTES: Record<MemoryDevice, number> = { cpu: 160 * 2 ** 20, cuda: 800 * 2 ** 20 };
/**
 * A build's peak per fp32 [heads, m, n + m] probability tensor of its scoring pass. Fitted to CPU builds of the
 * 0.5B shapes (engine process peaks of 4,856 MiB at 7,209 tokens and 5,554 MiB at 11,129, +178 KiB per context
 * token): the blocks' tensors do not all go when their block does, for a reason not isolated here.
 */
const SCORING_PROBS = 1.35;
/**
 * The query blocks a scoring pass works in: each block's probabilities stay in cache (graph/scoringAttention.ts
 * builds its blocks from this).
 */
export const SCORE_QUERY_BLOCKS = 64;

/** A typical repeat prompt in front of a scoring chunk (src/kvzip/schedule.ts allows up to 64). */
const PROMPT_TOKENS = 24;
/** Leave this share of the available memory for the editor, the OS and the page cache. */
export const SAFETY = 0.9;

/** fp32 on the CPU (its EP computes fp16 as fp32 anyway), fp16 on CUDA: activations, KV and float weights. */
export function floatBytes(device: MemoryDevice): number {
  return device === 'cuda' ? 2 : 4;
}

/** Bytes of a [N, K] int4 MatMulNBits weight: packed codes + one scale and half a zero-point byte per block. */
export function int4Bytes(n: number, k: number, blockSize: number, scaleBytes: number): number {
  const blocks = Math.ceil(k / blockSize);
  return n * (blocks * (blockSize / 2) + blocks * scaleBytes + Math.ceil(blocks / 2));
}

export function weightsBytes(shape: ModelShape, device: MemoryDevice, weights: WeightFormat, opts: { blockSize?: number } = {}): number {
  const p = parameterCounts(shape);
  const fb = weights === 'fp32' ? 4 : weights === 'fp16' ? 2 : floatBytes(device);
  if (weights !== 'int4') return p.total * fb;
  const bs = opts.blockSize ?? 32;
  const s = shape;
  const q = s.numHeads * s.headDim;
  const kv = s.numKvHeads * s.headDim;
  // MatMulNBits' scales take A's dtype: fp32 on the CPU, fp16 on CUDA.
  const layer =
    int4Bytes(q, s.hiddenSize, bs, fb) +
    2 * int4Bytes(kv, s.hiddenSize, bs, fb) +
    int4Bytes(s.hiddenSize, q, bs, fb) +
    2 * int4Bytes(s.intermediateSize, s.hiddenSize, bs, fb) +
    int4Bytes(s.hiddenSize, s.intermediateSize, bs, fb);
  // The embedding table is int4 too (a tied head shares it); an untied head is its own int4 table.
  const tables = (p.lmHead ? 2 : 1) * int4Bytes(s.vocabSize, s.hiddenSize, INT4_TABLE_BLOCK, fb);
  return s.numLayers * layer + tables + p.other * fb;
}

/** 2 (K and V) × layers × kvHeads × headDim × tokens × bytes per element. */
export function kvBytes(shape: ModelShape, tokens: number, bytesPerElement: number): number {
  return 2 * shape.numLayers * shape.numKvHeads * shape.headDim * tokens * bytesPerElement;
}

/**
 * The peak of a build: the session's weights, the context's KV, and the larger of the two phases' working sets.
 * Calibrated against measured peak resident sizes (bench/results/engine.json, CLI builds of the 0.5B shapes).
 */
export function estimateMemory(input: EstimateInput): MemoryEstimate {
  const { shape: s, device, contextTokens: n } = input;
  const fb = floatBytes(device);
  const weights = input.preparedWeightsBytes ?? weightsBytes(s, device, input.weights, input);
  const kv = kvBytes(s, n, fb);
  const mlp = (tokens: number) =>
    tokens * (4 * s.hiddenSize + 2 * (s.numHeads + 2 * s.numKvHeads) * s.headDim + 3 * s.intermediateSize) * fb;
  // The CPU's GroupQueryAttention materialises fp32 probabilities [heads, new tokens, all keys]; CUDA's is fused.
  const attention = (tokens: number, keys: number) => (device === 'cpu' ? s.numHeads * tokens * keys * 4 : 0);
  // Prefill: a chunk over the whole past, with past and present KV both alive at the last chunk.
  const c = Math.min(input.chunkTokens ?? 512, n);
  const prefill = kv + attention(c, n) + mlp(c);
  // Scoring: the repeat pass of m tokens attends over all n + m keys in query blocks (graph/scoringAttention.ts),
  // or, scoring locally, over a past of its chunk (and the prefix, within the prompt's allowance).
  // On the CPU its peak measured SCORING_PROBS × one fp32 [heads, m, keys] tensor; CUDA's is unmeasured, and
  // counted as four of a block's fp32 [heads, m / blocks, keys] tensors.
  const m = Math.min(input.scoreChunkTokens ?? 2000, n) + PROMPT_TOKENS;
  const keys = (input.scoring === 'local' ? Math.min(n, m) : n) + m;
  const rows = device === 'cpu' ? SCORING_PROBS * m : 4 * Math.ceil(m / SCORE_QUERY_BLOCKS);
  const probs = rows * s.numHeads * keys * 4;
  const scoring = kvBytes(s, keys, fb) + probs + mlp(m);
  const activation = Math.max(prefill, scoring);
  const runtime = RUNTIME_BYTES[device];
  return {
    weightsBytes: weights,
    kvBytes: kv,
    activationBytes: activation,
    runtimeBytes: runtime,
    totalBytes: weights + kv + activation + runtime,
  };
}

export type Proposal =
  | { kind: 'context'; contextTokens: number; totalBytes: number }
  | { kind: 'int4'; totalBytes: number }
  | { kind: 'model'; presetId: string; label: string; contextTokens: number; totalBytes: number }
  | { kind: 'cpu'; weights: WeightFormat; totalBytes: number; availableBytes: number };

export interface MemoryVerdict {
  fits: boolean;
  estimate: MemoryEstimate;
  availableBytes: number;
  /** Ready for the user: what is needed, what is there, and what to do instead. */
  message: string;
  proposals: Proposal[];
}

export interface VerdictInput extends EstimateInput {
  /** Free memory on the device: defaults to os.freemem() on the CPU; required for CUDA (the caller asks nvidia-smi). */
  availableBytes?: number;
  /** For the 'cpu' proposal when the GPU is too small; defaults to os.freemem(). */
  cpuAvailableBytes?: number;
  /** Smaller models to propose; the built-in presets by default. */
  candidates?: readonly HubPreset[];
  /** Smallest context worth proposing. */
  minContextTokens?: number;
}

export function formatBytes(b: number): string {
  return b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(1)} GiB` : `${Math.round(b / 2 ** 20)} MiB`;
}

/** Largest multiple of 1024 tokens (at least `min`) that fits, or undefined. */
function largestContext(input: EstimateInput, budget: number, min: number): number | undefined {
  let lo = Math.ceil(min / 1024);
  let hi = Math.floor(input.contextTokens / 1024);
  if (hi < lo || estimateMemory({ ...input, contextTokens: lo * 1024 }).totalBytes > budget) return undefined;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (estimateMemory({ ...input, contextTokens: mid * 1024 }).totalBytes <= budget) lo = mid;
    else hi = mid - 1;
  }
  return lo * 1024;
}

export function memoryVerdict(input: VerdictInput): MemoryVerdict {
  let available = input.availableBytes;
  if (available === undefined) {
    if (input.device === 'cuda') throw new Error('memoryVerdict: the free GPU memory must be given for CUDA');
    available = freemem();
  }
  const estimate = estimateMemory(input);
  const budget = available * SAFETY;
  const need = `${formatBytes(estimate.totalBytes)} (weights ${formatBytes(estimate.weightsBytes)}, KV cache ${formatBytes(estimate.kvBytes)} for ${input.contextTokens} tokens, working memory ${formatBytes(estimate.activationBytes + estimate.runtimeBytes)})`;
  const where = input.device === 'cuda' ? 'GPU memory' : 'RAM';
  if (estimate.totalBytes <= budget) {
    return {
      fits: true,
      estimate,
      availableBytes: available,
      proposals: [],
      message: `Needs ${need}; ${formatBytes(available)} of ${where} is free.`,
    };
  }
  const proposals: Proposal[] = [];
  const minCtx = input.minContextTokens ?? 2048;
  const ctx = largestContext(input, budget, minCtx);
  if (ctx !== undefined)
    proposals.push({ kind: 'context', contextTokens: ctx, totalBytes: estimateMemory({ ...input, contextTokens: ctx }).totalBytes });
  if (input.weights !== 'int4' && input.preparedWeightsBytes === undefined) {
    const t = estimateMemory({ ...input, weights: 'int4' }).totalBytes;
    if (t <= budget) proposals.push({ kind: 'int4', totalBytes: t });
  }
  // The largest clearly smaller model (≤ 3/4 of the parameters) that fits is the most useful proposal.
  const myParams = parameterCounts(input.shape).total;
  let best: { preset: HubPreset; params: number; contextTokens: number; totalBytes: number } | undefined;
  for (const p of input.candidates ?? HUB_PRESETS) {
    const params = parameterCounts(p.shape).total;
    if (params > 0.75 * myParams || (best && params <= best.params)) continue;
    const contextTokens = Math.min(input.contextTokens, p.contextWindow);
    const totalBytes = estimateMemory({ ...input, shape: p.shape, contextTokens }).totalBytes;
    if (totalBytes <= budget) best = { preset: p, params, contextTokens, totalBytes };
  }
  if (best)
    proposals.push({
      kind: 'model',
      presetId: best.preset.id,
      label: best.preset.label,
      contextTokens: best.contextTokens,
      totalBytes: best.totalBytes,
    });
  if (input.device === 'cuda') {
    const cpuAvail = input.cpuAvailableBytes ?? freemem();
    const weights: WeightFormat = input.weights === 'fp16' ? 'fp32' : input.weights;
    const t = estimateMemory({ ...input, device: 'cpu', weights }).totalBytes;
    if (t <= cpuAvail * SAFETY) proposals.push({ kind: 'cpu', weights, totalBytes: t, availableBytes: cpuAvail });
  }
  const options = proposals.map((p) => {
    switch (p.kind) {
      case 'context':
        return `a context of ${p.contextTokens} tokens (${formatBytes(p.totalBytes)})`;
      case 'int4':
        return `int4 weights (${formatBytes(p.totalBytes)})`;
      case 'model':
        return `${p.label} (${formatBytes(p.totalBytes)} at ${p.contextTokens} tokens)`;
      case 'cpu':
        return `the CPU with ${p.weights} weights (${formatBytes(p.totalBytes)} of ${formatBytes(p.availableBytes)} free RAM)`;
    }
  });
  const message =
    `Not enough ${where}: needs ${need}, but only ${formatBytes(available)} is free.` +
    (options.length ? ` Try ${options.join(', or ')}.` : ' No smaller setting fits: free memory or choose a smaller model.');
  return { fits: false, estimate, availableBytes: available, proposals, message };
}
