// Cancelling, as a user does it: Ctrl-C (SIGINT to the terminal's whole process group) at every phase of `build`
// and `context`, SIGTERM and SIGHUP to the CLI while its engine is busy in a model run or a weight conversion, and
// the engine client's cancel that the extension sends, right after the engine starts. Each ends as "Cancelled"
// (exit 128 + the signal in the CLI), never as an internal error or a crash, stops the engine within 2 s, and
// leaves no temporary file, lease or lock in the cache folder. The real CLI, engine process and models.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineClient, EngineError } from '../../src/engine/client.ts';
import { cli, leftovers, signalCliAt, skipWithoutStories as skip, STACK, STORIES, type SignalledRun } from '../support/cli.ts';
import { writeSparseModel } from '../support/sparseModel.ts';
import type { Phase } from '../../src/core/progress.ts';
import { PHASE_WORDS } from '../../src/core/progressWords.ts';

const ENGINE = fileURLToPath(new URL('../../dist/engine.js', import.meta.url));

function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Enough short stories that each phase of a stories260K build lasts a moment. */
function stories(): string {
  const ws = tmp('kvzip-ws-');
  for (let i = 0; i < 30; i++) {
    writeFileSync(join(ws, `story${i}.txt`), `Once upon a time there was a cat named Tom ${i}. Tom liked to play with a red ball.\n`);
  }
  return ws;
}

function assertCancelled(r: SignalledRun, exitCode: number, what: string, cache: string): void {
  assert.ok(!r.timedOut, `${what}: hung:\n${r.stderr}`);
  assert.equal(r.code, exitCode, `${what}: exit code (signal ${r.exitSignal}):\n${r.stderr}`);
  assert.match(r.stderr, /^kvzip-code: Cancelled$/m, `${what}: says Cancelled:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /Internal error|This is a bug|was killed by/, `${what}: not an error:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, STACK, `${what}: no stack:\n${r.stderr}`);
  assert.deepEqual(leftovers(cache), [], `${what}: no temporary files left`);
}

test('Ctrl-C at every phase of build and context exits 130 with "Cancelled" and leaves no temporary files', { skip }, async (t) => {
  const ws = stories();
  const cache = tmp('kvzip-cache-');
  t.after(() => {
    for (const d of [ws, cache]) rmSync(d, { recursive: true, force: true });
  });
  const common = ['--model', STORIES, '--cache-dir', cache];
  // Each step's words show when it starts; the workspace's sub-steps show only in --debug's reports.
  const words = (p: Phase) => new RegExp(`^${PHASE_WORDS[p]}`, 'm');
  const phases: [string, string[], RegExp][] = [
    // The first build prepares the weights.
    ['build: load-model', ['build', ws, ...common], words('load-model')],
    ['build: context', ['build', ws, ...common, '--force'], words('context')],
    ['build: prefill', ['build', ws, ...common, '--force'], words('prefill')],
    ['build: score', ['build', ws, ...common, '--force'], words('score')],
    ['build: compress', ['build', ws, ...common, '--force'], words('compress')],
    ['build: write', ['build', ws, ...common, '--force'], words('write')],
    ['context: discover', ['context', ws, ...common, '--debug'], /^debug: context .*discover/m],
    ['context: stat', ['context', ws, ...common, '--debug'], /^debug: context .*stat/m],
    // Not its last phase (render): the preview is done before a signal sent then arrives, and exits 0.
    ['context: read', ['context', ws, ...common, '--debug'], /^debug: context .*read/m],
  ];
  for (const [what, args, phase] of phases) {
    const r = await signalCliAt(args, phase, 'SIGINT', { group: true });
    assert.ok(r.sent, `${what}: the phase never showed:\n${r.stderr}`);
    assertCancelled(r, 130, what, cache);
  }
  // What the cancels left is a cache that still builds.
  const built = await cli(['build', ws, ...common]);
  assert.equal(built.code, 0, built.stderr);
});

test('SIGTERM and SIGHUP stop an engine busy in a model run or a weight conversion within 2 s, and clean up', { skip }, async (t) => {
  // Zero weights of ~135M parameters as int4: preparing them takes seconds, and so does the first prefill.
  const root = tmp('kvzip-busy-');
  const ws = stories();
  t.after(() => {
    for (const d of [root, ws]) rmSync(d, { recursive: true, force: true });
  });
  const model = writeSparseModel(join(root, 'model'), { hiddenSize: 1024, intermediateSize: 4096, numLayers: 8, numKvHeads: 8 }).dir;
  const cache = join(root, 'cache');
  const args = ['build', ws, '--model', model, '--cache-dir', cache, '--int4', '--debug'];
  const cases: [string, RegExp, NodeJS.Signals, number][] = [
    ['SIGHUP while the weights are converted', /^debug: load-model .*\((?:[1-9]\d?)%\)/m, 'SIGHUP', 129],
    ['SIGTERM while the context is prefilled', /^debug: context .*render/m, 'SIGTERM', 143],
  ];
  for (const [what, phase, signal, exitCode] of cases) {
    const r = await signalCliAt(args, phase, signal);
    assert.ok(r.sent, `${what}: the phase never showed:\n${r.stderr}`);
    assertCancelled(r, exitCode, what, cache);
    assert.ok(
      r.engineGoneMs !== undefined && r.engineGoneMs < 2_000,
      `${what}: the engine stopped ${r.engineGoneMs?.toFixed(0)} ms after the signal`,
    );
    assert.ok(r.exitMs! < 2_000, `${what}: the CLI exited ${r.exitMs!.toFixed(0)} ms after the signal`);
  }
});

test("the engine client's cancel, right after the engine starts and in every context phase, ends as cancelled", { skip }, async (t) => {
  const ws = stories();
  const cache = tmp('kvzip-cache-');
  const client = new EngineClient(ENGINE);
  const crashes: string[] = [];
  client.onCrash((m) => crashes.push(m));
  t.after(() => {
    client.dispose();
    for (const d of [ws, cache]) rmSync(d, { recursive: true, force: true });
  });
  const settings = { workspace: ws, model: STORIES, cacheDir: cache, device: 'cpu', ratio: 0.3, level: 'pair' } as const;
  // Warm: the weights prepared, so that each phase below is reached.
  await client.request({ type: 'build', ...settings }).result;
  const points: [string, 'build' | 'context', RegExp | undefined][] = [
    ['build, at once', 'build', undefined],
    ['context, at once', 'context', undefined],
    ...(['discover', 'stat', 'order', 'read', 'render'] as const).flatMap((p): [string, 'build' | 'context', RegExp][] => [
      [`build, context ${p}`, 'build', new RegExp(p)],
      [`context, ${p}`, 'context', new RegExp(p)],
    ]),
  ];
  for (const [what, type, at] of points) {
    const body = type === 'build' ? ({ type, ...settings, force: true } as const) : ({ type, ...settings } as const);
    const running = client.request(body, (e) => {
      if (at && e.type === 'progress' && e.phase === 'context' && at.test(e.message ?? '')) running.cancel();
    });
    if (!at) running.cancel();
    const outcome = await running.result.then(
      () => 'finished',
      (e: unknown) => (e instanceof EngineError ? `${e.code}: ${e.message}` : String(e)),
    );
    // A cancel that came after the work was done may let it finish; it must never fail.
    assert.match(outcome, /^(cancelled: Cancelled|finished)$/, `${what}: ${outcome}`);
    if (!at) assert.equal(outcome, 'cancelled: Cancelled', `${what}: cancelled before it began`);
  }
  assert.deepEqual(crashes, []);
  assert.deepEqual(leftovers(cache), []);
});
