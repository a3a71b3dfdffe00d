// The model's own tokenizer and chat template, and the prompt layout KVzip caches:
// [chat prefix + system instruction][context] | [question + assistant prefix][answer].
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
  bos_token?: string | { content: string } | null;
  eos_token?: string | { content: string } | null;
  chat_template?: string | { name: string; template: string }[];
  clean_up_tokenization_spaces?: boolean;
}

const TOKENIZER_MISSING = 'The model folder needs the tokenizer files from the Hugging Face repository';

const tokenText = (t: TokenizerConfig['bos_token']) => (t == null ? undefined : typeof t === 'string' ? t : t.content);

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
  private readonly addBos: boolean;

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

  /** Encodes text with no special tokens added (templates carry their own). */
  encode(text: string): number[] {
    return this.tok.encode(text, { add_special_tokens: false }).ids;
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
    const ids = this.encode(layout.prefix);
    return this.addBos && ids[0] !== this.bosId ? [this.bosId!, ...ids] : ids;
  }

  /** Token ids of a question turn that follows the cached context. */
  questionIds(layout: PromptLayout, question: string): number[] {
    return this.encode(layout.beforeQuestion + question + layout.afterQuestion);
  }

  /** Token ids of a follow-up: they close the previous answer's turn, then ask `question`. */
  followUpIds(layout: PromptLayout, question: string): number[] {
    return this.encode(layout.betweenTurns + question + layout.afterQuestion);
  }
}
