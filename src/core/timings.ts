// Where a request's time went, phase by phase, for `build --json` and `ask --json`. Phases nest (the weights
// check runs inside the model's opening), and each counts only its own time, so the phases never overlap and
// their sum is at most the request's wall time.

/** The phases, in milliseconds; a phase that did not run is absent. */
export interface Timings {
  /** Finding the model, preparing its weights (reused when prepared), its graph: what is not timed below. */
  modelOpen?: number;
  tokenizer?: number;
  /** Checking the prepared weights against their hashes (sampled when opening, every byte before a build writes). */
  weightsCheck?: number;
  /** Reading the workspace into the context. */
  context?: number;
  /** Creating the onnxruntime session that prefills and scores (a refresh's over the earlier generation). */
  session?: number;
  prefill?: number;
  score?: number;
  /** Selecting the pairs to keep and writing them. */
  compact?: number;
  /** The answering graph and the manifest, committed. */
  write?: number;
  /** Opening the generation's answering session, less the tokenizer's loading, which overlaps it (engine/ask.ts). */
  answerSession?: number;
  /** From the question's first run to the answer's first token. */
  firstToken?: number;
  /** The answer's other tokens. */
  decode?: number;
  /** After the answer: is the cache older than the workspace? */
  staleCheck?: number;
  /** After the answer: the files it drew on. */
  sources?: number;
}

export type TimedPhase = keyof Timings;

export class PhaseTimes {
  private readonly ms: Timings = {};
  /** The phases running now, innermost last, with the time their inner phases took. */
  private readonly running: { inner: number }[] = [];

  add(phase: TimedPhase, ms: number): void {
    this.ms[phase] = (this.ms[phase] ?? 0) + ms;
    const outer = this.running.at(-1);
    if (outer) outer.inner += ms;
  }

  async time<T>(phase: TimedPhase, run: () => Promise<T>): Promise<T> {
    const frame = this.enter();
    try {
      return await run();
    } finally {
      this.leave(phase, frame);
    }
  }

  timeSync<T>(phase: TimedPhase, run: () => T): T {
    const frame = this.enter();
    try {
      return run();
    } finally {
      this.leave(phase, frame);
    }
  }

  /** The phases so far, in whole milliseconds. */
  record(): Timings {
    return Object.fromEntries(Object.entries(this.ms).map(([k, v]) => [k, Math.round(v)]));
  }

  private enter(): { inner: number; start: number } {
    const frame = { inner: 0, start: performance.now() };
    this.running.push(frame);
    return frame;
  }

  private leave(phase: TimedPhase, frame: { inner: number; start: number }): void {
    this.running.splice(this.running.lastIndexOf(frame), 1);
    const spent = performance.now() - frame.start;
    this.ms[phase] = (this.ms[phase] ?? 0) + spent - frame.inner;
    const outer = this.running.at(-1);
    if (outer) outer.inner += spent;
  }
}
