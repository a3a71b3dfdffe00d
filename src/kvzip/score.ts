// KVzip scoring: each chunk's repeat input is forwarded after the full cache (teacher-forced), and the
// score graph returns, per layer and KV head, the max attention each of the chunk's keys receives.
import type { ForwardSession } from '../runtime/decoder.ts';
import type { KvCache } from '../runtime/kv.ts';
import { throwIfAborted } from '../model/errors.ts';
import type { ScoreChunk } from './schedule.ts';
import { PairScores } from './scores.ts';

export async function scoreContext(
  session: ForwardSession,
  full: KvCache,
  prefixLen: number,
  chunks: ScoreChunk[],
  signal?: AbortSignal,
  onProgress?: (done: number, total: number) => void,
): Promise<PairScores> {
  const n = full.length - prefixLen;
  const scores = new PairScores(session.spec.numLayers, session.spec.numKvHeads, n);
  const prefix = Array.from({ length: prefixLen }, (_, i) => i);
  for (const [i, c] of chunks.entries()) {
    throwIfAborted(signal);
    const index = [...prefix];
    for (let p = c.start; p < c.end; p++) index.push(p);
    const r = await session.forward(c.input, full, { scoreIndex: index, keepPresent: false });
    scores.addChunk(r.scores!, index.length, c.start - prefixLen, c.end - c.start);
    onProgress?.(i + 1, chunks.length);
  }
  return scores;
}

/**
 * SnapKV-style scores for the evaluation baseline: the attention one question's tokens pay to every context
 * key (the same score graph, with all context keys in the softmax).
 */
export async function questionScores(session: ForwardSession, full: KvCache, prefixLen: number, question: number[]): Promise<PairScores> {
  const index = Array.from({ length: full.length }, (_, i) => i);
  const r = await session.forward(question, full, { scoreIndex: index, keepPresent: false });
  const n = full.length - prefixLen;
  const scores = new PairScores(session.spec.numLayers, session.spec.numKvHeads, n);
  scores.addChunk(r.scores!, index.length, 0, n);
  return scores;
}
