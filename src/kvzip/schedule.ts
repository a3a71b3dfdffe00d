// KVzip's scoring schedule: the context is cut into chunks of m tokens, and each chunk gets a repeat input
// that asks the model to reconstruct it (the reference implementation's prompts, in the model's chat layout).
import type { ModelTokenizer, PromptLayout } from '../model/tokenizer.ts';

export const DEFAULT_CHUNK = 2000;
/** Tokens of the previous chunk quoted in a later chunk's prompt. */
const OVERLAP = 8;
/** Room kept for a repeat prompt (instruction, quoted tokens, chat markers) in front of the chunk. */
const PROMPT_ROOM = 64;

/**
 * The chunk size to score with: m, capped so every repeat input stays inside the model's trained positions
 * (repeat inputs sit after the whole cached sequence; past the window RoPE extrapolates and scores degrade).
 */
export function fittingChunk(requested: number, sequenceLength: number, maxPositions: number): number {
  return Math.max(16, Math.min(requested, maxPositions - sequenceLength - PROMPT_ROOM));
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
  const laterHead = tokenizer.encode(`${layout.beforeQuestion}Repeat the part of the previous context exactly, starting with `);
  const laterTail = tokenizer.encode(layout.afterQuestion);
  for (let start = from; start < ids.length; start += chunkSize) {
    const end = Math.min(start + chunkSize, ids.length);
    const own = ids.slice(start, end);
    const prompt =
      start === contextStart ? first : [...laterHead, ...ids.slice(Math.max(contextStart, start - OVERLAP), start), ...laterTail];
    chunks.push({ start, end, input: [...prompt, ...own] });
  }
  return chunks;
}
