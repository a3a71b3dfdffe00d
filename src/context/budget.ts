// Token budget policy for a repository bigger than the window: what goes in is chosen by rank, and a file
// that does not fit whole goes in as its outline before anything ranked below it goes in at all.
//
// Tier by tier (pins, source, tests, docs and examples, configuration and CI), in rank order:
//   1. every file of the tier goes in in its smallest form (its outline when it has one, else whole);
//   2. then, still in rank order, outlines are replaced by the whole file while the budget allows.
// The first file whose smallest form does not fit ends the fill: every file ranked below it is left out, so
// a central file is never dropped while a lower-ranked one stays in. The one exception is a file with no
// outline that alone takes more than a quarter of the budget: it is left out and the fill goes on inside its
// tier (no outline can shrink it, and stopping there would leave most of the window empty), but no lower tier
// goes in. Step 2 still runs in a tier that ended: the files it upgrades rank above the one that missed.
// A file whose smallest form is larger than the whole budget keeps nothing out: no choice of other files could
// make room for it. And when the ranked fill leaves the context empty (every file it reached was too big), the
// files it never measured fill the budget, smallest first within each tier, rather than an empty context.
//
// The old policy, "largest files first", left out the heart of every real repository we tried: its largest
// files are its core modules (issue 12).
export const HUGE_SHARE = 0.25;

export class TokenBudget {
  private used = 0;

  constructor(readonly max: number) {}

  get left(): number {
    return this.max - this.used;
  }

  get spent(): number {
    return this.used;
  }

  /** Takes n tokens if they fit. */
  take(n: number): boolean {
    if (this.used + n > this.max) return false;
    this.used += n;
    return true;
  }

  /** Gives back n tokens (an outline replaced by its whole file). */
  give(n: number): void {
    this.used -= n;
  }

  /** A file with no outline this large is skipped rather than ending the fill. */
  isHuge(tokens: number): boolean {
    return tokens > HUGE_SHARE * this.max;
  }
}
