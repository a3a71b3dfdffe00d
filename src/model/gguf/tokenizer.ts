// GGUF tokenizer metadata → tokenizer.json and tokenizer_config.json, in the Hugging Face format that
// model/tokenizer.ts loads, so token ids equal llama.cpp's for the same text.
// A GGUF stores only a label for its pre-tokenizer (`tokenizer.ggml.pre`); the regexes it selects are compiled
// into llama.cpp (src/llama-vocab.cpp, llm_tokenizer_bpe), and are repeated here per label.
import { ModelError } from '../errors.ts';
import { metaNumber, metaString, type GgufModel } from './file.ts';

const GPT2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const LLAMA3 =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const QWEN2 =
  "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

interface PreTokenizer {
  /** Applied in order, each splitting the pieces of the one before (llama.cpp's regex_exprs). */
  regexes: string[];
  /** Whole words found in the vocabulary skip the merges (llama.cpp's ignore_merges). */
  ignoreMerges?: boolean;
  /** BOS is added to a plain prompt whatever the file says (llama.cpp forces it for these labels). */
  addBos?: boolean;
}

const PRE: Record<string, PreTokenizer> = {};
const label = (names: string[], p: PreTokenizer) => names.forEach((n) => (PRE[n] = p));
label(['llama3', 'llama-v3', 'llama-bpe', 'falcon3', 'dbrx', 'smaug-bpe'], { regexes: [LLAMA3], ignoreMerges: true, addBos: true });
label(['qwen2', 'deepseek-r1-qwen', 'stablelm2'], { regexes: [QWEN2] });
label(['smollm', 'starcoder', 'refact', 'command-r', 'codeshell', 'exaone', 'minerva'], { regexes: ['\\p{N}', GPT2] });
label(['gpt-2', 'phi-2', 'mpt', 'olmo', 'jais'], { regexes: [GPT2] });
label(['deepseek-coder'], { regexes: ['[\r\n]', '\\s?\\p{L}+', '\\s?\\p{P}+', '[一-龥ࠀ-一가-퟿]+', '\\p{N}'] });
label(['default'], { regexes: ['[\\p{P}\\$\\+<=>\\^~\\|]+', GPT2, '\\p{N}+', '[0-9][0-9][0-9]'] });

/** GGUF token types (llama.cpp's llama_token_type). */
const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export interface TokenizerFiles {
  tokenizerJson: object;
  tokenizerConfig: object;
}

export function ggufTokenizer(model: GgufModel): TokenizerFiles {
  const file = model.files[0]!;
  const m = model.metadata;
  const kind = metaString(m, 'tokenizer.ggml.model');
  const tokens = m['tokenizer.ggml.tokens'];
  if (!Array.isArray(tokens) || tokens.some((t) => typeof t !== 'string')) {
    throw new ModelError(file, 'holds no tokenizer (tokenizer.ggml.tokens)', 'Use a GGUF converted with its tokenizer');
  }
  const vocab = tokens as string[];
  const types = Array.isArray(m['tokenizer.ggml.token_type']) ? (m['tokenizer.ggml.token_type'] as number[]) : [];
  const typeOf = (id: number) => types[id] ?? TOKEN_TYPE.normal;
  let json: Record<string, unknown>;
  let addBos: boolean;
  if (kind === 'gpt2') {
    const preName = metaString(m, 'tokenizer.ggml.pre') ?? 'default';
    const pre = PRE[preName];
    if (!pre) {
      throw new ModelError(
        file,
        `uses the pre-tokenizer "${preName}", which KVzip Code does not know`,
        `Use a model whose tokenizer.ggml.pre is one of: ${Object.keys(PRE).join(', ')}`,
      );
    }
    json = bpeTokenizer(vocab, merges(m, file), pre);
    addBos = pre.addBos ?? m['tokenizer.ggml.add_bos_token'] === true;
  } else if (kind === 'llama') {
    json = sentencePieceTokenizer(
      vocab,
      m['tokenizer.ggml.scores'] as number[] | undefined,
      typeOf,
      m['tokenizer.ggml.add_space_prefix'] !== false,
      file,
    );
    addBos = m['tokenizer.ggml.add_bos_token'] !== false;
  } else {
    throw new ModelError(
      file,
      `has a "${kind ?? 'missing'}" tokenizer`,
      'Use a model with a BPE (gpt2) or SentencePiece (llama) tokenizer',
    );
  }
  // Control tokens are special (the chat template's own); user-defined ones match in any text, as in llama.cpp.
  json.added_tokens = vocab.flatMap((content, id) =>
    typeOf(id) === TOKEN_TYPE.control || typeOf(id) === TOKEN_TYPE.userDefined
      ? [{ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: typeOf(id) === TOKEN_TYPE.control }]
      : [],
  );
  const tokenAt = (key: string) => {
    const id = metaNumber(m, key);
    return id !== undefined && id < vocab.length ? vocab[id] : undefined;
  };
  return {
    tokenizerJson: json,
    tokenizerConfig: {
      add_bos_token: addBos,
      bos_token: tokenAt('tokenizer.ggml.bos_token_id') ?? null,
      eos_token: tokenAt('tokenizer.ggml.eos_token_id') ?? null,
      chat_template: metaString(m, 'tokenizer.chat_template'),
      clean_up_tokenization_spaces: false,
    },
  };
}

