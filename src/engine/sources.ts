// Answer sources: the files whose cached pairs an answer attended to most. The answering graph sums, per step,
// the attention on the kept pairs into one bucket per file of the context (graph/sources.ts); the buckets come
// from the positions the cache keeps (keep.bin) and the files' token ranges in the manifest's fingerprint. The
// files are ranked by the attention the answer gave them beyond what any answer gives them there (sourceBaseline).
import type { Fingerprint } from '../context/types.ts';
import type { BakedHead } from '../graph/attention.ts';
import type { SourceMap } from '../graph/sources.ts';
import { keptPositions } from '../kvzip/compact.ts';
import type { ModelTokenizer } from '../model/tokenizer.ts';
import type { ForwardSession } from '../runtime/decoder.ts';
import type { AnswerSource } from './protocol.ts';

/** Sources listed at most, and the least share listed. */
export const MAX_SOURCES = 10;
export const MIN_SHARE = 0.01;

/**
 * Each kept pair's bucket: the index of the file whose token range holds its position (positions count from the
 * start of the cached sequence, the files' ranges from the context's, which follows the system prefix of
 * `prefixLength`), and `files.length` for a pair in no file (the system prefix).
 */
export function sourceMap(
  dir: string,
  layout: BakedHead[][],
  fingerprint: Fingerprint,
  prefixLength: number,
  sequenceLength: number,
): SourceMap {
  const files = fingerprint.files;
  const none = files.length;
  const bucket = keptPositions(dir, layout, sequenceLength).map((layer) =>
    layer.map((positions) => {
      const out = new Int32Array(positions.length);
      // Both ascending: one walk per head.
      let f = 0;
      for (let i = 0; i < positions.length; i++) {
        const t = positions[i] - prefixLength;
        while (f < files.length && files[f].tokenEnd <= t) f++;
        out[i] = f < files.length && t >= files[f].tokenStart ? f : none;
      }
      return out;
    }),
  );
  return { buckets: files.length + 1, bucket };
}

/**
 * The question-independent part of the attention at the place an answer starts: the mean of the last
 * BASELINE_ROWS positions of the prompt of an empty question (its chat template's assistant header), right after
 * the cached context, per bucket. Early layers' heads attend by position (most to the last file of the context,
 * whatever the question) and every head keeps some mass on fixed places; an answer's attention beyond this
 * baseline is what the question and the answer drew to a file. One short run per cache generation (Answering
 * keeps it), over an empty tail. Undefined when the session outputs no sources.
 */
export async function sourceBaseline(session: ForwardSession, tokenizer: ModelTokenizer): Promise<Float64Array | undefined> {
  const ids = tokenizer.questionIds(tokenizer.layout(), '');
  const rows = Math.min(BASELINE_ROWS, ids.length);
  let kv = session.empty();
  let sum: Float64Array | undefined;
  try {
    if (ids.length > rows) kv = (await session.forward(ids.slice(0, ids.length - rows), kv)).present;
    for (const id of ids.slice(ids.length - rows)) {
      const r = await session.forward([id], kv);
      session.release(kv);
      kv = r.present;
      if (!r.sources) return undefined;
      sum ??= new Float64Array(r.sources.length);
      for (let i = 0; i < sum.length; i++) sum[i] += r.sources[i] / rows;
    }
  } finally {
    session.release(kv);
  }
  return sum;
}

/** Rows of the empty question's prompt the baseline averages. */
export const BASELINE_ROWS = 3;

/**
 * The files by their share of the attention the answer gave the context's files beyond the baseline (per file,
 * the answer's mass over its `runs` minus `runs` × the baseline's, floored at 0; the raw mass when there is no
 * baseline, or no file got more than it), largest first: at most MAX_SOURCES, none under MIN_SHARE. The system
 * prefix (the attention sink) is left out. Undefined when the mass does not fit this fingerprint (a graph built
 * for another context) or holds nothing.
 */
export function answerSources(
  sources: { mass: ArrayLike<number>; runs: number } | undefined,
  fingerprint: Fingerprint,
  baseline?: ArrayLike<number>,
): AnswerSource[] | undefined {
  const files = fingerprint.files;
  if (!sources || sources.mass.length !== files.length + 1) return undefined;
  const use = baseline?.length === sources.mass.length ? baseline : undefined;
  const raw = files.map((_, i) => sources.mass[i]);
  const excess = raw.map((m, i) => Math.max(0, m - (use ? sources.runs * use[i] : 0)));
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  // An answer that drew no file beyond the baseline (stories260K's answers attend to the context less than its
  // empty question's newlines do) still shows where its attention went.
  const weights = sum(excess) > 0 ? excess : raw;
  const total = sum(weights);
  if (!(total > 0)) return undefined;
  return files
    .map((f, i) => ({ path: f.path, share: weights[i] / total }))
    .filter((s) => s.share >= MIN_SHARE)
    .sort((a, b) => b.share - a.share || a.path.localeCompare(b.path))
    .slice(0, MAX_SOURCES)
    .map((s) => ({ path: s.path, share: Math.round(s.share * 1e4) / 1e4 }));
}
