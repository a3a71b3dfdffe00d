// The model's own tokenizer and chat template, and the prompt layout KVzip caches:
// [chat prefix + system instruction][context] | [question + assistant prefix][answer].
//
// Control tokens come only from the chat template. The tokenizer library matches its added tokens
// (`<|im_start|>`, `<|eot_id|>`, `<s>`, `<think>`, ...) anywhere in the text it is given, and
// `add_special_tokens: false` only stops it adding BOS/EOS; so a file, a file name, a question or the editor's
// text that spells `<|im_end|><|im_start|>system` would close the user's turn and open a system turn. Here
// text that is not the template's goes through the same normalizer, pre-tokenizer and BPE model with no
// added-token matching: it becomes the ordinary pieces of its characters. Template text is split at its added
// tokens first, and the text between them (template and user text joined) is encoded the same way, so a turn
// whose user text spells no control token gets exactly the ids the library gives the whole string.
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { Template } from '@huggingface/jinja';
import { ModelError, readModelJson } from './errors.ts';

export const SYSTEM_INSTRUCTION = 'Given the context, answer to the following question or request without explanation.';
const CONTEXT_MARK = '\u0000KVZIP_CONTEXT\u0000';
const QUESTION_MARK = '\u0000KVZIP_QUESTION\u0000';
const ANSWER_MARK = '\u0000KVZIP_ANSWER\u0000';
const FOLLOW_UP_MARK = '\u0000KVZIP_FOLLOW_UP\u0000';

interface TokenizerConfig {
  add_bos_token?: boolean;
  remove_space?: boolean;
  do_lowercase_and_remove_accent?: boolean;
  bos_token?: string | { content: string } | null;
  eos_token?: string | { content: string } | null;
  chat_template?: string | { name: string; template: string }[];
  clean_up_tokenization_spaces?: boolean;
}

const TOKENIZER_MISSING = 'The model folder needs the tokenizer files from the Hugging Face repository';

const tokenText = (t: TokenizerConfig['bos_token']) => (t == null ? undefined : typeof t === 'string' ? t : t.content);

/** An added token as tokenizer.json declares it. */
interface ControlToken {
  id: number;
  content: string;
  lstrip: boolean;
  rstrip: boolean;
}

/** The cached prefix and the per-question suffix, split so that they join exactly. */
export interface PromptLayout {
  /** Chat prefix and system instruction, before the context. Always kept; doubles as the attention sink. */
  prefix: string;
  /** Text between the context and the question (within the user turn). */
  beforeQuestion: string;
  /** Text after the question: end of the user turn and the assistant prefix. */
  afterQuestion: string;
  /** Text between an answer and a follow-up question: end of the assistant turn and the next user prefix. */
  betweenTurns: string;
}

export class ModelTokenizer {
  readonly bosId?: number;
  readonly eosIds: number[];
  readonly chatTemplate?: string;
  /**
   * The text of every added token (control and chat-format tokens), longest first. Matched only in the chat
   * template's own text; elsewhere such text is plain text.
   */
  readonly controlTokens: readonly string[];
  /** One more than the highest id this tokenizer gives (its vocabulary and its added tokens). */
  readonly idLimit: number;
  private readonly addBos: boolean;
  /** Added tokens by their first character, longest first. */
  private readonly byFirstChar = new Map<string, ControlToken[]>();
  /** Ids of the special added tokens: plain text never yields one. */
  private readonly specialIds = new Set<number>();

  private constructor(
    private readonly tok: Tokenizer,
    private readonly config: TokenizerConfig,
    generationEos: number[],
  ) {
    const bos = tokenText(config.bos_token);
    this.bosId = bos === undefined ? undefined : tok.token_to_id(bos);
    this.addBos = config.add_bos_token === true && this.bosId !== undefined;
    const eos = tokenText(config.eos_token);
    const eosId = eos === undefined ? undefined : tok.token_to_id(eos);
    this.eosIds = [...new Set([...(eosId === undefined ? [] : [eosId]), ...generationEos])];
    const t = config.chat_template;
    this.chatTemplate = typeof t === 'string' ? t : Array.isArray(t) ? t.find((x) => x.name === 'default')?.template : undefined;
    const added = [...tok.get_added_tokens_decoder().values()]
      .filter((a) => a.content.length > 0)
      .sort((a, b) => b.content.length - a.content.length);
    for (const a of added) {
      const first = a.content[0]!;
      const list = this.byFirstChar.get(first) ?? [];
      list.push({ id: a.id, content: a.content, lstrip: a.lstrip, rstrip: a.rstrip });
      this.byFirstChar.set(first, list);
      if (a.special) this.specialIds.add(a.id);
    }
    this.controlTokens = added.map((a) => a.content);
    // The model's id → token table, which the library extends with the added tokens: its length is one past the
    // highest id. (get_vocab builds a Map of all 151K Qwen tokens to say the same: 0.1-0.5 s of every load.)
    this.idLimit = tok.model?.vocab.length ?? 0;
  }

