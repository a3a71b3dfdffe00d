// Progress in the user's words (src/core/progressWords.ts), the one wording of the CLI's progress line and the
// extension's notification, sidebar and status bar: each phase, the download's bytes, the time left from the
// build's estimate at the observed pace or from the observed rate, and an ask that builds first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PHASES, type Phase, type TimeEstimate } from '../../src/core/progress.ts';
import { bytesText, overallPercent, PHASE_WORDS, ProgressWords, timeLeftText } from '../../src/core/progressWords.ts';

/** A clock the test moves: ProgressWords reads the time only through it. */
function clock() {
  let ms = 0;
  return { now: () => ms, advance: (s: number) => void (ms += s * 1000) };
}

test('every phase reads as words, never as its id', () => {
  const ids = /\b(download|build-first|load-model|prefill|score|compress|write|load-cache)\b/;
  for (const phase of PHASES) {
    const { text, step } = new ProgressWords().next({ phase, done: 1, total: 4 });
    assert.ok(text.startsWith(PHASE_WORDS[phase]), `${phase}: ${text}`);
    assert.doesNotMatch(text, ids, `${phase}: ${text}`);
    assert.equal(step, phase === 'build-first' ? 'build-first' : phase);
  }
  const words = (phase: Phase, done: number, total: number) => new ProgressWords().next({ phase, done, total }).text;
  assert.equal(words('context', 30, 30), 'Reading the workspace', "the workspace's sub-steps count different things: no percent");
  assert.equal(words('load-model', 9, 20), 'Preparing the model (45%)');
  assert.equal(words('prefill', 450, 1000), 'Reading the context (45%)');
  assert.equal(words('score', 1, 5), 'Choosing what to keep (20%)');
  assert.equal(words('compress', 0, 1), 'Compressing the cache');
  assert.equal(words('write', 0, 1), 'Saving the cache');
  assert.equal(words('load-cache', 0, 1), 'Loading the cache');
});

test('time left: seconds, minutes, hours', () => {
  assert.equal(timeLeftText(3), 'a few seconds left');
  assert.equal(timeLeftText(42), 'about 40 s left');
  assert.equal(timeLeftText(58), 'about 1 min left');
  assert.equal(timeLeftText(190), 'about 3 min left');
  assert.equal(timeLeftText(80 * 60), 'about 1 h 20 min left');
  assert.equal(timeLeftText(2 * 3600 + 10), 'about 2 h left');
});

test('a download says its bytes, then its time left at the rate it keeps', () => {
  assert.equal(bytesText(1.2e9, 3.1e9), '1.2 of 3.1 GB');
  assert.equal(bytesText(45e6, 230e6), '45 of 230 MB');
  assert.equal(bytesText(4.5e6, 23e6), '4.5 of 23.0 MB');
  assert.equal(bytesText(1.2e9, 0), '1.2 GB so far');
  const c = clock();
  const w = new ProgressWords(c.now);
  const report = (done: number) => w.next({ phase: 'download', done, total: 3.1e9, message: 'Qwen2.5-Coder 1.5B Instruct' }).text;
  assert.equal(report(1.0e9), 'Downloading Qwen2.5-Coder 1.5B Instruct (1.0 of 3.1 GB)', 'no rate yet');
  c.advance(10);
  // 0.2 GB in 10 s: the 1.9 GB left take 95 s.
  assert.equal(report(1.2e9), 'Downloading Qwen2.5-Coder 1.5B Instruct (1.2 of 3.1 GB, about 2 min left)');
  assert.equal(new ProgressWords().next({ phase: 'download', done: 5e6, total: 0 }).text, 'Downloading the model (5.0 MB so far)');
});

test("the build's time left: the estimate first, then at the pace the prefill keeps, into the scoring", () => {
  const c = clock();
  const w = new ProgressWords(c.now);
  const estimate: TimeEstimate = { prefillSeconds: 100, scoreSeconds: 200, calibrated: true };
  assert.equal(w.next({ phase: 'prefill', done: 0, total: 1000, estimate }).text, 'Reading the context (0%, about 5 min left)');
  c.advance(10);
  // A quarter of the prefill in 10 s: 0.4 of the estimated pace, so 0.4 × (75 + 200) s = 110 s.
  assert.equal(w.next({ phase: 'prefill', done: 250, total: 1000 }).text, 'Reading the context (25%, about 2 min left)');
  c.advance(30);
  // The scoring's first moments keep the prefill's pace: 0.4 × 200 s.
  assert.equal(w.next({ phase: 'score', done: 0, total: 10 }).text, 'Choosing what to keep (0%, about 1 min left)');
  c.advance(40);
  // Half the scoring in 40 s: 0.4 of the pace again, 0.4 × 100 s left.
  assert.equal(w.next({ phase: 'score', done: 5, total: 10 }).text, 'Choosing what to keep (50%, about 40 s left)');
});

