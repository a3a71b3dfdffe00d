// Writing a cache generation: a refresh of the suffix after the first changed token, or a fresh prefill → KVzip
// scoring → selection → compaction; then the compressed graph and the manifest, committed.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CacheSettings } from './protocol.ts';
import type { LoadedModel } from './model.ts';
import { refreshCompressed } from './refresh.ts';
import type { ProgressFn, TimeEstimate } from '../core/progress.ts';
import type { PhaseTimes } from '../core/timings.ts';
import type { Scoring } from '../core/choices.ts';
import { estimateBuildParts } from '../model/buildTime.ts';
import type { RefreshPlan } from '../context/index.ts';
import type { BuiltContext } from '../context/types.ts';
import type { CacheStore } from '../cache/store.ts';
import type { Manifest } from '../cache/manifest.ts';
import { scoreSchedule } from '../kvzip/schedule.ts';
import { demoteScores, PUNCT_DEMOTE } from '../kvzip/demote.ts';
import { scoreContext } from '../kvzip/score.ts';
import { headScoresOf, keepAll, lowestKept, selectLevel, type KeepSets } from '../kvzip/select.ts';
import { KEEP_FILE, KV_FILE, fullKvBytes, layoutBytes, writeCompacted, type CompactLayout } from '../kvzip/compact.ts';
import type { PairScores } from '../kvzip/scores.ts';
import { prefillChunk } from '../runtime/traffic.ts';
import { DECODE_FILE } from '../runtime/open.ts';
import { sourceMap } from './sources.ts';
import { SessionStore } from './sessions.ts';

/** Files a generation must list in its manifest to be answered from. */
export const ENTRY_FILES = [KV_FILE, KEEP_FILE, DECODE_FILE];

/** One generation to write: what it is built from and where it goes. */
export interface WriteJob {
  settings: CacheSettings;
  model: LoadedModel;
  store: CacheStore;
  key: string;
  /** The generation folder (store.begin). */
  gen: string;
  /** The workspace as the manifest records it (its real path). */
  workspace: string;
  /** The cached sequence: [system prefix][context]. */
  context: BuiltContext;
  ids: number[];
  prefixLen: number;
  /** The trusted earlier generation and the refresh plan against it, when there is one. */
  existing?: { dir: string; manifest: Manifest; plan: RefreshPlan };
  /** KVzip's chunk m for this sequence. */
  scoreChunk: number;
  /** When the build started (the manifest records its time). */
  startedAt: number;
  /** Called before the dense session is used (a GPU holds one session's weights at a time). */
  beforeDense: () => Promise<void>;
  progress?: ProgressFn;
  signal?: AbortSignal;
  /** Where the session's creation, prefill, scoring, compaction and writing are timed. */
  times: PhaseTimes;
}

export interface Written {
  dir: string;
  manifest: Manifest;
  prefillTokens: number;
  /** A fresh build's bytes between host and a GPU (prefill, scoring, the KV read back). */
  hostDeviceBytes?: number;
}

/** What a fresh build or a refresh computed into the generation folder. */
interface Computed {
  layout: CompactLayout;
  prefillTokens: number;
  prefillMs: number;
  scoreMs: number;
  /** The global score threshold pair selection applied (a later refresh selects its suffix against it). */
  threshold?: number;
  /** Set for a refresh: the tokens re-prefilled. */
  refreshedTokens?: number;
  hostDeviceBytes?: number;
}

/** Computes the compressed KV into `job.gen` (fresh build or refresh) and commits the generation. */
export async function writeGeneration(job: WriteJob): Promise<Written> {
  const { model: m, existing } = job;
  await job.beforeDense();
  const computed =
    existing && !existing.plan.fullRebuild && existing.plan.firstToken > 0 ? await refreshInto(job, existing) : await freshInto(job);
  const { dir, manifest } = await job.times.time('write', async () => {
    // The answering graph sums each step's attention per file of the context: the answer's sources.
    const sources = sourceMap(job.gen, computed.layout.baked, job.context.fingerprint, job.prefixLen, job.ids.length);
    m.writeCompressed(job.gen, computed.layout.baked, { sources });
    const committed = await job.store.commit(job.gen, manifestOf(job, computed), ENTRY_FILES);
    job.progress?.('write', 1, 1);
    if (job.settings.cacheSizeCapMB) {
      const evicted = await job.store.enforceCap(job.settings.cacheSizeCapMB * 1024 * 1024, job.key);
      // An evicted entry's conversations go with it: a rebuild of the same entry would bring them back.
      const sessions = new SessionStore(job.store.root);
      for (const key of evicted) sessions.removeEntry(key);
    }
    return committed;
  });
  return { dir, manifest, prefillTokens: computed.prefillTokens, hostDeviceBytes: computed.hostDeviceBytes };
}

async function refreshInto(job: WriteJob, existing: NonNullable<WriteJob['existing']>): Promise<Computed> {
  const m = job.model;
  // What the refresh does besides its session, prefill and scoring is reading the pairs it keeps and writing them.
  const r = await job.times.time('compact', async () => {
    const r = await refreshCompressed(m, existing, job.prefixLen + existing.plan.firstToken, job.ids, job.gen, {
      chunk: job.scoreChunk,
      prefillChunk: prefillChunk(m.device, job.ids.length),
      signal: job.signal,
      progress: job.progress,
    });
    job.times.add('session', r.sessionMs);
    job.times.add('prefill', r.prefillMs);
    job.times.add('score', r.scoreMs);
    return r;
  });
  return { ...r, threshold: existing.manifest.threshold, refreshedTokens: r.prefillTokens };
}