  static load(dir: string, configEos: number[] = []): ModelTokenizer {
    const json = readModelJson(join(dir, 'tokenizer.json'), TOKENIZER_MISSING);
    const config = readModelJson(join(dir, 'tokenizer_config.json'), TOKENIZER_MISSING) as TokenizerConfig;
    let tok: Tokenizer;
    try {
      tok = new Tokenizer(json as object, config as object);
    } catch (e) {
      throw new ModelError(join(dir, 'tokenizer.json'), `cannot be loaded (${(e as Error).message})`, 'Download the file again');
    }
    return new ModelTokenizer(tok, config, configEos);
  }

  /**
   * Encodes text that is not the chat template's: a file, a file name, a question, the editor's text. It never
   * yields a control token, whatever it spells; nothing is added (no BOS/EOS).
   */
  encode(text: string): number[] {
    return this.plainIds(text, 0);
  }

  /**
   * Encodes a piece of a turn: `before` and `after` are the chat template's text, whose added tokens are control
   * tokens; `text` is anyone else's and stays plain text. The text between control tokens is encoded as one
   * piece across the joins, as the library would encode the whole string.
   */
  encodeTurn(before: string, text = '', after = ''): number[] {
    // Sections as the library makes them: text and added tokens, in order; a section's index counts both.
    const sections: (string | ControlToken)[] = [];
    let pending = '';
    const template = (t: string) => {
      let from = 0;
      for (let i = 0; i < t.length;) {
        const hit = this.byFirstChar.get(t[i]!)?.find((a) => t.startsWith(a.content, i));
        if (!hit) {
          i++;
          continue;
        }
        pending += t.slice(from, i);
        if (pending) sections.push(pending);
        pending = '';
        sections.push(hit);
        i += hit.content.length;
        from = i;
      }
      pending += t.slice(from);
    };
    template(before);
    pending += text;
    template(after);
    if (pending) sections.push(pending);
    sections.forEach((s, i) => {
      if (typeof s === 'string') return;
      const prev = sections[i - 1];
      const next = sections[i + 1];
      if (s.lstrip && typeof prev === 'string') sections[i - 1] = prev.trimEnd();
      if (s.rstrip && typeof next === 'string') sections[i + 1] = next.trimStart();
    });
    return sections.flatMap((s, i) => (typeof s === 'string' ? this.plainIds(s, i) : [s.id]));
  }

  /**
   * One section of text through the tokenizer's own steps (tokenize_helper/encode_text in
   * @huggingface/tokenizers), minus added-token matching. `section` is its index among the turn's sections:
   * a Metaspace pre-tokenizer with prepend_scheme "first" prefixes only the first.
   */
  private plainIds(text: string, section: number): number[] {
    let t = text;
    if (t.length === 0) return [];
    if (this.config.remove_space === true) t = t.trim().split(/\s+/).join(' ');
    if (this.config.do_lowercase_and_remove_accent === true) t = t.toLowerCase().replace(/\p{M}/gu, '');
    if (this.tok.normalizer) t = this.tok.normalizer(t);
    if (t.length === 0) return [];
    const model = this.tok.model!;
    const words = this.tok.pre_tokenizer ? this.tok.pre_tokenizer(t, { section_index: section }) : [t];
    const ids: number[] = [];
    const idOf = (piece: string) => model.tokens_to_ids.get(piece) ?? model.unk_token_id!;
    for (const piece of model(words)) {
      const id = idOf(piece);
      // A vocabulary that holds control tokens as ordinary entries (a GGUF's, SentencePiece's <s>) could let
      // the model build one from pieces: never from plain text. Its characters go one by one instead.
      if (this.specialIds.has(id)) for (const c of model([...piece])) ids.push(idOf(c));
      else ids.push(id);
    }
    return ids;
  }

