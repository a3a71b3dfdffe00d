// Refresh: after files change, reuse the compressed KV before the first changed token and re-prefill, re-score
// and re-compress only the suffix.
//
// Exact: the reused pairs are byte-for-byte what a fresh build computes for those positions (causal attention:
// nothing before the change depends on it).
// Approximate: (1) the suffix is prefilled and scored attending to the *compressed* prefix, not the full one;
// (2) the prefix's selection is kept as it was, and the suffix is selected with the previous build's global
// score threshold (pair), per-head top r (pair-uniform) or the same kept heads (head).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from '../cache/manifest.ts';
import { buildGraph } from '../graph/transformer.ts';
import { openSession } from '../runtime/session.ts';
import { ForwardSession } from '../runtime/decoder.ts';
import { throwIfAborted } from '../model/errors.ts';
import { gatherRows, readHeads, writeHeads, type CompactLayout, type Elems, type HeadPairs } from '../kvzip/compact.ts';
import { scoreSchedule } from '../kvzip/schedule.ts';
import { PairScores } from '../kvzip/scores.ts';
import { demoteScores, PUNCT_DEMOTE } from '../kvzip/demote.ts';
import type { LoadedModel } from './model.ts';
import type { ProgressFn } from './engine.ts';

export interface RefreshResult {
  layout: CompactLayout;
  /** Tokens prefilled (the suffix). */
  prefillTokens: number;
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

  if (from >= ids.length) return { layout: writeHeads(gen, reused, D, ids.length), prefillTokens: 0, prefillMs: 0, scoreMs: 0 };

  // A compressed graph over the reused pairs, with scoring, prefills and scores the suffix as its tail.
  const work = join(gen, 'refresh');
  mkdirSync(work, { recursive: true });
  try {
    const baseLayout = writeHeads(work, reused, D, from);
    m.linkWeights(work);
    const graph = buildGraph({
      spec,
      rope: m.rope,
      dtype: m.prepared.dtype,
      int4: m.prepared.int4,
      weight: (n) => m.prepared.weight(n),
      baked: baseLayout.baked,
      scorePrefix: prefixLen,
    });
    writeFileSync(join(work, 'refresh.onnx'), graph);
    const opened = await openSession(join(work, 'refresh.onnx'), { device: m.device, reason: m.deviceReason }, () => {
      throw new Error('CUDA failed during refresh; rebuild with --device cpu');
    });
    const session = new ForwardSession(opened.session, spec, m.prepared.dtype, from);

    const suffix = ids.slice(from);
    const t0 = performance.now();
    const tail = (await session.prefill(suffix, session.empty(), o.prefillChunk, o.signal, (d, t) => o.progress?.('prefill', d, t)))
      .present;
    const prefillMs = performance.now() - t0;

    const t1 = performance.now();
    const layout = m.tokenizer.layout();
    const chunks = scoreSchedule(m.tokenizer, layout, ids, prefixLen, o.chunk, from);
    const scores = new PairScores(spec.numLayers, spec.numKvHeads, suffix.length);
    for (const [i, c] of chunks.entries()) {
      throwIfAborted(o.signal);
      const index = Array.from({ length: c.end - c.start }, (_, k) => c.start - from + k);
      const r = await session.forward(c.input, tail, { scoreIndex: index, keepPresent: false });
      scores.addChunk(r.scores!, index.length, c.start - from, index.length);
      o.progress?.('score', i + 1, chunks.length);
    }
    const scoreMs = performance.now() - t1;

    // The same demotion the stored threshold was computed with.
    if (old.manifest.level === 'pair') demoteScores(scores, m.tokenizer, suffix, PUNCT_DEMOTE);
    const keepSuffix = suffixSelection(old.manifest, scores, prefixLen);
    const merged: HeadPairs[][] = reused.map((layer, l) =>
      layer.map((h, j) => {
        const rows = keepSuffix(l, j);
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
          keys: cat(h.keys, gatherRows(tail.keys[l].data as Elems, j, tail.length, D, rows)),
          values: cat(h.values, gatherRows(tail.values[l].data as Elems, j, tail.length, D, rows)),
        };
      }),
    );
    return { layout: writeHeads(gen, merged, D, ids.length), prefillTokens: suffix.length, prefillMs, scoreMs };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Which suffix positions each head keeps, following the previous build's selection rule. */
function suffixSelection(manifest: Manifest, scores: PairScores, prefixLen: number): (l: number, h: number) => number[] {
  const n = scores.n;
  const all = Array.from({ length: n }, (_, i) => i);
  if (manifest.ratio >= 1) return () => all;
  if (manifest.level === 'pair') {
    const t = manifest.threshold ?? 0;
    return (l, h) => all.filter((i) => scores.at(l, h, i) >= t);
  }
  if (manifest.level === 'head') {
    // A head kept whole before (it held context pairs) keeps the whole suffix.
    return (l, h) => (manifest.layout[l][h].count > prefixLen ? all : []);
  }
  const k = Math.round(manifest.ratio * n);
  return (l, h) =>
    all
      .slice()
      .sort((a, b) => scores.at(l, h, b) - scores.at(l, h, a) || a - b)
      .slice(0, k)
      .sort((a, b) => a - b);
}