async function freshInto(job: WriteJob): Promise<Computed> {
  const { settings: s, model: m, ids, prefixLen, progress, signal, times } = job;
  const spec = m.prepared.spec;
  const dense = await times.time('session', () => m.dense());
  const bytesBefore = dense.hostDeviceBytes;
  const scoring = s.scoring ?? 'exact';
  const estimate = timeEstimate(m, ids.length, scoring, job.scoreChunk, s.ratio >= 1);
  progress?.('prefill', 0, ids.length, undefined, estimate);
  const tPrefill = performance.now();
  const prefill = await dense.prefill(ids, dense.empty(), prefillChunk(m.device, ids.length), signal, (d, t) =>
    progress?.('prefill', d, t),
  );
  const onDevice = prefill.present;
  const prefillMs = performance.now() - tPrefill;
  times.add('prefill', prefillMs);

  const tScore = performance.now();
  const chunks = scoreSchedule(m.tokenizer, m.tokenizer.layout(), ids, prefixLen, job.scoreChunk);
  // The one read of the full KV from a WebGPU device, for compaction (a no-op where the KV is on the host);
  // local scoring reads it first, as it feeds each chunk's pairs from the host.
  const read = async () => {
    const host = await dense.toHost(onDevice);
    dense.release(onDevice);
    return host;
  };
  const early = scoring === 'local' ? await read() : undefined;
  const scores =
    s.ratio >= 1
      ? undefined
      : await scoreContext(dense, early ?? onDevice, prefixLen, chunks, scoring, signal, (d, t) => progress?.('score', d, t));
  const scoreMs = performance.now() - tScore;
  times.add('score', scoreMs);
  return times.time('compact', async () => {
    const full = early ?? (await read());
    const hostDeviceBytes = dense.hostDeviceBytes - bytesBefore;
    if (scores && s.level === 'pair') demoteScores(scores, m.tokenizer, ids.slice(prefixLen), PUNCT_DEMOTE);

    progress?.('compress', 0, 1);
    const keep = scores ? select(s, m, scores) : keepAll(spec.numLayers, spec.numKvHeads, ids.length - prefixLen);
    progress?.('write', 0, 1);
    const layout = writeCompacted(join(job.gen, KV_FILE), full, prefixLen, keep, spec.headDim);
    return { layout, prefillTokens: ids.length, prefillMs, scoreMs, threshold: scores && lowestKept(scores, keep), hostDeviceBytes };
  });
}

/**
 * What the prefill and the scoring should take (model/buildTime.ts), for the time left the user sees. Fitted on
 * the CPU in fp32: on another device or with quantized weights only the split between the two holds.
 */
function timeEstimate(m: LoadedModel, tokens: number, scoring: Scoring, chunk: number, noScoring: boolean): TimeEstimate {
  const { prefill, score } = estimateBuildParts(m.prepared.spec, tokens, scoring, chunk);
  return {
    prefillSeconds: prefill,
    scoreSeconds: noScoring ? 0 : score,
    calibrated: m.device === 'cpu' && m.prepared.dtype === 'fp32' && !m.prepared.quantized,
  };
}

function select(s: CacheSettings, m: LoadedModel, scores: PairScores): KeepSets {
  return selectLevel(s.level, scores, s.ratio, {
    headScores: () => {
      // Computed once per model and kept with it; a damaged file is only a lost shortcut, computed again.
      const file = join(m.prepared.dir, 'head-scores.json');
      const stored = readHeadScores(file, scores.layers * scores.kvHeads);
      if (stored) return stored;
      const heads = headScoresOf(scores);
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(Array.from(heads)), { mode: 0o600 });
      renameSync(tmp, file);
      return heads;
    },
  });
}

/** Stored head scores, when the file holds exactly `count` finite numbers. */
function readHeadScores(file: string, count: number): Float32Array | undefined {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    if (Array.isArray(v) && v.length === count && v.every((x) => typeof x === 'number' && Number.isFinite(x))) return Float32Array.from(v);
  } catch {
    // Missing or not JSON: computed again.
  }
  return undefined;
}

function manifestOf(job: WriteJob, c: Computed): Omit<Manifest, 'formatVersion' | 'files' | 'checksum'> {
  const { settings: s, model: m } = job;
  const spec = m.prepared.spec;
  const n = job.ids.length;
  return {
    key: job.key,
    workspace: job.workspace,
    model: {
      dir: m.dir,
      weightsHash: m.prepared.weightsHash,
      weightsContent: m.prepared.contentHash,
      tokenizerHash: m.tokenizerHash,
      dtype: m.prepared.dtype,
      int4: m.prepared.int4,
    },
    ratio: s.ratio,
    level: s.level,
    ...(s.scoring === 'local' ? { scoring: s.scoring } : {}),
    threshold: c.threshold,
    sequenceLength: n,
    prefixLength: job.prefixLen,
    fingerprint: job.context.fingerprint,
    layout: c.layout.baked,
    stats: {
      kvBytesFull: fullKvBytes(spec.numLayers, spec.numKvHeads, spec.headDim, n, m.prepared.dtype === 'fp16' ? 2 : 4),
      kvBytesCompressed: c.layout.bytes + c.layout.keepBytes + layoutBytes(spec.numLayers, spec.numKvHeads),
      keptPairs: c.layout.pairs,
      totalPairs: spec.numLayers * spec.numKvHeads * n,
      buildMs: performance.now() - job.startedAt,
      prefillMs: c.prefillMs,
      scoreMs: c.scoreMs,
      refreshedTokens: c.refreshedTokens,
    },
    createdAt: new Date().toISOString(),
  };
}
