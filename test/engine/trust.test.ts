// Issue 13 (cases 1, 2, 3, 8 and part of 11): nothing on disk is trusted unverified, and what the machine does
// wrong reads as what to do. The real CLI and engine processes, stories260K on the CPU, a fresh cache folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CLI,
  STACK,
  STORIES,
  cli,
  cliJson,
  currentGeneration,
  skipWithoutStories as skip,
  storyWorkspace,
  type AskJson,
} from '../support/cli.ts';

const QUESTION = 'Tom and Max';

/** The one prepared model folder under the cache (stories260K, fp32). */
function preparedDir(cache: string): string {
  const models = join(cache, 'models');
  const [dir] = readdirSync(models).filter((d) => d.endsWith('-fp32'));
  return join(models, dir!);
}

/** Flips the top exponent bit of the float32 at fraction `at` of the file (its value is scaled by 2^±128). */
function flipBit(file: string, at: number): void {
  const b = readFileSync(file);
  b[Math.floor((at * b.length) / 4) * 4 + 3]! ^= 0x40;
  // Written in place: the inode every cache generation hard-links is the one damaged.
  writeFileSync(file, b);
}

test('nothing unverified is trusted', { skip, concurrency: false }, async (t) => {
  const ws = storyWorkspace();
  const cache = mkdtempSync(join(tmpdir(), 'kvzip-cache-'));
  const common = ['--model', STORIES, '--cache-dir', cache, '--max-tokens', '24'];
  const ask = (extra: string[] = [], where = ws) => cliJson<AskJson>(['ask', where, QUESTION, ...common, ...extra]);
  t.after(() => [ws, cache].forEach((d) => rmSync(d, { recursive: true, force: true })));
  const first = await ask();
  assert.ok(first.answer.length > 10);
  assert.equal((await ask()).fromCache, true);

  const weightFaults: [string, () => void][] = [
    ['one flipped bit of the prepared weights.bin', () => flipBit(join(preparedDir(cache), 'weights.bin'), 0.5)],
    ['a truncated prepared weights.bin', () => truncateSync(join(preparedDir(cache), 'weights.bin'), 4096)],
    [
      'two tensors swapped in weights.json',
      () => {
        const f = join(preparedDir(cache), 'weights.json');
        const index = JSON.parse(readFileSync(f, 'utf8'));
        const [a, b] = ['model.layers.0.mlp.up_proj.weight', 'model.layers.0.mlp.gate_proj.weight'];
        [index.tensors[a], index.tensors[b]] = [index.tensors[b], index.tensors[a]];
        writeFileSync(f, JSON.stringify(index));
      },
    ],
  ];
  for (const [name, damage] of weightFaults) {
    await t.test(`${name} is found and prepared again: the answer is the original one`, async () => {
      damage();
      const r = await cli(['ask', ws, QUESTION, ...common, '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as AskJson).answer, first.answer);
      assert.equal((await ask()).answer, first.answer, 'and afterwards');
    });
  }

  await t.test("a flipped bit of the manifest's sequenceLength is caught and the entry rebuilt", async () => {
    const f = join(currentGeneration(cache), 'manifest.json');
    const text = readFileSync(f, 'utf8');
    const n = Number(/"sequenceLength": (\d+)/.exec(text)![1]);
    writeFileSync(f, text.replace(`"sequenceLength": ${n}`, `"sequenceLength": ${n ^ 1}`));
    const r = await ask();
    assert.equal(r.fromCache, false, 'the edited manifest was not trusted');
    assert.equal(r.answer, first.answer);
  });

  await t.test('"files": {} does not turn verification off: a corrupt kv.bin is still caught', async () => {
    const gen = currentGeneration(cache);
    const f = join(gen, 'manifest.json');
    writeFileSync(f, JSON.stringify({ ...JSON.parse(readFileSync(f, 'utf8')), files: {} }, null, 1));
    flipBit(join(gen, 'kv.bin'), 0.5);
    const r = await ask();
    assert.equal(r.fromCache, false);
    assert.equal(r.answer, first.answer);
  });

  await t.test('asking while other processes rebuild the same entry always answers, from a complete generation', async () => {
    for (let round = 0; round < 3; round++) {
      const builder = spawn(process.execPath, [CLI, 'build', ws, ...common, '--force'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let builderErr = '';
      builder.stderr.on('data', (d) => (builderErr += d));
      const built = new Promise<number | null>((r) => builder.once('exit', r));
      let running = true;
      void built.then(() => (running = false));
      let asks = 0;
      do {
        const r = await cli(['ask', ws, QUESTION, ...common, '--json']);
        assert.equal(r.code, 0, `ask ${asks} of round ${round} failed while a build ran:\n${r.stderr}`);
        assert.equal((JSON.parse(r.stdout) as AskJson).answer, first.answer);
        asks++;
      } while (running);
      assert.equal(await built, 0, builderErr);
    }
  });

  await t.test('a workspace reached through a symlink is the same entry', async () => {
    const link = join(tmpdir(), `kvzip-ws-link-${process.pid}`);
    symlinkSync(ws, link);
    t.after(() => rmSync(link, { force: true }));
    const r = await ask([], link);
    assert.equal(r.fromCache, true, 'answered from the entry built for the real path');
    assert.equal(readdirSync(join(cache, 'entries')).length, 1);
  });

  await t.test('ratio 1 reports all pairs kept, not more than 100%', async () => {
    const r = await cli(['build', ws, ...common.slice(0, 4), '--ratio', '1']);
    assert.equal(r.code, 0, r.stderr);
    const pct = [...r.stdout.matchAll(/\((\d+(?:\.\d+)?)%/g)].map((m) => Number(m[1]));
    assert.deepEqual(pct, [100], r.stdout);
  });

  await t.test('a corrupt head-scores.json is computed again, not an internal error', async () => {
    await cliJson(['build', ws, ...common.slice(0, 4), '--level', 'head']);
    writeFileSync(join(preparedDir(cache), 'head-scores.json'), '[0.1, 0.2, garbage');
    const r = await cli(['build', ws, ...common.slice(0, 4), '--level', 'head', '--force']);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /Internal error/);
  });

  await t.test('info on an entry with a corrupt manifest prints no "undefined", and clear WS removes that entry', async () => {
    const before = readdirSync(join(cache, 'entries')).length;
    writeFileSync(join(currentGeneration(cache), 'manifest.json'), '{}');
    const info = await cli(['info', '--cache-dir', cache]);
    assert.equal(info.code, 0, info.stderr);
    assert.doesNotMatch(info.stdout, /undefined/);
    assert.match(info.stdout, /cannot be used: the manifest/);
    const cleared = await cli(['clear', ws, '--cache-dir', cache, '--json']);
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.equal(JSON.parse(cleared.stdout).removed, before);
    assert.equal((await cli(['info', '--cache-dir', cache])).stdout.trim(), 'No cache entries.');
  });
});

test('a cache folder under a file or on /proc is refused with what to do', { skip }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kvzip-env-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const ws = storyWorkspace();
  t.after(() => rmSync(ws, { recursive: true, force: true }));
  writeFileSync(join(root, 'afile'), 'x');
  const places: [string, RegExp][] = [[join(root, 'afile', 'cache'), /is under .*afile, which is a file, not a folder/]];
  if (process.platform === 'linux') places.push(['/proc/kvzip-cache', /on the kernel's proc file system/]);
  for (const [dir, why] of places) {
    const r = await cli(['build', ws, '--model', STORIES, '--cache-dir', dir], {}, 30_000);
    assert.equal(r.code, 1, `refused, not hung or crashed (${dir}): ${r.stderr}`);
    assert.match(r.stderr, why);
    assert.match(r.stderr, /Choose another cache folder/);
    assert.doesNotMatch(r.stderr, /Internal error/);
    assert.doesNotMatch(r.stderr, STACK);
  }
});

test('all-NaN weights are refused with the tensor named, not built', { skip }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kvzip-nan-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const model = join(root, 'model');
  cpSync(STORIES, model, { recursive: true });
  const f = join(model, 'model.safetensors');
  const bytes = readFileSync(f);
  bytes.fill(0xff, 8 + Number(bytes.readBigUInt64LE(0)));
  writeFileSync(f, bytes);
  const ws = storyWorkspace();
  t.after(() => rmSync(ws, { recursive: true, force: true }));
  const r = await cli(['build', ws, '--model', model, '--cache-dir', join(root, 'cache')]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /model\.safetensors: tensor "[\w.]+" holds \d+ NaN or infinite values/);
  assert.doesNotMatch(r.stderr, STACK);
});
