// A long request's progress in the user's words: the step, how far it is and how long is left. One wording for
// the CLI's progress line and the extension's notification, sidebar and status bar, so all of them say the same.
import type { Phase, TimeEstimate } from './progress.ts';

/** One progress report, as the engine sends it. */
export interface ProgressReport {
  phase: Phase;
  done: number;
  total: number;
  message?: string;
  estimate?: TimeEstimate;
}

/** Each phase as the user reads it. */
export const PHASE_WORDS: Record<Phase, string> = {
  download: 'Downloading the model',
  'build-first': 'Building the cache first',
  context: 'Reading the workspace',
  'load-model': 'Preparing the model',
  prefill: 'Reading the context',
  score: 'Choosing what to keep',
  compress: 'Compressing the cache',
  write: 'Saving the cache',
  'load-cache': 'Loading the cache',
  answer: 'Answering',
};

/** The phases of a build, in the order it runs them (the model loads first), with their rough share of its time, so one bar moves through all of them. */
const BUILD_WEIGHT: Partial<Record<Phase, number>> = {
  // A first download can take far longer than everything else: its words carry its own bytes and time.
  download: 0,
  'load-model': 10,
  context: 5,
  prefill: 35,
  score: 35,
  compress: 10,
  write: 5,
};
const BUILD_ORDER = Object.keys(BUILD_WEIGHT) as Phase[];
/** The phases that make up the build an ask runs first. */
const BUILD_STEPS = new Set<Phase>(['context', 'prefill', 'score', 'compress', 'write']);

/** The phases whose reports count one kind of work (tensors, tokens, chunks), so their share done means something. */
const COUNTED = new Set<Phase>(['load-model', 'prefill', 'score']);

/** A rate is read only after this long in a phase: the first reports come before any real work is timed. */
const MIN_OBSERVED_S = 2;

/** 0..100 over the whole build; the prefill and scoring share their part as the time estimate splits it. */
export function overallPercent(phase: Phase, done: number, total: number, estimate?: TimeEstimate): number {
  const i = BUILD_ORDER.indexOf(phase);
  if (i < 0) return 0;
  const weight = { ...BUILD_WEIGHT };
  const long = estimate && estimate.prefillSeconds + estimate.scoreSeconds;
  if (estimate && long) {
    const both = BUILD_WEIGHT.prefill! + BUILD_WEIGHT.score!;
    weight.prefill = (both * estimate.prefillSeconds) / long;
    weight.score = (both * estimate.scoreSeconds) / long;
  }
  const before = BUILD_ORDER.slice(0, i).reduce((s, p) => s + weight[p]!, 0);
  return Math.round(before + weight[phase]! * fraction(done, total));
}

/** "a few seconds left", "about 40 s left", "about 3 min left", "about 1 h 20 min left". */
export function timeLeftText(seconds: number): string {
  if (seconds < 10) return 'a few seconds left';
  if (seconds < 55) return `about ${Math.round(seconds / 10) * 10} s left`;
  const minutes = Math.max(1, Math.round(seconds / 60));
  if (minutes < 60) return `about ${minutes} min left`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  return `about ${h} h${m ? ` ${m} min` : ''} left`;
}

/** "1.2 of 3.1 GB", "45 of 230 MB"; "1.2 GB so far" when the total is not known. */
export function bytesText(done: number, total: number): string {
  const scale = total || done;
  const [unit, size, digits] = scale >= 1e9 ? ['GB', 1e9, 1] : scale >= 1e6 ? ['MB', 1e6, scale >= 1e8 ? 0 : 1] : ['kB', 1e3, 0];
  const f = (n: number) => (n / size).toFixed(digits);
  return total ? `${f(done)} of ${f(total)} ${unit}` : `${f(done)} ${unit} so far`;
}

function fraction(done: number, total: number): number {
  return total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
}

