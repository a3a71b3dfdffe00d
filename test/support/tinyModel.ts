// Writes tiny, randomly initialised Hugging Face checkpoint folders (config.json, safetensors, tokenizer files)
// for every architecture variant the engine supports. Weights come from a seeded PRNG, so a folder is the same
// on every run. Scales keep activations well-conditioned: attention is neither uniform nor one-hot, so rope and
// GQA mistakes show up as large logit differences.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseModelSpec, type ModelSpec } from '../../src/model/config.ts';
import type { SafetensorsDtype } from '../../src/model/safetensors.ts';
import { requiredWeights } from '../../src/model/weights.ts';
import { mulberry32 } from '../../src/runtime/random.ts';
import { writeSafetensors, writeShardedSafetensors, type TensorData } from './safetensorsWriter.ts';

export type Architecture = ModelSpec['architecture'];

export interface TinyModelOptions {
  architecture?: Architecture;
  hiddenSize?: number;
  intermediateSize?: number;
  numLayers?: number;
  numHeads?: number;
  numKvHeads?: number;
  /** Written to config.json only when given (otherwise derived as hidden / heads). */
  headDim?: number;
  vocabSize?: number;
  maxPositions?: number;
  ropeTheta?: number;
  /** The config.json rope_scaling object, verbatim. */
  ropeScaling?: Record<string, unknown>;
  tieWordEmbeddings?: boolean;
  rmsNormEps?: number;
  /** Storage dtype of every tensor. */
  dtype?: SafetensorsDtype;
  /** More than 1 writes a sharded checkpoint with model.safetensors.index.json. */
  shards?: number;
  seed?: number;
  /** Extra or overriding config.json fields, verbatim. */
  config?: Record<string, unknown>;
}

export interface TinyModel {
  dir: string;
  config: Record<string, unknown>;
  spec: ModelSpec;
}

/** Mulberry32 with a Box-Muller normal: deterministic across runs and platforms. */
export function prng(seed: number): { uniform: () => number; normal: () => number } {
  const uniform = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return { uniform, normal };
}

export function tinyConfig(o: TinyModelOptions = {}): Record<string, unknown> {
  const architecture = o.architecture ?? 'LlamaForCausalLM';
  const modelType = { LlamaForCausalLM: 'llama', Qwen2ForCausalLM: 'qwen2', Qwen3ForCausalLM: 'qwen3', MistralForCausalLM: 'mistral' }[
    architecture
  ];
  const config: Record<string, unknown> = {
    architectures: [architecture],
    model_type: modelType,
    hidden_size: o.hiddenSize ?? 64,
    intermediate_size: o.intermediateSize ?? 96,
    num_hidden_layers: o.numLayers ?? 2,
    num_attention_heads: o.numHeads ?? 8,
    num_key_value_heads: o.numKvHeads ?? 4,
    vocab_size: o.vocabSize ?? 512,
    max_position_embeddings: o.maxPositions ?? 256,
    rms_norm_eps: o.rmsNormEps ?? 1e-6,
    rope_theta: o.ropeTheta ?? 10000,
    tie_word_embeddings: o.tieWordEmbeddings ?? false,
    hidden_act: 'silu',
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'float32',
  };
  if (o.headDim !== undefined) config.head_dim = o.headDim;
  if (o.ropeScaling !== undefined) config.rope_scaling = o.ropeScaling;
  return { ...config, ...o.config };
}

/** Random tensors for every weight the spec needs, at scales that keep the forward pass well-conditioned. */
export function randomWeights(spec: ModelSpec, seed: number, dtype: SafetensorsDtype = 'F32'): TensorData[] {
  const rnd = prng(seed);
  return requiredWeights(spec).map(({ name, shape }) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (name.endsWith('norm.weight')) {
      // Norm gains near 1, not exactly 1, so a skipped or misplaced norm is visible.
      for (let i = 0; i < n; i++) data[i] = 1 + 0.1 * rnd.normal();
    } else {
      const std = name.includes('embed_tokens') || name === 'lm_head.weight' ? 0.5 : name.endsWith('.bias') ? 0.1 : 0.08;
      for (let i = 0; i < n; i++) data[i] = std * rnd.normal();
    }
    return { name, shape, data, dtype };
  });
}

/** A tiny valid tokenizer: printable ASCII characters as tokens, no merges, BOS added per tokenizer_config. */
export function tinyTokenizerFiles(vocabSize: number): { tokenizer: object; tokenizerConfig: object } {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let c = 32; c < 127 && Object.keys(vocab).length < vocabSize; c++) vocab[String.fromCharCode(c)] = Object.keys(vocab).length;
  const special = (id: number, content: string) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  return {
    tokenizer: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: { type: 'Fuse' },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: '<unk>',
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        vocab,
        merges: [],
      },
    },
    tokenizerConfig: {
      bos_token: '<s>',
      eos_token: '</s>',
      unk_token: '<unk>',
      add_bos_token: true,
      add_eos_token: false,
      clean_up_tokenization_spaces: false,
    },
  };
}

/** Writes a complete checkpoint folder into `dir` (created if needed). */
export function writeTinyModel(dir: string, o: TinyModelOptions = {}): TinyModel {
  mkdirSync(dir, { recursive: true });
  const config = tinyConfig(o);
  const spec = parseModelSpec(config);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const tensors = randomWeights(spec, o.seed ?? 1, o.dtype);
  if ((o.shards ?? 1) > 1) writeShardedSafetensors(dir, tensors, o.shards!);
  else writeSafetensors(join(dir, 'model.safetensors'), tensors);
  const tok = tinyTokenizerFiles(spec.vocabSize);
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tok.tokenizer));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tok.tokenizerConfig));
  return { dir, config, spec };
}
