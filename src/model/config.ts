// config.json → the architecture spec every graph and reference is built from.
import { join } from 'node:path';
import { ModelError, readModelJson } from './errors.ts';

export type RopeScaling =
  | { type: 'none' }
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number }
  | {
      type: 'yarn';
      factor: number;
      originalMaxPositions: number;
      betaFast: number;
      betaSlow: number;
      attentionFactor: number;
    };

export interface ModelSpec {
  architecture: 'LlamaForCausalLM' | 'Qwen2ForCausalLM' | 'Qwen3ForCausalLM' | 'MistralForCausalLM';
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  maxPositions: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling;
  tieWordEmbeddings: boolean;
  qkvBias: boolean;
  oBias: boolean;
  mlpBias: boolean;
  qkNorm: boolean;
  bosTokenId?: number;
  eosTokenIds: number[];
  /** Sliding-window models attend over at most this many keys; contexts are capped to it. */
  slidingWindow?: number;
}

const SUPPORTED = ['LlamaForCausalLM', 'Qwen2ForCausalLM', 'Qwen3ForCausalLM', 'MistralForCausalLM'] as const;

export function loadModelSpec(dir: string): ModelSpec {
  const file = join(dir, 'config.json');
  const raw = readModelJson(file, 'Point --model at a Hugging Face checkpoint folder that holds config.json');
  return parseModelSpec(raw, file);
}

export function parseModelSpec(raw: unknown, file = 'config.json'): ModelSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ModelError(file, 'is not a JSON object', 'Download the file again');
  }
  const c = raw as Record<string, unknown>;
  const archs = c.architectures;
  const arch = Array.isArray(archs) ? archs[0] : undefined;
  if (!SUPPORTED.includes(arch as (typeof SUPPORTED)[number])) {
    throw new ModelError(
      file,
      `architecture ${JSON.stringify(arch ?? null)} is not supported`,
      `Use a model whose architecture is one of ${SUPPORTED.join(', ')}`,
    );
  }
  const num = (key: string, fallback?: number): number => {
    const v = c[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new ModelError(file, `field "${key}" is missing`, 'Download the file again or fix the field');
    }
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new ModelError(file, `field "${key}" must be a positive number, got ${JSON.stringify(v)}`, 'Fix the field');
    }
    return v;
  };
  const int = (key: string, fallback?: number): number => {
    const v = num(key, fallback);
    if (!Number.isInteger(v)) throw new ModelError(file, `field "${key}" must be an integer, got ${v}`, 'Fix the field');
    return v;
  };

  const act = c.hidden_act ?? c.hidden_activation ?? 'silu';
  if (act !== 'silu') {
    throw new ModelError(file, `hidden_act "${String(act)}" is not supported`, 'Only SiLU-gated MLPs are supported');
  }
  for (const key of ['quantization_config', 'partial_rotary_factor'] as const) {
    if (c[key] !== undefined && !(key === 'partial_rotary_factor' && c[key] === 1)) {
      throw new ModelError(file, `field "${key}" is not supported`, 'Use an unquantized checkpoint with full rotary embeddings');
    }
  }

  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  const numKvHeads = int('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new ModelError(
      file,
      `num_attention_heads (${numHeads}) is not a multiple of num_key_value_heads (${numKvHeads})`,
      'Fix the field',
    );
  }
  const headDim = c.head_dim == null ? hiddenSize / numHeads : int('head_dim');
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw new ModelError(file, `head_dim ${headDim} must be an even integer`, 'Set head_dim explicitly');
  }
  const maxPositions = int('max_position_embeddings', 4096);
  const architecture = arch as ModelSpec['architecture'];
  const eos = c.eos_token_id;
  const eosTokenIds = Array.isArray(eos) ? eos.filter((x): x is number => typeof x === 'number') : typeof eos === 'number' ? [eos] : [];
  const sliding =
    (architecture === 'MistralForCausalLM' || c.use_sliding_window === true) && typeof c.sliding_window === 'number'
      ? c.sliding_window
      : undefined;

  return {
    architecture,
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    numLayers: int('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    vocabSize: int('vocab_size'),
    maxPositions,
    rmsNormEps: num('rms_norm_eps', 1e-6),
    ropeTheta: num('rope_theta', 10000),
    ropeScaling: parseRopeScaling(c.rope_scaling, maxPositions, file),
    tieWordEmbeddings: c.tie_word_embeddings === true,
    qkvBias: architecture === 'Qwen2ForCausalLM' || c.attention_bias === true,
    oBias: architecture !== 'Qwen2ForCausalLM' && c.attention_bias === true,
    mlpBias: c.mlp_bias === true,
    qkNorm: architecture === 'Qwen3ForCausalLM',
    bosTokenId: typeof c.bos_token_id === 'number' ? c.bos_token_id : undefined,
    eosTokenIds,
    slidingWindow: sliding,
  };
}

function parseRopeScaling(raw: unknown, maxPositions: number, file: string): RopeScaling {
  if (raw === undefined || raw === null) return { type: 'none' };
  if (typeof raw !== 'object') throw new ModelError(file, 'rope_scaling must be an object', 'Fix the field');
  const r = raw as Record<string, unknown>;
  const type = r.rope_type ?? r.type;
  const factor = typeof r.factor === 'number' ? r.factor : NaN;
  const needFactor = () => {
    if (!(factor > 0)) throw new ModelError(file, `rope_scaling.factor must be a positive number`, 'Fix the field');
  };
  switch (type) {
    case 'default':
      return { type: 'none' };
    case 'linear':
      needFactor();
      return { type: 'linear', factor };
    case 'llama3':
      needFactor();
      return {
        type: 'llama3',
        factor,
        lowFreqFactor: typeof r.low_freq_factor === 'number' ? r.low_freq_factor : 1,
        highFreqFactor: typeof r.high_freq_factor === 'number' ? r.high_freq_factor : 4,
        originalMaxPositions: typeof r.original_max_position_embeddings === 'number' ? r.original_max_position_embeddings : 8192,
      };
    case 'yarn': {
      needFactor();
      const mscale = (scale: number, m = 1) => (scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1);
      const attentionFactor =
        typeof r.attention_factor === 'number'
          ? r.attention_factor
          : typeof r.mscale === 'number' && typeof r.mscale_all_dim === 'number'
            ? mscale(factor, r.mscale) / mscale(factor, r.mscale_all_dim)
            : mscale(factor);
      return {
        type: 'yarn',
        factor,
        originalMaxPositions: typeof r.original_max_position_embeddings === 'number' ? r.original_max_position_embeddings : maxPositions,
        betaFast: typeof r.beta_fast === 'number' ? r.beta_fast : 32,
        betaSlow: typeof r.beta_slow === 'number' ? r.beta_slow : 1,
        attentionFactor,
      };
    }
    default:
      throw new ModelError(file, `rope_scaling type ${JSON.stringify(type)} is not supported`, 'Supported: linear, llama3, yarn');
  }
}

/** Positions the model can attend over: its trained window, or the sliding window when that is shorter. */
export function attentionWindow(spec: ModelSpec): number {
  return Math.min(spec.maxPositions, spec.slidingWindow ?? Infinity);
}
