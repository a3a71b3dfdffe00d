// KVzip scoring: each chunk's repeat input is forwarded after the cache (teacher-forced), and the score graph
// returns, per layer and KV head, the max attention each of the chunk's keys receives.
import type { ForwardSession } from '../runtime/decoder.ts';
import { gatherKv, type KvCache } from '../runtime/kv.ts';
import type { Scoring } from '../core/choices.ts';
import { throwIfAborted } from '../core/cancel.ts';
import type { ScoreChunk } from './schedule.ts';
import { PairScores } from './scores.ts';

export interface ScoredPast {
  /** The sequence position of the past's first key (a compressed graph's past is the tail after its context). */
  start: number;
  /** The first sequence position scored; scores cover it to the past's end. */
  first: number;
  /** Leading past keys kept in every chunk's softmax: the system prefix, when the past holds it. */
  sink: number;
  /**
   * Leading context pairs of every head kept in the softmax instead, on a graph with context inputs (a refresh
   * on WebGPU: the system prefix heads the compressed prefix); a baked refresh graph has its sink built in.
   */
  contextSink?: number;
}

/** The one scoring loop: a fresh build scores the full KV, a refresh the re-prefilled suffix after the baked pairs. */
export async function scoreChunks(
  session: ForwardSession,
  past: KvCache,
  at: ScoredPast,
  chunks: ScoreChunk[],
  signal?: AbortSignal,
  onProgress?: (done: number, total: number) => void,
): Promise<PairScores> {
  const scores = new PairScores(session.spec.numLayers, session.spec.numKvHeads, at.start + past.length - at.first);
  const sink = Array.from({ length: at.sink }, (_, i) => i);
  for (const [i, c] of chunks.entries()) {
    throwIfAborted(signal);
    const index = [...sink];
    for (let p = c.start; p < c.end; p++) index.push(p - at.start);
    const r = await session.forward(c.input, past, { scoreIndex: index, keepPresent: false, contextSink: at.contextSink });
    scores.addChunk(r.scores!, index.length, c.start - at.first, c.end - c.start);
    onProgress?.(i + 1, chunks.length);
  }
  return scores;
}

/**
 * Scores the context of a full KV, whose first `prefixLen` keys are the always-kept system prefix.
 * `local` scoring forwards each repeat input over the prefix and its own chunk only, at the positions it has
 * after the whole sequence: KVzip's scores keep their formula (a softmax over those same keys), and only the
 * repeat inputs' hidden states lose what the rest of the context would have added to them. The work is then
 * linear in the context instead of quadratic. It needs the KV in host memory (`full` is read there). A refresh
 * scores its re-prefilled suffix exactly, whichever the entry's level.
 */
export async function scoreContext(
  session: ForwardSession,
  full: KvCache,
  prefixLen: number,
  chunks: ScoreChunk[],
  scoring: Scoring = 'exact',
  signal?: AbortSignal,
  onProgress?: (done: number, total: number) => void,
): Promise<PairScores> {
  const at = { start: 0, first: prefixLen, sink: prefixLen };
  if (scoring === 'exact') return scoreChunks(session, full, at, chunks, signal, onProgress);
  if (full.keys[0]?.location === 'gpu-buffer') throw new Error('internal: local scoring reads the KV from host memory (toHost first)');
  const scores = new PairScores(session.spec.numLayers, session.spec.numKvHeads, full.length - prefixLen);
  for (const [i, c] of chunks.entries()) {
    throwIfAborted(signal);
    const past = gatherKv(full, [
      [0, prefixLen],
      [c.start, c.end],
    ]);
    const index = Array.from({ length: past.length }, (_, k) => k);
    const r = await session.forward(c.input, past, { scoreIndex: index, keepPresent: false, positionStart: full.length });
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
