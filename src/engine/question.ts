// The question must fit in the positions the cached context leaves in the model's window, with room for an
// answer. A quoted selection is cut by whole lines to fit; anything else too long is refused, before a single
// position is run past the window.
import type { Quote } from './protocol.ts';
import { UserError } from '../core/errors.ts';

/** Positions kept for the answer at the least, whatever --max-tokens says (unless it asks for fewer). */
export const ANSWER_FLOOR = 32;

export interface FittedQuestion {
  /** The question as the model reads it: with the quote, cut or whole. */
  text: string;
  ids: number[];
  quoteLines?: { kept: number; total: number };
}

export interface QuestionRoom {
  /** The model's attention window. */
  window: number;
  /** Positions the cache takes; before a build, the prompt's prefix (the least any context takes). */
  used: number;
  /** `used` is a lower bound: no cache yet. */
  beforeBuild?: boolean;
  maxTokens: number;
  /**
   * A conversation budget: tail positions after the context. One the user set may be tight on purpose: the
   * question must fit in it, and the answer stops at its end, visibly.
   */
  budget?: number;
}

function windowRoom(r: QuestionRoom): number {
  return r.window - r.used - Math.min(r.maxTokens, ANSWER_FLOOR);
}

/** Positions a question may take. */
export function questionRoom(r: QuestionRoom): number {
  return Math.min(windowRoom(r), r.budget === undefined ? Infinity : r.budget - 1);
}

function withQuote(question: string, q: Quote, lines: string[], total: number): string {
  const cut = lines.length < total ? `\n(${total - lines.length} more lines left out to fit the model's window)` : '';
  return `${question}\n\n\`\`\`${q.language ?? ''}\n${lines.join('\n')}\n\`\`\`${cut}`;
}

/**
 * Token ids of the question (and its quote, cut from the end by whole lines when the whole does not fit).
 * Throws a UserError that says how much room there is when even the bare question does not fit.
 */
export function fitQuestion(
  encode: (text: string) => number[],
  question: string,
  quote: Quote | undefined,
  room: QuestionRoom,
): FittedQuestion {
  const max = questionRoom(room);
  if (!quote) return { text: question, ids: refuseIfLong(encode(question), max, room) };
  const lines = quote.text.split('\n');
  const text = (kept: number) => withQuote(question, quote, lines.slice(0, kept), lines.length);
  const whole = encode(text(lines.length));
  if (whole.length <= max) return { text: text(lines.length), ids: whole };
  // The most lines that fit: fewer lines never take more tokens, so a binary search finds it. It starts below
  // 16 characters per token of room, which no tokenizer averages, so a huge selection is not encoded whole often.
  let lo = 0;
  let hi = lines.length - 1;
  for (let chars = 0, i = 0; i < lines.length; i++) {
    chars += lines[i]!.length + 1;
    if (chars > 16 * max) {
      hi = Math.min(hi, i);
      break;
    }
  }
  let best = encode(text(0));
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const ids = encode(text(mid));
    if (ids.length <= max) {
      lo = mid;
      best = ids;
    } else hi = mid - 1;
  }
  return { text: text(lo), ids: refuseIfLong(best, max, room), quoteLines: { kept: lo, total: lines.length } };
}

function refuseIfLong(ids: number[], max: number, r: QuestionRoom): number[] {
  if (ids.length <= max) return ids;
  const answer = Math.min(r.maxTokens, ANSWER_FLOOR);
  if (max < windowRoom(r)) {
    throw new UserError(
      `The question is ${ids.length} tokens, and the conversation budget after the context is ${r.budget}. Shorten the question or raise the budget.`,
      'question-too-long',
    );
  }
  if (max <= 0) {
    throw new UserError(
      `The cached context takes ${r.used} of this model's ${r.window} positions: no room is left for a question and an answer. ` +
        'Build with a smaller --max-context-tokens (the extension: kvzipCode.maxContextTokens).',
      'question-too-long',
    );
  }
  throw new UserError(
    `The question is ${ids.length} tokens, but only ${max} fit: this model attends over ${r.window} positions, the context takes ` +
      `${r.beforeBuild ? 'at least ' : ''}${r.used} and ${answer} are kept for the answer. Shorten the question.`,
    'question-too-long',
  );
}
