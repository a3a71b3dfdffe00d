// The warm request opens the model and the workspace's compressed cache before the first question (the extension
// sends it when its view opens after a restart): the question that follows loads nothing and answers as a cold
// engine does. Without a cache, or with a model that would have to be downloaded, it does nothing and says why.
// Runs the real engine process on stories260K.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineClient } from '../../src/engine/client.ts';
import { skipWithoutStories as skip, STORIES, storyWorkspace } from '../support/cli.ts';

const ENGINE = fileURLToPath(new URL('../../dist/engine.js', import.meta.url));

test('a warmed engine answers its first question without opening anything, as a cold one does', { skip }, async (t) => {
  const ws = storyWorkspace();
  const cache = mkdtempSync(join(tmpdir(), 'kvzip-warm-'));
  const clients: EngineClient[] = [];
  const engine = () => {
    const c = new EngineClient(ENGINE);
    clients.push(c);
    return c;
  };
  t.after(() => {
    for (const c of clients) c.dispose();
    rmSync(ws, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  });
  const settings = { workspace: ws, model: STORIES, cacheDir: cache, device: 'cpu', ratio: 0.3, level: 'pair' } as const;
  const question = { question: 'Who is Tom?', maxTokens: 12 };

  const none = await engine().request({ type: 'warm', ...settings }).result;
  assert.deepEqual([none.ready, none.reason], [false, 'no cache yet']);
  assert.equal(existsSync(join(cache, 'entries')) && readdirSync(join(cache, 'entries')).length > 0, false, 'warming built nothing');

  await engine().request({ type: 'build', ...settings }).result;
  const cold = await engine().request({ type: 'ask', ...settings, ...question }).result;
  assert.ok(cold.timings.answerSession !== undefined && cold.timings.tokenizer !== undefined, 'a cold ask opens the model and the cache');

  const warmed = engine();
  const warm = await warmed.request({ type: 'warm', ...settings }).result;
  assert.equal(warm.ready, true, warm.reason);
  assert.ok(warm.timings.tokenizer !== undefined && warm.timings.answerSession !== undefined, JSON.stringify(warm.timings));
  const hot = await warmed.request({ type: 'ask', ...settings, ...question }).result;
  assert.equal(hot.fromCache, true);
  assert.equal(hot.timings.tokenizer, undefined, `the model was open already: ${JSON.stringify(hot.timings)}`);
  assert.equal(hot.timings.weightsCheck, undefined, `the cache's session was open already: ${JSON.stringify(hot.timings)}`);
  assert.equal(hot.answer, cold.answer, 'the warmed session answers as a cold one');
});

test('warming with a preset that is not downloaded fetches nothing and says so', async (t) => {
  const ws = mkdtempSync(join(tmpdir(), 'kvzip-warm-ws-'));
  const cache = mkdtempSync(join(tmpdir(), 'kvzip-warm-'));
  const client = new EngineClient(ENGINE);
  t.after(() => {
    client.dispose();
    rmSync(ws, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  });
  const settings = { workspace: ws, model: 'qwen2.5-coder-1.5b', cacheDir: cache, device: 'cpu', ratio: 0.3, level: 'pair' } as const;
  const r = await client.request({ type: 'warm', ...settings }).result;
  assert.equal(r.ready, false);
  assert.match(r.reason ?? '', /not downloaded yet/);
  assert.deepEqual(readdirSync(cache), [], 'nothing was written to the cache folder');
});
