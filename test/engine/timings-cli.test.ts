// `build --json` and `ask --json` say where their time went: one entry per phase, in ms, none overlapping another,
// so that a slow build or a slow first answer can be pinned on its phase. Runs the real CLI on stories260K.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliJson, skipWithoutStories as skip, STORIES, storyWorkspace } from '../support/cli.ts';
import type { Timings } from '../../src/core/timings.ts';

/** Runs the CLI and returns its JSON with the wall time of the whole process, as the user waited for it. */
async function timed<T>(args: string[]): Promise<{ result: T; wallMs: number }> {
  const t0 = performance.now();
  const result = await cliJson<T>(args);
  return { result, wallMs: performance.now() - t0 };
}

function checkPhases(timings: Timings, phases: (keyof Timings)[], wallMs: number): void {
  for (const p of phases)
    assert.ok(Number.isFinite(timings[p]) && timings[p]! >= 0, `timings.${p} is a duration: ${JSON.stringify(timings)}`);
  const sum = Object.values(timings).reduce((a, b) => a + b, 0);
  assert.ok(sum <= wallMs, `the phases sum to ${sum} ms, more than the ${Math.round(wallMs)} ms the command took`);
}

test('build and ask --json time their phases, which sum to no more than the command took', { skip }, async (t) => {
  const ws = storyWorkspace();
  const cache = mkdtempSync(join(tmpdir(), 'kvzip-cache-'));
  t.after(() => {
    rmSync(ws, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  });
  const common = ['--model', STORIES, '--cache-dir', cache];

  const build = await timed<{ timings: Timings; buildMs: number }>(['build', ws, ...common]);
  const buildPhases = ['modelOpen', 'tokenizer', 'weightsCheck', 'context', 'session', 'prefill', 'score', 'compact', 'write'] as const;
  checkPhases(build.result.timings, [...buildPhases], build.wallMs);
  assert.ok(build.result.timings.prefill! > 0 && build.result.timings.score! > 0, 'the build prefilled and scored');

  // A new process answers from the cache: what a restart costs until the first token, and then per token.
  const ask = await timed<{ timings: Timings; fromCache: boolean; answerTokens: number }>([
    'ask',
    ws,
    'Who is Tom?',
    ...common,
    '--max-tokens',
    '8',
  ]);
  assert.equal(ask.result.fromCache, true);
  assert.ok(ask.result.answerTokens > 0);
  const askPhases = ['modelOpen', 'tokenizer', 'weightsCheck', 'answerSession', 'firstToken', 'decode', 'staleCheck', 'sources'] as const;
  checkPhases(ask.result.timings, [...askPhases], ask.wallMs);
  assert.equal(ask.result.timings.prefill, undefined, 'an ask from the cache prefills no context');
});
