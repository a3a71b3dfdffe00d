// The extension's first run and failures, without VS Code: when a build asks first and what it offers instead
// (from a real context preview's figures), errors in the settings' words with the buttons that fix them, and the
// conversations kept between windows.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CONFIRM_SECONDS, confirmationText, needsConfirmation, smallerSettings } from '../../src/extension/buildCost.ts';
import { failureOf, inEditorTerms } from '../../src/extension/errors.ts';
import { ConversationStore, MAX_CONVERSATIONS, newConversationId } from '../../src/extension/conversations.ts';
import { buildEstimate, presetDownloadBytes } from '../../src/engine/estimate.ts';
import { EngineError } from '../../src/engine/client.ts';
import { findPreset } from '../../src/model/presets.ts';
import type { ContextPreview } from '../../src/engine/protocol.ts';
import type { Turn } from '../../src/webview/messages.ts';

const qwen = findPreset('qwen2.5-coder-1.5b')!;

/** A preview of `tokens` of files with Qwen2.5-Coder-1.5B's shape and window, as the engine would answer it. */
function preview(tokens: number, o: { download?: boolean; maxContextTokens?: number } = {}): ContextPreview {
  const window = o.maxContextTokens ?? qwen.contextWindow;
  const reserve = Math.min(1024, Math.floor(window / 4));
  const limit = { window, prefixTokens: 22, reserveTokens: reserve, maxTokens: window - 22 - reserve };
  const files = Math.min(tokens, limit.maxTokens);
  const sequenceTokens = 22 + files;
  return {
    workspace: '/ws',
    modelDir: '/models/qwen',
    ...(o.download ? { download: { model: qwen.label, repo: qwen.repo, bytes: presetDownloadBytes(qwen) } } : {}),
    shape: qwen.shape,
    limit,
    report: {
      totalTokens: files,
      stats: { scanned: 270 } as ContextPreview['report']['stats'],
      included: Array.from({ length: 70 }, (_, i) => ({
        path: `f${i}.ts`,
        tokens: Math.floor(files / 70),
        bytes: 1,
        outline: i % 3 === 0,
        rank: i + 1,
        kind: 'source' as const,
      })),
      omitted: [],
    },
    sequenceTokens,
    estimate: buildEstimate(qwen.shape, sequenceTokens, window, { device: 'cpu' }),
    ms: 1,
  };
}

test("a preset's download size comes from its shape: bf16 safetensors, as the Hub lists them", () => {
  // The Hub lists Qwen2.5-Coder-1.5B-Instruct's model.safetensors at 3.09 GB, Qwen3-8B's four shards at 16.4 GB.
  assert.ok(Math.abs(presetDownloadBytes(qwen) / 3.09e9 - 1) < 0.01, String(presetDownloadBytes(qwen)));
  assert.ok(Math.abs(presetDownloadBytes(findPreset('qwen3-8b')!) / 16.4e9 - 1) < 0.01);
});

test('a build asks first when it downloads or takes over two minutes, not when it is small', () => {
  const small = preview(300);
  assert.ok(small.estimate.buildSeconds! < CONFIRM_SECONDS);
  assert.equal(needsConfirmation(small), false);
  assert.equal(needsConfirmation(preview(300, { download: true })), true, 'any download asks');
  const large = preview(20_000);
  assert.ok(large.estimate.buildSeconds! > CONFIRM_SECONDS, String(large.estimate.buildSeconds));
  assert.equal(needsConfirmation(large), true);
});

