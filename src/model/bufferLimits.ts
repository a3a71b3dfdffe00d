// The WebGPU side of the memory check. An adapter does not say how much memory it has free, but it does say how
// large one buffer may be (maxBufferSize) and how much of it one shader may bind (maxStorageBufferBindingSize):
// every tensor of a run must fit both. The largest ones are the KV of one layer, the embedding table (and an
// untied LM head; int4 packs both), and the KVzip score branch's working tensor; a build that would pass a limit
// is refused before it prepares or prefills, with what would fit instead.
import { estimateMemory, formatBytes, kvBytes, SAFETY, type WeightFormat } from './memory.ts';
import { INT4_TABLE_BLOCK } from './int4.ts';
import type { ModelShape } from './presets.ts';

export interface BufferLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
}

export interface LimitsInput {
  shape: ModelShape;
  weights: WeightFormat;
  /** Bytes per float element on the adapter: 2 with shader-f16, else 4. */
  floatBytes: 2 | 4;
  contextTokens: number;
  /** KVzip's longest scoring chunk; without it the build does not score (ratio 1). */
  scoreChunkTokens?: number;
}

export interface TensorSize {
  what: string;
  bytes: number;
}

/** A typical repeat prompt in front of a scoring chunk, as in memory.ts. */
const PROMPT_TOKENS = 24;

/** The largest single tensors of a build, largest first. */
export function largestTensors(input: LimitsInput): TensorSize[] {
  const { shape: s, floatBytes: fb, contextTokens: n } = input;
  const m = input.scoreChunkTokens === undefined ? 0 : Math.min(input.scoreChunkTokens, n) + PROMPT_TOKENS;
  // An int4 table's largest buffer is its packed codes, half a byte per weight in blocks of INT4_TABLE_BLOCK.
  const table =
    input.weights === 'int4'
      ? s.vocabSize * Math.ceil(s.hiddenSize / INT4_TABLE_BLOCK) * (INT4_TABLE_BLOCK / 2)
      : s.vocabSize * s.hiddenSize * fb;
  const tensors: TensorSize[] = [
    // One layer's K (or V): [1, kvHeads, tokens, headDim]; a scoring pass's present holds the repeat input too.
    { what: `the KV cache of one layer at ${n + m} tokens`, bytes: kvBytes(s, n + m, fb) / (2 * s.numLayers) },
    { what: 'the embedding table', bytes: table },
  ];
  if (!s.tieWordEmbeddings) tensors.push({ what: 'the LM head', bytes: table });
  // The score branch's logits over [system prefix ++ chunk ++ own keys] for every query head, in fp32.
  if (m) tensors.push({ what: `the scoring pass's attention over a ${m}-token repeat input`, bytes: s.numHeads * m * 2 * m * 4 });
  return tensors.sort((a, b) => b.bytes - a.bytes);
}

export type LimitsProposal =
  | { kind: 'context'; contextTokens: number }
  | { kind: 'int4' }
  | { kind: 'cpu'; weights: WeightFormat; totalBytes: number; availableBytes: number };

export interface LimitsVerdict {
  fits: boolean;
  /** The smaller of the two limits: what one tensor may take. */
  limitBytes: number;
  largest: TensorSize;
  message: string;
  proposals: LimitsProposal[];
}

function firstOver(input: LimitsInput, limit: number): TensorSize | undefined {
  return largestTensors(input).find((t) => t.bytes > limit);
}

/** Largest multiple of 1024 tokens (at least `min`) whose tensors all fit, or undefined. */
function largestContext(input: LimitsInput, limit: number, min: number): number | undefined {
  let lo = Math.ceil(min / 1024);
  let hi = Math.floor(input.contextTokens / 1024);
  if (hi < lo || firstOver({ ...input, contextTokens: lo * 1024 }, limit)) return undefined;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (firstOver({ ...input, contextTokens: mid * 1024 }, limit)) hi = mid - 1;
    else lo = mid;
  }
  return lo * 1024;
}

export function bufferLimitsVerdict(
  input: LimitsInput & { limits: BufferLimits; adapterName: string; cpuAvailableBytes: number; minContextTokens?: number },
): LimitsVerdict {
  const limit = Math.min(input.limits.maxBufferSize, input.limits.maxStorageBufferBindingSize);
  const largest = largestTensors(input)[0]!;
  const over = firstOver(input, limit);
  const binds = `${input.adapterName} binds at most ${formatBytes(limit)} per buffer (maxBufferSize ${formatBytes(input.limits.maxBufferSize)}, maxStorageBufferBindingSize ${formatBytes(input.limits.maxStorageBufferBindingSize)})`;
  if (!over)
    return {
      fits: true,
      limitBytes: limit,
      largest,
      proposals: [],
      message: `The largest tensor, ${largest.what}, takes ${formatBytes(largest.bytes)}; ${binds}.`,
    };
  const proposals: LimitsProposal[] = [];
  const ctx = largestContext(input, limit, input.minContextTokens ?? 2048);
  if (ctx !== undefined) proposals.push({ kind: 'context', contextTokens: ctx });
  if (input.weights !== 'int4' && !firstOver({ ...input, weights: 'int4' }, limit)) proposals.push({ kind: 'int4' });
  const weights: WeightFormat = input.weights === 'fp16' ? 'fp32' : input.weights;
  const cpu = estimateMemory({
    shape: input.shape,
    device: 'cpu',
    weights,
    contextTokens: input.contextTokens,
    scoreChunkTokens: input.scoreChunkTokens,
  });
  if (cpu.totalBytes <= input.cpuAvailableBytes * SAFETY)
    proposals.push({ kind: 'cpu', weights, totalBytes: cpu.totalBytes, availableBytes: input.cpuAvailableBytes });
  const options = proposals.map((p) => {
    switch (p.kind) {
      case 'context':
        return `a context of ${p.contextTokens} tokens`;
      case 'int4':
        return 'int4 weights';
      case 'cpu':
        return `the CPU with ${p.weights} weights (--device cpu: ${formatBytes(p.totalBytes)} of ${formatBytes(p.availableBytes)} free RAM)`;
    }
  });
  const message =
    `Too large for this GPU: ${over.what} would take ${formatBytes(over.bytes)} at ${input.contextTokens} tokens, but ${binds}.` +
    (options.length ? ` Try ${options.join(', or ')}.` : ' No smaller setting fits: choose a smaller model.');
  return { fits: false, limitBytes: limit, largest, message, proposals };
}
