// Build once, ask from the persisted cache in another process, and survive every way the cache can break.
// Runs the real CLI (dist/cli.js, built by `npm test`) against the real engine process and stories260K.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  truncateSync,
  writeFileSync,
  cpSync,
  utimesSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prng, writeTinyModel } from '../support/tinyModel.ts';
import {
  CLI,
  cli,
  cliJson as json,
  currentGeneration as currentGen,
  killCliAfter,
  skipWithoutStories as skip,
  STORIES as MODEL,
  storyWorkspace as workspace,
  type AskJson as Ask,
} from '../support/cli.ts';

const QUESTION = 'Tom and Max';

test('persisted cache', { skip, concurrency: false }, async (t) => {
  const ws = workspace();
  const cache = mkdtempSync(join(tmpdir(), 'kvzip-cache-'));
  const common = ['--model', MODEL, '--cache-dir', cache, '--max-tokens', '24'];
  const ask = (extra: string[] = []) => json<Ask>(['ask', ws, QUESTION, ...common, ...extra]);
  t.after(() => {
    rmSync(ws, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  });

  // The first ask has no cache: it builds, then answers in the same process.
  const first = await ask();
  assert.equal(first.fromCache, false);
  assert.ok(first.prefillTokens > 50, `the build prefilled the context (${first.prefillTokens} tokens)`);
  assert.ok(first.answer.length > 10, `an answer came back: ${JSON.stringify(first.answer)}`);

  await t.test('a new process answers from the cache, with no prefill, identically', async () => {
    const again = await ask();
    assert.equal(again.fromCache, true);
    assert.equal(again.prefillTokens, 0);
    assert.equal(again.answer, first.answer);
  });

  await t.test('build reports real savings at ratio 0.3', async () => {
    const b = await json<{ fromCache: boolean; kvBytesFull: number; kvBytesCompressed: number; report: { included: unknown[] } }>([
      'build',
      ws,
      ...common,
    ]);
    assert.equal(b.fromCache, true, 'an unchanged workspace is served by the fresh entry');
    assert.ok(b.kvBytesCompressed <= 0.32 * b.kvBytesFull, `${b.kvBytesCompressed} <= 0.32 × ${b.kvBytesFull}`);
    assert.equal(b.report.included.length, 2);
  });

  const faults: [string, (gen: string) => void][] = [
    ['a truncated blob', (gen) => truncateSync(join(gen, 'kv.bin'), 1000)],
    [
      'one flipped byte in the blob',
      (gen) => {
        const f = join(gen, 'kv.bin');
        const b = readFileSync(f);
        b[Math.floor(b.length / 2)] ^= 0x40;
        writeFileSync(f, b);
      },
    ],
    ['a garbage manifest', (gen) => writeFileSync(join(gen, 'manifest.json'), '{"formatVersion": 1, garbage')],
    [
      'a future format version',
      (gen) => {
        const f = join(gen, 'manifest.json');
        writeFileSync(f, JSON.stringify({ ...JSON.parse(readFileSync(f, 'utf8')), formatVersion: 999 }));
      },
    ],
    ['a missing current pointer', (gen) => rmSync(join(gen, '..', 'current'))],
  ];
  for (const [name, damage] of faults) {
    await t.test(`${name} is detected and rebuilt, never answered from`, async () => {
      damage(currentGen(cache));
      const r = await ask();
      assert.equal(r.fromCache, false, 'the damaged entry was not trusted');
      assert.ok(r.prefillTokens > 0);
      assert.equal(r.answer, first.answer, 'the rebuilt cache answers as the original did');
      const healed = await ask();
      assert.equal(healed.fromCache, true, 'the rebuilt entry is used afterwards');
    });
  }

  await t.test('kill -9 of the builder at any moment leaves a usable cache', async () => {
    for (const delay of [60, 150, 250, 350, 450, 600]) {
      await killCliAfter(['build', ws, ...common, '--force'], delay);
      const r = await ask();
      assert.equal(r.answer, first.answer, `after a kill at ${delay} ms`);
      assert.equal(r.fromCache, true, `the previous good entry is used after a kill at ${delay} ms`);
    }
  });

  await t.test('two builders at once leave one good entry', async () => {
    const [a, b] = await Promise.all([cli(['build', ws, ...common, '--force']), cli(['build', ws, ...common, '--force'])]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const r = await ask();
    assert.equal(r.fromCache, true);
    assert.equal(r.answer, first.answer);
    const entries = readdirSync(join(cache, 'entries'));
    assert.equal(entries.length, 1);
  });

  await t.test('a changed model never uses the old entry', async () => {
    const model = mkdtempSync(join(tmpdir(), 'kvzip-model-'));
    cpSync(MODEL, model, { recursive: true });
    const args = ['ask', ws, QUESTION, '--model', model, '--cache-dir', cache, '--max-tokens', '24'];
    const before = await json<Ask>(args);
    assert.equal((await json<Ask>(args)).fromCache, true);
    // New weights: same size, different bytes and time.
    const f = join(model, 'model.safetensors');
    const bytes = readFileSync(f);
    bytes[bytes.length - 1] ^= 0x01;
    writeFileSync(f, bytes);
    utimesSync(f, new Date(), new Date(Date.now() + 5000));
    const after = await json<Ask>(args);
    assert.equal(after.fromCache, false, 'the entry of the old weights is not used');
    assert.ok(before.answer.length > 0);
    rmSync(model, { recursive: true, force: true });
  });
});

test('a random model over a longer context: built in one process, answered identically from the cache in another', async (t) => {
  if (!existsSync(CLI)) return t.skip('dist/cli.js missing: run npm run build');
  const root = mkdtempSync(join(tmpdir(), 'kvzip-long-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  // One character per token: ~3,000 context tokens, scored in several chunks capped to the 4,096-position window.
  writeTinyModel(join(root, 'model'), { maxPositions: 4096, numHeads: 8, numKvHeads: 2, seed: 3 });
  const ws = join(root, 'ws');
  mkdirSync(ws);
  const rand = prng(8);
  const words = ['engine', 'cache', 'graph', 'token', 'layer', 'head', 'score', 'build', 'ask', 'file'];
  for (const name of ['a.ts', 'b.ts', 'c.ts']) {
    writeFileSync(join(ws, name), Array.from({ length: 160 }, () => words[Math.floor(rand.uniform() * words.length)]).join(' '));
  }
  const args = [
    'ask',
    ws,
    'where is the cache built?',
    '--model',
    join(root, 'model'),
    '--cache-dir',
    join(root, 'cache'),
    '--max-tokens',
    '32',
  ];
  const first = await json<Ask>(args);
  assert.equal(first.fromCache, false);
  assert.ok(first.prefillTokens > 2500, `prefilled ${first.prefillTokens} tokens`);
  const again = await json<Ask>(args);
  assert.equal(again.fromCache, true);
  assert.equal(again.prefillTokens, 0);
  assert.equal(again.answer, first.answer);

  // The local scoring level is its own entry beside the exact one, persisted and answered from like it.
  const [, , , ...rest] = args;
  const build = (scoring: string) =>
    json<{ fromCache: boolean; scoring: string; entry: string; kvBytesCompressed: number }>(['build', ws, ...rest, '--scoring', scoring]);
  const exact = await build('exact');
  assert.deepEqual([exact.fromCache, exact.scoring], [true, 'exact']);
  const local = await build('local');
  assert.deepEqual([local.fromCache, local.scoring], [false, 'local'], 'local scoring built an entry of its own');
  assert.notEqual(local.entry, exact.entry);
  const localManifest = JSON.parse(readFileSync(join(local.entry, 'manifest.json'), 'utf8'));
  assert.equal(localManifest.scoring, 'local');
  const listed = await json<{ scoring: string }[]>(['info', '--cache-dir', join(root, 'cache'), '--json']);
  assert.deepEqual(listed.map((e) => e.scoring).sort(), ['exact', 'local']);
  const fromLocal = await json<Ask>([...args, '--scoring', 'local']);
  assert.equal(fromLocal.fromCache, true);
  assert.equal(fromLocal.prefillTokens, 0);
  assert.equal((await json<Ask>(args)).answer, first.answer, 'the exact entry is still served as it was');
});

test('editing the last file refreshes only the suffix; at ratio 1 the refresh is exact', { skip }, async (t) => {
  const ws = workspace();
  // Written last, so it is last in the order (no git: modification time), as a file being edited would be.
  await new Promise((r) => setTimeout(r, 20));
  writeFileSync(join(ws, 'zbird.txt'), 'The next day, Tom found a small bird in the tree. The bird could not fly.\n');
  const cache = mkdtempSync(join(tmpdir(), 'kvzip-cache-'));
  const fresh = mkdtempSync(join(tmpdir(), 'kvzip-cache-'));
  t.after(() => [ws, cache, fresh].forEach((d) => rmSync(d, { recursive: true, force: true })));
  interface Build {
    fromCache: boolean;
    contextTokens: number;
    prefillTokens: number;
    report: { included: { path: string }[] };
  }
  const build = (dir: string, ratio = '0.3') => json<Build>(['build', ws, '--model', MODEL, '--cache-dir', dir, '--ratio', ratio]);
  const first = await build(cache);
  await build(cache, '1');
  assert.deepEqual(first.report.included.map((f) => f.path).at(-1), 'zbird.txt');
  writeFileSync(
    join(ws, 'zbird.txt'),
    'The next day, Tom found a small bird in the tree. The bird could not fly. Tom and Max helped it.\n',
  );
  const refreshed = await build(cache);
  assert.equal(refreshed.fromCache, false);
  assert.ok(
    refreshed.prefillTokens > 0 && refreshed.prefillTokens < refreshed.contextTokens / 2,
    `refresh prefilled ${refreshed.prefillTokens} of ${refreshed.contextTokens} tokens`,
  );
  const ask = (dir: string, ratio: string) =>
    json<Ask>(['ask', ws, QUESTION, '--model', MODEL, '--cache-dir', dir, '--ratio', ratio, '--max-tokens', '24']);
  const approx = await ask(cache, '0.3');
  assert.equal(approx.fromCache, true);
  assert.ok(approx.answer.length > 10);
  // Nothing is evicted at ratio 1, so reusing the prefix KV is exact: the refreshed cache answers as a fresh build.
  const exact = await build(cache, '1');
  assert.ok(exact.prefillTokens < exact.contextTokens / 2);
  const rebuilt = await build(fresh, '1');
  assert.equal(rebuilt.prefillTokens, rebuilt.contextTokens);
  assert.equal((await ask(cache, '1')).answer, (await ask(fresh, '1')).answer);
});

test('the CLI reproduces stories260K greedy ids and explains bad usage', { skip }, async () => {
  const cache = mkdtempSync(join(tmpdir(), 'kvzip-cache-'));
  const expected = JSON.parse(readFileSync(join(MODEL, 'expected-greedy.json'), 'utf8')) as { greedy_ids: number[] };
  const r = await json<{ ids: number[]; text: string; device: string; prefillMs: number; decodeMsPerToken: number }>([
    'generate',
    '--model',
    MODEL,
    '--prompt-ids',
    '1',
    '--max-tokens',
    '255',
    '--cache-dir',
    cache,
  ]);
  assert.deepEqual(r.ids, expected.greedy_ids);
  assert.equal(r.device, 'cpu');
  assert.ok(r.text.startsWith('Once upon a time'));
  const bad = await cli(['generate', '--model', MODEL, '--prompt-ids', 'x', '--cache-dir', cache]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--prompt-ids must be comma-separated token ids/);
  // A model that is not there is named before the engine starts; a folder without config.json, by the loader.
  const missing = await cli(['generate', '--model', join(cache, 'nope'), '--prompt', 'hi', '--cache-dir', cache]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /nope does not exist\. The model is a checkpoint folder, a \.gguf file, ollama:NAME\[:TAG\]/);
  mkdirSync(join(cache, 'empty'));
  const empty = await cli(['generate', '--model', join(cache, 'empty'), '--prompt', 'hi', '--cache-dir', cache]);
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /config\.json: not found\. Point --model at a Hugging Face checkpoint folder/);
  assert.doesNotMatch(empty.stderr, /\bat .*\.js:\d+/, 'no stack trace');
  // A preset id is downloaded by the engine; with the Hub unreachable the user is told what to do.
  const offline = await cli(['generate', '--model', 'qwen3-4b', '--prompt', 'hi', '--cache-dir', cache], {
    HF_ENDPOINT: 'http://127.0.0.1:9',
    // This machine's Hugging Face cache may hold the preset, which would then be used with no download.
    HF_HUB_CACHE: join(cache, 'no-hf-cache'),
  });
  assert.equal(offline.code, 1);
  assert.match(offline.stderr, /cannot reach http:\/\/127\.0\.0\.1:9.*choose a local model folder/);
  rmSync(cache, { recursive: true, force: true });
});
