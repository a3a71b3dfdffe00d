// KVzip's scoring schedule: the context is cut into chunks of m tokens (a short remainder joins the last), and
// each chunk gets a repeat input that asks the model to reconstruct it (the reference implementation's prompts,
// in the model's chat layout).
import type { ModelTokenizer, PromptLayout } from '../model/tokenizer.ts';

export const DEFAULT_CHUNK = 2000;
/** Tokens of the previous chunk quoted in a later chunk's prompt. */
const OVERLAP = 8;
/** Room kept for a repeat prompt (instruction, quoted tokens, chat markers) in front of the chunk. */
const PROMPT_ROOM = 64;

/**
 * A remainder shorter than m / TAIL_SHARE joins the chunk before it. A repeat pass costs a fixed part whatever
 * its length (the weights and every past key are read once per pass): measured at 2K on the 0.5B shapes, an
 * 18-token last chunk took 1.8 s, 9% of the whole scoring.
 */
const TAIL_SHARE = 4;

/** The longest chunk a schedule of chunk size m holds: m plus a remainder that joined it. */
export function longestChunk(m: number): number {
  return m + Math.ceil(m / TAIL_SHARE) - 1;
}

/**
 * The chunk size to score with: m, capped so every repeat input, the longest chunk's included, stays inside the
 * model's trained positions (repeat inputs sit after the whole cached sequence; past the window RoPE
 * extrapolates and scores degrade).
 */
export function fittingChunk(requested: number, sequenceLength: number, maxPositions: number): number {
  const room = maxPositions - sequenceLength - PROMPT_ROOM;
  return Math.max(16, Math.min(requested, Math.floor((room * TAIL_SHARE) / (TAIL_SHARE + 1))));
}

export interface ScoreChunk {
  /** Absolute positions [start, end) of the chunk's context keys. */
  start: number;
  end: number;
  /** Repeat prompt followed by the chunk's own tokens (teacher forcing). */
  input: number[];
}

/**
 * @param ids the whole cached sequence (prefix + context)
 * @param contextStart first context position (the prefix before it is never scored or evicted)
 * @param from first position to score (a refresh scores only the re-prefilled suffix)
 */
export function scoreSchedule(
  tokenizer: ModelTokenizer,
  layout: PromptLayout,
  ids: number[],
  contextStart: number,
  chunkSize = DEFAULT_CHUNK,
  from = contextStart,
): ScoreChunk[] {
  const chunks: ScoreChunk[] = [];
  const first = tokenizer.questionIds(layout, 'Repeat the previous context exactly.');
  const laterHead = tokenizer.encodeTurn(layout.beforeQuestion, 'Repeat the part of the previous context exactly, starting with ');
  const laterTail = tokenizer.encodeTurn(layout.afterQuestion);
  for (let start = from, end = 0; start < ids.length; start = end) {
    end = Math.min(start + chunkSize, ids.length);
    if ((ids.length - end) * TAIL_SHARE < chunkSize) end = ids.length;
    const own = ids.slice(start, end);
    const prompt =
      start === contextStart ? first : [...laterHead, ...ids.slice(Math.max(contextStart, start - OVERLAP), start), ...laterTail];
    chunks.push({ start, end, input: [...prompt, ...own] });
  }
  return chunks;
}
