// What the build and ask jobs use of the engine: its loaded models, entry keys, contexts and the answering session.
import type { ProgressFn } from '../core/progress.ts';
import type { PhaseTimes } from '../core/timings.ts';
import type { Scoring } from '../core/choices.ts';
import type { BuiltContext } from '../context/types.ts';
import type { Answering } from './answering.ts';
import type { LoadedModel } from './model.ts';
import type { CacheSettings } from './protocol.ts';

export interface EngineParts {
  /** The model for these settings, opened once per engine; `times` gets the opening's phases when it opens here. */
  model(
    r: CacheSettings & { int4?: boolean; hfToken?: string },
    progress?: ProgressFn,
    signal?: AbortSignal,
    times?: PhaseTimes,
  ): Promise<LoadedModel>;
  entryKey(s: CacheSettings, m: LoadedModel): string;
  context(s: CacheSettings, m: LoadedModel, signal?: AbortSignal, progress?: ProgressFn): Promise<BuiltContext>;
  /** KVzip's chunk m for a sequence of `tokens`. */
  scoreChunk(m: LoadedModel, tokens: number): number;
  /** Refuses, with numbers and proposals, a context that would not fit on the model's device; the estimate. */
  checkMemory(m: LoadedModel, tokens: number, scoring: Scoring): number | undefined;
  answering: Answering;
}
