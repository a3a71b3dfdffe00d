// The CLI's progress on stderr, in the words the extension shows (core/progressWords.ts). On a terminal it is one
// line that updates in place; piped into a log it is a line per step and then one every LOG_INTERVAL_MS, so a few
// seconds of work take a few lines. --debug prints each report as the engine sent it.
import { ProgressWords, type ProgressReport } from '../core/progressWords.ts';

/** How often a piped log gets a line while one step goes on. */
export const LOG_INTERVAL_MS = 10_000;
/** A terminal's line is redrawn at most this often (a step's first words always show). */
const REDRAW_MS = 100;

export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export class ProgressOutput {
  private readonly words: ProgressWords;
  /** What the terminal's progress line shows now ('' when none). */
  private shown = '';
  private last = { step: '', text: '', at: -Infinity };

  constructor(
    private readonly out: ProgressStream,
    private readonly debug = false,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.words = new ProgressWords(now);
  }

  report(r: ProgressReport): void {
    if (this.debug) return this.debugLine(r);
    const { text, step } = this.words.next(r);
    const now = this.now();
    const newStep = step !== this.last.step;
    if (text === this.last.text) return;
    if (this.out.isTTY) {
      if (!newStep && now - this.last.at < REDRAW_MS) return;
      this.draw(text);
    } else {
      if (!newStep && now - this.last.at < LOG_INTERVAL_MS) return;
      this.out.write(`${text}\n`);
    }
    this.last = { step, text, at: now };
  }

  /** A line that stays (a notice): above the progress line on a terminal. */
  note(line: string): void {
    const shown = this.shown;
    this.clear();
    this.out.write(`${line}\n`);
    if (shown) this.draw(shown);
  }

  /** Takes the progress line off a terminal, before the result or an answer's first token. */
  clear(): void {
    if (!this.shown) return;
    this.out.write('\r\x1b[K');
    this.shown = '';
  }

  private draw(text: string): void {
    // A line wider than the terminal wraps, and \r then redraws only its last row.
    const fit = this.out.columns ? text.slice(0, this.out.columns - 1) : text;
    this.out.write(`\r${fit}\x1b[K`);
    this.shown = fit;
  }

  private debugLine(r: ProgressReport): void {
    const percent = r.total > 0 ? ` (${Math.floor((100 * r.done) / r.total)}%)` : '';
    const line = `debug: ${r.phase} ${r.done}/${r.total}${percent}${r.message ? ` ${r.message}` : ''}`;
    if (line !== this.last.text) this.out.write(`${line}\n`);
    this.last = { step: r.phase, text: line, at: this.now() };
  }
}