function merges(m: GgufModel['metadata'], file: string): string[] {
  const list = m['tokenizer.ggml.merges'];
  if (!Array.isArray(list)) throw new ModelError(file, 'holds a BPE tokenizer without merges', 'Download the file again');
  return list as string[];
}

function bpeTokenizer(vocab: string[], mergeList: string[], pre: PreTokenizer): Record<string, unknown> {
  return {
    version: '1.0',
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        ...pre.regexes.map((r) => ({ type: 'Split', pattern: { Regex: r }, behavior: 'Isolated', invert: false })),
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
      ],
    },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: pre.ignoreMerges ?? false,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
      merges: mergeList,
    },
  };
}

/**
 * A SentencePiece vocabulary as BPE with byte fallback, as Hugging Face's LlamaConverter makes it: a merge for
 * every split of a piece into two pieces of the vocabulary, ranked by the merged piece's score (llama.cpp's
 * llm_tokenizer_spm merges the best-scoring pair first).
 */
function sentencePieceTokenizer(
  vocab: string[],
  scores: number[] | undefined,
  typeOf: (id: number) => number,
  addSpacePrefix: boolean,
  file: string,
): Record<string, unknown> {
  if (!Array.isArray(scores) || scores.length !== vocab.length) {
    throw new ModelError(file, 'holds a SentencePiece tokenizer without scores', 'Download the file again');
  }
  const ids = new Map(vocab.map((t, i) => [t, i]));
  const candidates: { l: string; r: string; score: number; li: number; ri: number }[] = [];
  vocab.forEach((piece, id) => {
    if (typeOf(id) !== TOKEN_TYPE.normal && typeOf(id) !== TOKEN_TYPE.userDefined) return;
    const chars = [...piece];
    for (let i = 1; i < chars.length; i++) {
      const l = chars.slice(0, i).join('');
      const r = chars.slice(i).join('');
      const li = ids.get(l);
      const ri = ids.get(r);
      if (li !== undefined && ri !== undefined) candidates.push({ l, r, score: scores[id]!, li, ri });
    }
  });
  candidates.sort((a, b) => b.score - a.score || a.li - b.li || a.ri - b.ri);
  const unk = vocab.findIndex((_, i) => typeOf(i) === TOKEN_TYPE.unknown);
  return {
    version: '1.0',
    normalizer: {
      type: 'Sequence',
      normalizers: [
        ...(addSpacePrefix ? [{ type: 'Prepend', prepend: '▁' }] : []),
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
      ],
    },
    pre_tokenizer: null,
    post_processor: null,
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        ...(addSpacePrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unk >= 0 ? vocab[unk] : null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
      merges: candidates.map((c) => `${c.l} ${c.r}`),
    },
  };
}
