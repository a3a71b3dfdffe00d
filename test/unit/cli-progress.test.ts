// The CLI's progress on stderr (src/cli/progressOutput.ts): piped into a log, a line per step and then one every
// ten seconds at most; on a terminal, one line redrawn in place, with notices kept above it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOG_INTERVAL_MS, ProgressOutput, type ProgressStream } from '../../src/cli/progressOutput.ts';

function stream(isTTY: boolean, columns?: number): ProgressStream & { text: string } {
  const s = {
    text: '',
    isTTY,
    columns,
    write(t: string) {
      s.text += t;
      return true;
    },
  };
  return s;
}

test('piped: one line per step for seconds of work, and a line every ten seconds while a step goes on', () => {
  const out = stream(false);
  let ms = 0;
  const p = new ProgressOutput(out, false, () => ms);
  // Five seconds of a small build, reported as often as the engine reports it.
  for (let i = 1; i <= 50; i++, ms += 20) p.report({ phase: 'load-model', done: i, total: 50 });
  p.report({ phase: 'context', done: 30, total: 30, message: 'discover' });
  p.report({ phase: 'context', done: 30, total: 30, message: 'read' });
  for (let i = 0; i <= 400; i += 4, ms += 10) p.report({ phase: 'prefill', done: i, total: 400 });
  for (let i = 1; i <= 5; i++, ms += 300) p.report({ phase: 'score', done: i, total: 5 });
  p.report({ phase: 'compress', done: 0, total: 1 });
  p.report({ phase: 'write', done: 0, total: 1 });
  p.report({ phase: 'write', done: 1, total: 1 });
  assert.deepEqual(out.text.trimEnd().split('\n'), [
    'Preparing the model (2%)',
    'Reading the workspace',
    'Reading the context (0%)',
    'Choosing what to keep (20%)',
    'Compressing the cache',
    'Saving the cache',
  ]);
  // A long step: one more line only once ten seconds have passed.
  const long = stream(false);
  ms = 0;
  const q = new ProgressOutput(long, false, () => ms);
  for (let i = 0; i < 100; i++, ms += 250) q.report({ phase: 'score', done: i, total: 100 });
  const lines = long.text.trimEnd().split('\n');
  assert.equal(lines.length, 1 + Math.floor((99 * 250) / LOG_INTERVAL_MS), lines.join('\n'));
  // 40 of 100 in 10 s: the 60 left take 15 s.
  assert.equal(lines[1], 'Choosing what to keep (40%, about 20 s left)');
});

test('terminal: one line redrawn in place, cut to the width; a notice goes above it; clear takes it off', () => {
  const out = stream(true, 30);
  let ms = 0;
  const p = new ProgressOutput(out, false, () => ms);
  p.report({ phase: 'prefill', done: 0, total: 100 });
  ms += 500;
  p.report({ phase: 'prefill', done: 50, total: 100 });
  p.note('kvzip-code: a notice');
  p.clear();
  assert.equal(
    out.text,
    '\rReading the context (0%)\x1b[K' +
      '\rReading the context (50%)\x1b[K' +
      '\r\x1b[Kkvzip-code: a notice\n\rReading the context (50%)\x1b[K' +
      '\r\x1b[K',
  );
  assert.ok(!out.text.includes('\n\r\x1b[K\r'), 'nothing drawn twice');
  const narrow = stream(true, 12);
  new ProgressOutput(narrow).report({ phase: 'score', done: 1, total: 2 });
  assert.equal(narrow.text, '\rChoosing wh\x1b[K', 'a line wider than the terminal would wrap, and \\r redraw only its last row');
});

test('--debug prints each report as the engine sent it', () => {
  const out = stream(false);
  const p = new ProgressOutput(out, true);
  p.report({ phase: 'context', done: 3, total: 3, message: 'discover' });
  p.report({ phase: 'prefill', done: 10, total: 40 });
  p.report({ phase: 'prefill', done: 10, total: 40 });
  assert.equal(out.text, 'debug: context 3/3 (100%) discover\ndebug: prefill 10/40 (25%)\n');
});