test('an estimate for another device gives only the split: the time left waits for the observed pace', () => {
  const c = clock();
  const w = new ProgressWords(c.now);
  const estimate: TimeEstimate = { prefillSeconds: 100, scoreSeconds: 100, calibrated: false };
  assert.equal(w.next({ phase: 'prefill', done: 0, total: 100, estimate }).text, 'Reading the context (0%)');
  c.advance(20);
  // 10% in 20 s, twice the estimate's pace: 2 × (90 + 100) s.
  assert.equal(w.next({ phase: 'prefill', done: 10, total: 100 }).text, 'Reading the context (10%, about 6 min left)');
});

test('without an estimate the prefill says no time (the scoring follows it), the scoring its own rate', () => {
  const c = clock();
  const w = new ProgressWords(c.now);
  w.next({ phase: 'prefill', done: 0, total: 100 });
  c.advance(30);
  assert.equal(w.next({ phase: 'prefill', done: 50, total: 100 }).text, 'Reading the context (50%)');
  w.next({ phase: 'score', done: 0, total: 8 });
  c.advance(60);
  assert.equal(w.next({ phase: 'score', done: 2, total: 8 }).text, 'Choosing what to keep (25%, about 3 min left)');
});

test("an ask that builds first says so, with the whole build's percent, until the cache loads", () => {
  const c = clock();
  const w = new ProgressWords(c.now);
  assert.equal(w.next({ phase: 'load-model', done: 5, total: 10 }).text, 'Preparing the model (50%)');
  const first = w.next({ phase: 'build-first', done: 0, total: 1, message: 'no cache yet' });
  assert.deepEqual(first, { text: 'Building the cache first (0%)', step: 'build-first', percent: 0 });
  const estimate: TimeEstimate = { prefillSeconds: 60, scoreSeconds: 60, calibrated: true };
  const views = [
    w.next({ phase: 'context', done: 3, total: 3 }),
    w.next({ phase: 'prefill', done: 0, total: 100, estimate }),
    w.next({ phase: 'prefill', done: 100, total: 100 }),
    w.next({ phase: 'score', done: 4, total: 4 }),
    w.next({ phase: 'write', done: 1, total: 1 }),
  ];
  for (const v of views) {
    assert.match(v.text, /^Building the cache first \(\d+%(, [^)]+ left)?\)$/, v.text);
    assert.equal(v.step, 'build-first', 'one step: a log gets one line for the build, then a line every while');
  }
  assert.equal(views[1]!.text, 'Building the cache first (15%, about 2 min left)');
  const percents = views.map((v) => v.percent);
  assert.deepEqual(
    percents,
    [...percents].sort((a, b) => a - b),
    `the percent only grows: ${percents}`,
  );
  assert.equal(percents.at(-1), 100);
  assert.equal(w.next({ phase: 'load-cache', done: 0, total: 1 }).text, 'Loading the cache');
});

test("the whole build's percent moves through the phases in order; the estimate splits prefill and scoring", () => {
  assert.equal(overallPercent('load-model', 1, 1), 10);
  assert.equal(overallPercent('context', 1, 1), 15);
  assert.equal(overallPercent('prefill', 1, 2), 33);
  assert.equal(overallPercent('write', 1, 1), 100);
  assert.equal(overallPercent('answer', 1, 1), 0);
  // Scoring three times as long as the prefill: the prefill's end is at 15 + 70/4.
  assert.equal(overallPercent('prefill', 1, 1, { prefillSeconds: 10, scoreSeconds: 30, calibrated: true }), 33);
  assert.equal(overallPercent('score', 0, 1, { prefillSeconds: 10, scoreSeconds: 30, calibrated: true }), 33);
});