test('the confirmation shows the download, the files, the tokens, the memory and the time', () => {
  const t = confirmationText(preview(20_000, { download: true }));
  assert.match(t.message, /^Download Qwen2\.5-Coder 1\.5B Instruct \(2\.9 GiB\) and build the cache for this workspace\?$/);
  assert.equal(t.build, 'Download and Build');
  assert.match(t.detail, /^Download: 2\.9 GiB of weights from the Hugging Face Hub \(Qwen\/Qwen2\.5-Coder-1\.5B-Instruct\)/m);
  assert.match(t.detail, /^Context: 70 of 270 files \(24 as outlines\), 20,022 tokens of a 32,768-token window\.$/m);
  // The verdict reads this machine's free RAM: 12.0 GiB fits on an idle 24 GiB runner, not on a busy one.
  const needs = 'needs [\\d.]+ GiB \\(weights 5\\.8 GiB, KV cache [\\d.]+ GiB for 20022 tokens, working memory [\\d.]+ GiB\\)';
  assert.match(
    t.detail,
    new RegExp(
      `^Memory: (N${needs.slice(1)}; [\\d.]+ GiB of RAM is free\\.|Not enough RAM: ${needs}, but only [\\d.]+ GiB is free\\. Try .+)$`,
      'm',
    ),
  );
  assert.match(
    t.detail,
    /^Build: about \d+ min \(CPU, fp32, fitted on the 2-core reference machine \(bench\/results\/engine\.json\); a machine with more or faster cores takes less\)\.$/m,
  );
  const plain = confirmationText(preview(20_000));
  assert.match(plain.message, /^Build the cache for this workspace\? It takes about \d+ min on this machine's CPU\.$/);
  assert.equal(plain.build, 'Build');
});

test('the smaller settings: the longest context within two minutes, local scoring, int4, each with its cost', () => {
  const p = preview(20_000);
  const offers = smallerSettings(p, { device: 'cpu' });
  assert.deepEqual(
    offers.map((o) => o.setting),
    ['maxContextTokens', 'scoring', 'int4'],
  );
  const ctx = offers[0] as Extract<(typeof offers)[0], { setting: 'maxContextTokens' }>;
  assert.equal(ctx.value % 1024, 0);
  // Within the bar at that window, and over it one step longer.
  const at = (w: number) => buildEstimate(p.shape, Math.min(p.sequenceTokens, w - Math.min(1024, Math.floor(w / 4))), w, { device: 'cpu' });
  assert.ok(at(ctx.value).buildSeconds! <= CONFIRM_SECONDS);
  assert.ok(at(ctx.value + 1024).buildSeconds! > CONFIRM_SECONDS);
  assert.match(ctx.label, /^Shorter Context: [\d,]+ tokens \(about (\d+ s|\d min)\)$/);
  assert.match(offers[1]!.label, /^Local Scoring \(about \d+ min\)$/);
  assert.match(offers[2]!.label, /^int4 Weights \([\d.]+ GiB of memory\)$/);
  // Chosen already: not offered again.
  assert.deepEqual(
    smallerSettings(p, { device: 'cpu', scoring: 'local' }).map((o) => o.setting),
    ['maxContextTokens', 'int4'],
  );
  assert.deepEqual(
    smallerSettings(preview(1500), { device: 'cpu' }).map((o) => o.setting),
    ['int4'],
    'one chunk: local scoring is the same as exact, and the context already fits two minutes',
  );
});

test("engine messages name the extension's settings, not the CLI's flags", () => {
  assert.equal(
    inEditorTerms('Allow more context tokens (--max-context-tokens).'),
    'Allow more context tokens (kvzipCode.maxContextTokens).',
  );
  assert.equal(
    inEditorTerms('Build with a smaller --max-context-tokens (the extension: kvzipCode.maxContextTokens).'),
    'Build with a smaller kvzipCode.maxContextTokens.',
  );
  assert.equal(
    inEditorTerms('Rebuild the cache on the CPU with --device cpu.'),
    'Rebuild the cache on the CPU with kvzipCode.device set to "cpu".',
  );
  assert.equal(
    inEditorTerms('Point --model at a Hugging Face checkpoint folder that holds config.json'),
    'Point kvzipCode.model at a Hugging Face checkpoint folder that holds config.json',
  );
  assert.doesNotMatch(inEditorTerms('Choose another cache folder (--cache-dir, or the KVZIP_CACHE_DIR environment variable)'), /--/);
});

test('a failure offers the buttons that lead to its fix', () => {
  const setting = failureOf(new EngineError('bad-request', 'No file fits in the tokens --max-context-tokens allows.'));
  assert.deepEqual(setting.actions, ['openSettings', 'showOutput']);
  assert.equal(setting.setting, 'kvzipCode.maxContextTokens');
  const model = failureOf(new EngineError('model-location', 'ollama:nope:latest is not in the Ollama store'));
  assert.deepEqual(model.actions, ['chooseModel', 'showOutput']);
  assert.equal(failureOf(new EngineError('download-offline', 'could not connect')).actions[0], 'chooseModel');
  const memory = failureOf(new EngineError('memory', 'Not enough RAM: needs 12 GiB'));
  assert.deepEqual(memory.actions, ['chooseModel', 'openSettings', 'showOutput']);
  assert.equal(memory.setting, 'kvzipCode.maxContextTokens');
  assert.deepEqual(failureOf(new Error('disk full')).actions, ['showOutput']);
});

const turn = (id: number, question: string, done = true): Turn => ({ id, question, answer: `answer ${id}`, done });

test('conversations are kept on disk, newest first, the oldest dropped past the cap', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'kvzip-conversations-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = new ConversationStore(dir);
  assert.deepEqual(store.list(), []);
  const a = newConversationId(1_000);
  const b = newConversationId(2_000);
  const history = [{ question: 'Who is Lily?', answer: 'A girl.', answerIds: [1, 2, 3] }];
  store.save({ id: a, title: 'Who is Lily?', updatedAt: 1_000, turns: [turn(1, 'Who is Lily?'), turn(2, 'And Tom?', false)], history });
  store.save({ id: b, title: 'Where?', updatedAt: 2_000, turns: [turn(1, 'Where?\nin the park')], history: [] });
  assert.deepEqual(
    store.list().map((c) => [c.id, c.title, c.turns]),
    [
      [b, 'Where?', 1],
      [a, 'Who is Lily?', 2],
    ],
  );
  const back = store.load(a)!;
  assert.deepEqual(back.history, history, 'what the model reads again comes back exactly');
  assert.equal(back.turns[1]!.done, true);
  assert.equal(back.turns[1]!.cancelled, true, 'a turn cut off by the reload shows as stopped');
  assert.equal(statSync(path.join(dir, `${a}.json`)).mode & 0o777, 0o600);

  // Damaged or foreign files are left out, never trusted.
  writeFileSync(path.join(dir, `${newConversationId(3_000)}.json`), '{"version":1,"turns":[{"id":"x"}]');
  writeFileSync(path.join(dir, 'notes.json'), '{}');
  assert.equal(store.list().length, 2);
  assert.equal(store.load('../../etc/passwd'), undefined);
  assert.throws(() => store.remove('../../etc/passwd'), /not a conversation id/);

  // The cap drops by file age (a file is written whenever its conversation grows): a and b are the oldest.
  utimesSync(path.join(dir, `${a}.json`), new Date(1_000), new Date(1_000));
  utimesSync(path.join(dir, `${b}.json`), new Date(2_000), new Date(2_000));
  for (let i = 0; i < MAX_CONVERSATIONS + 3; i++) {
    const id = newConversationId(10_000 + i);
    store.save({ id, title: `q${i}`, updatedAt: 10_000 + i, turns: [turn(1, `q${i}`)], history: [] });
    utimesSync(path.join(dir, `${id}.json`), new Date(10_000 + i), new Date(10_000 + i));
  }
  const kept = readdirSync(dir).filter((f) => f.endsWith('.json') && f.startsWith('c'));
  assert.ok(kept.length <= MAX_CONVERSATIONS + 1, `${kept.length} files kept`);
  assert.equal(store.load(a), undefined, 'the oldest went first');
});