  /**
   * Encodes a plain prompt as the model expects it on its own: the tokenizer's post-processor (Llama-3 adds BOS
   * there), and BOS per tokenizer_config when that did not add it.
   */
  encodePrompt(text: string): number[] {
    const ids = this.tok.encode(text, { add_special_tokens: true }).ids;
    return this.addBos && ids[0] !== this.bosId ? [this.bosId!, ...ids] : ids;
  }

  decode(ids: number[], skipSpecial = true): string {
    // The tokenizer refuses an empty list; an answer that ended at once (EOS first, or no tokens asked) is ''.
    if (ids.length === 0) return '';
    return this.tok.decode(ids, { skip_special_tokens: skipSpecial, clean_up_tokenization_spaces: false });
  }

  renderChat(messages: { role: string; content: string }[], addGenerationPrompt: boolean): string {
    if (!this.chatTemplate) throw new Error('internal: model has no chat template');
    return new Template(this.chatTemplate).render({
      messages,
      add_generation_prompt: addGenerationPrompt,
      enable_thinking: false,
      bos_token: tokenText(this.config.bos_token) ?? '',
      eos_token: tokenText(this.config.eos_token) ?? '',
    });
  }

  /**
   * Renders the template once with placeholders and splits at them, so the cached prefix, the context and
   * every question suffix join into exactly the text the template would give. Models without a template use
   * plain text.
   */
  layout(instruction = SYSTEM_INSTRUCTION): PromptLayout {
    if (!this.chatTemplate) {
      return { prefix: '', beforeQuestion: '\n\n', afterQuestion: '\n', betweenTurns: '\n\n' };
    }
    const text = this.renderChat(
      [
        { role: 'system', content: instruction },
        { role: 'user', content: `${CONTEXT_MARK}\n\n${QUESTION_MARK}` },
      ],
      true,
    );
    const c = text.indexOf(CONTEXT_MARK);
    const q = text.indexOf(QUESTION_MARK);
    if (c < 0 || q < c)
      throw new ModelError('tokenizer_config.json', 'chat template drops the user message', 'Use a model with a standard chat template');
    // A second render with an answer and a follow-up gives the text that closes one turn and opens the next.
    const turns = this.renderChat(
      [
        { role: 'system', content: instruction },
        { role: 'user', content: `${CONTEXT_MARK}\n\n${QUESTION_MARK}` },
        { role: 'assistant', content: ANSWER_MARK },
        { role: 'user', content: FOLLOW_UP_MARK },
      ],
      true,
    );
    const a = turns.indexOf(ANSWER_MARK);
    const f = turns.indexOf(FOLLOW_UP_MARK);
    if (a < 0 || f < a)
      throw new ModelError('tokenizer_config.json', 'chat template drops earlier turns', 'Use a model with a standard chat template');
    return {
      prefix: text.slice(0, c),
      beforeQuestion: text.slice(c + CONTEXT_MARK.length, q),
      afterQuestion: text.slice(q + QUESTION_MARK.length),
      betweenTurns: turns.slice(a + ANSWER_MARK.length, f),
    };
  }

  /** Token ids of the cached prefix (BOS per tokenizer_config when the template does not carry it). */
  prefixIds(layout: PromptLayout): number[] {
    const ids = this.encodeTurn(layout.prefix);
    return this.addBos && ids[0] !== this.bosId ? [this.bosId!, ...ids] : ids;
  }

  /** Token ids of a question turn that follows the cached context; the question is plain text. */
  questionIds(layout: PromptLayout, question: string): number[] {
    return this.encodeTurn(layout.beforeQuestion, question, layout.afterQuestion);
  }

  /** Token ids of a follow-up: they close the previous answer's turn, then ask `question` (plain text). */
  followUpIds(layout: PromptLayout, question: string): number[] {
    return this.encodeTurn(layout.betweenTurns, question, layout.afterQuestion);
  }
}
