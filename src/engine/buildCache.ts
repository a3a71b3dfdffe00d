// The build job: the workspace's context, then a new cache generation (or a refresh of the one before, or
// nothing when it is up to date).
import { rmSync } from 'node:fs';
import type { ProgressFn } from '../core/progress.ts';
import { UserError } from '../core/errors.ts';
import { PhaseTimes } from '../core/timings.ts';
import { planRefresh } from '../context/index.ts';
import type { BuiltContext } from '../context/types.ts';
import type { Manifest } from '../cache/manifest.ts';
import { CacheStore } from '../cache/store.ts';
import { ENTRY_FILES, writeGeneration } from './build.ts';
import { buildSummary, canonicalPath, trustedFor } from './entryFacts.ts';
import type { EngineParts } from './parts.ts';
import type { BuildResult, CacheSettings } from './protocol.ts';
import { checkCacheNotWorkspace, emptyContextMessage } from './workspace.ts';
import { contextLimit } from './workspaceContext.ts';
import { attentionWindow } from '../model/config.ts';

/** A build: the settings, and where its progress and cancel come from. */
export interface BuildJob {
  settings: CacheSettings & { force?: boolean };
  progress?: ProgressFn;
  signal?: AbortSignal;
  /** What the user should know while it runs (a wait for another process's lock). */
  notice?: (message: string) => void;
  /** Where its phases are timed (an ask that builds first times the build with its own). */
  times?: PhaseTimes;
}

export type BuildOutcome = Omit<BuildResult, 'report'> & { manifest: Manifest; context: BuiltContext };

/** Builds the entry for the job's settings, or finds it up to date, or refreshes it from the one before. */
export async function buildCache(parts: EngineParts, job: BuildJob): Promise<BuildOutcome> {
  const { settings: s, progress, signal, notice } = job;
  const times = job.times ?? new PhaseTimes();
  const t0 = performance.now();
  checkCacheNotWorkspace(s);
  const m = await times.time('modelOpen', () => parts.model(s, progress, signal, times));
  const store = new CacheStore(s.cacheDir, notice);
  const key = parts.entryKey(s, m);
  const ctx = await times.time('context', () => parts.context(s, m, signal, progress));
  if (ctx.tokenIds.length === 0) {
    const limit = contextLimit(m.prepared.spec, m.tokenizer, s.maxContextTokens);
    const budget = { limit, modelWindow: attentionWindow(m.prepared.spec), maxContextTokens: s.maxContextTokens };
    throw new UserError(emptyContextMessage(s.workspace, ctx, budget), 'empty-context');
  }
  const prefixIds = m.tokenizer.prefixIds(m.tokenizer.layout());
  const ids = [...prefixIds, ...ctx.tokenIds];
  const opened = s.force ? undefined : await store.open(key, ENTRY_FILES);
  // Pinned until the new generation is written: a refresh reads the old one's KV.
  const existing = opened && 'manifest' in opened && trustedFor(opened.manifest, m) ? opened : undefined;
  try {
    const plan = existing ? planRefresh(existing.manifest.fingerprint, ctx) : undefined;
    if (existing && plan?.upToDate) {
      return {
        ...buildSummary(existing.manifest, existing.dir, m, true, 0, performance.now() - t0),
        timings: times.record(),
        manifest: existing.manifest,
        context: ctx,
      };
    }

    const memoryEstimateBytes = parts.checkMemory(m, ids.length, s.scoring ?? 'exact');
    // Writing a generation is long anyway: read every byte of the prepared weights it will link, and prepare
    // them again if any is wrong.
    await times.time('weightsCheck', () => m.checkWeights('full'));
    const gen = store.begin(key);
    try {
      const written = await writeGeneration({
        settings: s,
        model: m,
        store,
        key,
        gen,
        workspace: canonicalPath(s.workspace),
        context: ctx,
        ids,
        prefixLen: prefixIds.length,
        existing: existing && plan ? { ...existing, plan } : undefined,
        scoreChunk: parts.scoreChunk(m, ids.length),
        startedAt: t0,
        beforeDense: () => parts.answering.only('dense', m),
        progress,
        signal,
        times,
      });
      const summary = buildSummary(written.manifest, written.dir, m, false, written.prefillTokens, performance.now() - t0);
      return {
        ...summary,
        timings: times.record(),
        hostDeviceBytes: written.hostDeviceBytes,
        memoryEstimateBytes,
        manifest: written.manifest,
        context: ctx,
      };
    } catch (e) {
      rmSync(gen, { recursive: true, force: true });
      throw e;
    }
  } finally {
    if (opened && 'release' in opened) await opened.release();
  }
}
