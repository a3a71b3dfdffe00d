// Refresh: after files change, reuse the compressed KV before the first changed token and re-prefill, re-score
// and re-compress only the suffix.
//
// Exact: the reused pairs are byte-for-byte what a fresh build computes for those positions (causal attention:
// nothing before the change depends on it).
// Approximate: (1) the suffix is prefilled and scored attending to the *compressed* prefix, not the full one;
// (2) the prefix's selection is kept as it was, and the suffix is selected with the previous build's global
// score threshold (pair), per-head top r (pair-uniform) or the same kept heads (head).
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from '../cache/manifest.ts';
import { gatherRows, readHeads, writeHeads, type CompactLayout, type Elems, type HeadPairs } from '../kvzip/compact.ts';
import { scoreSchedule } from '../kvzip/schedule.ts';
import { scoreChunks } from '../kvzip/score.ts';
import { selectLevel } from '../kvzip/select.ts';
import { demoteScores, PUNCT_DEMOTE } from '../kvzip/demote.ts';
import type { ForwardSession } from '../runtime/decoder.ts';
import type { LoadedModel } from './model.ts';
import type { ProgressFn } from '../core/progress.ts';

export interface RefreshResult {
  layout: CompactLayout;
  /** Tokens prefilled (the suffix). */
  prefillTokens: number;
  /** Opening the session over the reused pairs. */
  sessionMs: number;
  prefillMs: number;
  scoreMs: number;
}

export async function refreshCompressed(
  m: LoadedModel,
  old: { dir: string; manifest: Manifest },
  from: number,
  ids: number[],
  gen: string,
  o: { chunk: number; prefillChunk: number; signal?: AbortSignal; progress?: ProgressFn },
): Promise<RefreshResult> {
  const spec = m.prepared.spec;
  const D = spec.headDim;
  const prefixLen = old.manifest.prefixLength;
  const reused = readHeads(old.dir, old.manifest.layout, D, old.manifest.sequenceLength, m.prepared.dtype).map((layer) =>
    layer.map((h) => {
      let n = 0;
      while (n < h.positions.length && h.positions[n] < from) n++;
      return { positions: h.positions.slice(0, n), keys: h.keys.slice(0, n * D), values: h.values.slice(0, n * D) } as HeadPairs;
    }),
  );

  if (from >= ids.length)
    return { layout: writeHeads(gen, reused, D, ids.length), prefillTokens: 0, sessionMs: 0, prefillMs: 0, scoreMs: 0 };

  // A session over the reused pairs, with scoring, prefills and scores the suffix as its tail: on WebGPU the dense
  // one with those pairs as context inputs, elsewhere a compressed graph with them baked in.
  const work = join(gen, 'refresh');
  mkdirSync(work, { recursive: true });
  let session: ForwardSession | undefined;
  try {
    const baseLayout = writeHeads(work, reused, D, from);
    const tSession = performance.now();
    session = (await m.openOver(work, baseLayout.baked, from, { refresh: { scorePrefix: prefixLen, file: 'refresh.onnx' } })).session;
    const sessionMs = performance.now() - tSession;

    const suffix = ids.slice(from);
    const t0 = performance.now();
    const onDevice = (await session.prefill(suffix, session.empty(), o.prefillChunk, o.signal, (d, t) => o.progress?.('prefill', d, t)))
      .present;
    const prefillMs = performance.now() - t0;

    const t1 = performance.now();
    const layout = m.tokenizer.layout();
    const chunks = scoreSchedule(m.tokenizer, layout, ids, prefixLen, o.chunk, from);
    const at = { start: from, first: from, sink: 0, contextSink: prefixLen };
    const scores = await scoreChunks(session, onDevice, at, chunks, o.signal, (d, t) => o.progress?.('score', d, t));
    const scoreMs = performance.now() - t1;
    // The suffix's KV read back once from a WebGPU device, to gather the kept rows (a no-op on the host).
    const tail = await session.toHost(onDevice);
    session.release(onDevice);

    // The same demotion the stored threshold was computed with.
    if (old.manifest.level === 'pair') demoteScores(scores, m.tokenizer, suffix, PUNCT_DEMOTE);
    const keepSuffix = selectLevel(old.manifest.level, scores, old.manifest.ratio, {
      // A head kept whole before (it held context pairs) keeps the whole suffix.
      earlier: { threshold: old.manifest.threshold ?? 0, keptHead: (l, h) => old.manifest.layout[l][h].count > prefixLen },
    });
    const merged: HeadPairs[][] = reused.map((layer, l) =>
      layer.map((h, j) => {
        const rows = keepSuffix[l][j];
        const positions = new Int32Array(h.positions.length + rows.length);
        positions.set(h.positions);
        rows.forEach((r, k) => (positions[h.positions.length + k] = from + r));
        const cat = (a: Elems, b: Elems) => {
          const out = new (a.constructor as new (n: number) => Elems)(a.length + b.length);
          out.set(a);
          out.set(b, a.length);
          return out;
        };
        return {
          positions,
          keys: cat(h.keys, gatherRows(tail.keys[l].data as Elems, j, tail.keys[l].dims[2], D, rows)),
          values: cat(h.values, gatherRows(tail.values[l].data as Elems, j, tail.values[l].dims[2], D, rows)),
        };
      }),
    );
    return { layout: writeHeads(gen, merged, D, ids.length), prefillTokens: suffix.length, sessionMs, prefillMs, scoreMs };
  } finally {
    await session?.close();
    rmSync(work, { recursive: true, force: true });
  }
}