/** What a progress report shows. */
export interface ProgressView {
  /** The words: "Reading the context (45%, about 3 min left)". */
  text: string;
  /** The step the words are about; a new one is worth a new line in a log. */
  step: string;
  /** 0..100 over the whole build, for a bar. */
  percent: number;
}

/**
 * Turns one request's progress reports into words. The time left comes from the build's time estimate where
 * the engine sent one (scaled by the pace observed so far), else from the rate the current phase has kept.
 */
export class ProgressWords {
  private readonly started = new Map<Phase, { at: number; fraction: number; done: number }>();
  private estimate: TimeEstimate | undefined;
  /** Observed seconds per estimated second, kept from the prefill for the scoring's first moments. */
  private pace: number | undefined;
  private buildingFirst = false;

  /** `now` in milliseconds (a test passes its own clock). */
  constructor(private readonly now: () => number = () => performance.now()) {}

  next(r: ProgressReport): ProgressView {
    if (r.phase === 'build-first') this.buildingFirst = true;
    if (r.estimate) this.estimate = r.estimate;
    const f = fraction(r.done, r.total);
    let start = this.started.get(r.phase);
    if (!start) this.started.set(r.phase, (start = { at: this.now(), fraction: f, done: r.done }));
    const elapsed = (this.now() - start.at) / 1000;
    const seconds = this.secondsLeft(r, f, start, elapsed);
    const left = seconds === undefined ? '' : timeLeftText(seconds);
    const percent = overallPercent(r.phase, r.done, r.total, this.estimate);

    if (this.buildingFirst && (r.phase === 'build-first' || BUILD_STEPS.has(r.phase)))
      return { text: `${PHASE_WORDS['build-first']} (${[`${percent}%`, left].filter(Boolean).join(', ')})`, step: 'build-first', percent };
    const words = r.phase === 'download' && r.message ? `Downloading ${r.message}` : PHASE_WORDS[r.phase];
    const figure =
      r.phase === 'download' ? bytesText(r.done, r.total) : COUNTED.has(r.phase) && r.total > 1 ? `${Math.floor(100 * f)}%` : '';
    const detail = [figure, left].filter(Boolean).join(', ');
    return { text: detail ? `${words} (${detail})` : words, step: r.phase, percent };
  }

  private secondsLeft(r: ProgressReport, f: number, start: { fraction: number; done: number }, elapsed: number): number | undefined {
    if (elapsed < MIN_OBSERVED_S) return this.estimated(r.phase, f, undefined);
    if (r.phase === 'download') {
      const rate = (r.done - start.done) / elapsed;
      return r.total > 0 && rate > 0 ? (r.total - r.done) / rate : undefined;
    }
    const moved = f - start.fraction;
    if (r.phase === 'prefill' || r.phase === 'score') {
      const est = this.estimate && (r.phase === 'prefill' ? this.estimate.prefillSeconds : this.estimate.scoreSeconds);
      if (est) return this.estimated(r.phase, f, moved > 0 ? elapsed / (est * moved) : undefined);
      // Without an estimate the prefill cannot foresee the scoring after it.
      if (r.phase === 'prefill') return undefined;
    } else if (r.phase !== 'load-model') return undefined;
    return moved > 0 ? (elapsed / moved) * (1 - f) : undefined;
  }

  /** The prefill's and the scoring's time left from the estimate, at the observed pace, else the kept one. */
  private estimated(phase: Phase, f: number, observed: number | undefined): number | undefined {
    const e = this.estimate;
    if (!e || (phase !== 'prefill' && phase !== 'score')) return undefined;
    if (observed !== undefined) this.pace = observed;
    const pace = this.pace ?? (e.calibrated ? 1 : undefined);
    if (pace === undefined) return undefined;
    const work = phase === 'prefill' ? e.prefillSeconds * (1 - f) + e.scoreSeconds : e.scoreSeconds * (1 - f);
    return pace * work;
  }
}
