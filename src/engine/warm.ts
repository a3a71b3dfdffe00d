// The warm job: the model and the workspace's compressed cache opened ahead of the first question, so that an
// answer after a restart waits only for its own tokens. The extension sends it when its view opens on a workspace
// with a cache and after a build; it never builds, downloads or imports anything.
import type { ProgressFn } from '../core/progress.ts';
import { PhaseTimes } from '../core/timings.ts';
import { CacheStore } from '../cache/store.ts';
import { ENTRY_FILES } from './build.ts';
import { trustedFor } from './entryFacts.ts';
import type { EngineParts } from './parts.ts';
import type { CacheSettings, WarmResult } from './protocol.ts';
import { modelIsLocal } from './resolveModel.ts';
import { checkCacheNotWorkspace } from './workspace.ts';

export async function warmCache(parts: EngineParts, s: CacheSettings, progress?: ProgressFn, signal?: AbortSignal): Promise<WarmResult> {
  const times = new PhaseTimes();
  checkCacheNotWorkspace(s);
  // A model that is not on this machine waits for the user's first request, which says what it will download.
  const local = modelIsLocal(s.model, s.cacheDir);
  if (local !== true) return { ready: false, reason: local, timings: times.record() };
  parts.answering.prepare(s.device);
  const m = await times.time('modelOpen', () => parts.model(s, progress, signal, times));
  const opened = await new CacheStore(s.cacheDir).open(parts.entryKey(s, m), ENTRY_FILES);
  if (!('manifest' in opened)) return { ready: false, reason: opened.problem, timings: times.record() };
  try {
    if (!trustedFor(opened.manifest, m)) return { ready: false, reason: 'the cache was built with another model', timings: times.record() };
    signal?.throwIfAborted();
    // The tokenizer loads while the session opens on its thread (see ask.ts).
    await times.time('answerSession', () =>
      parts.answering.openFor(m, opened.dir, opened.manifest, progress, times, () => m.loadTokenizer(times)),
    );
  } finally {
    await opened.release();
  }
  return { ready: true, timings: times.record() };
}
