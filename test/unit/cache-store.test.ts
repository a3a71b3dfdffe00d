import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheStore } from '../../src/cache/store.ts';
import { manifestChecksum } from '../../src/cache/manifest.ts';

const LOOP = new URL('../support/commitLoop.ts', import.meta.url).pathname;

function builder(root: string, key: string, count: number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', LOOP, root, key, String(count)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

test('builders in separate processes committing the same entry at once: every commit succeeds, one verified generation remains, a reader never sees a broken one', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kvzip-store-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const key = CacheStore.keyOf({ test: 'race' });
  const store = new CacheStore(root);
  let done = false;
  const seen: string[] = [];
  const reader = (async () => {
    while (!done) {
      const opened = await store.open(key, ['kv.bin']);
      if ('problem' in opened) seen.push(opened.problem);
      else await opened.release();
      await new Promise((r) => setImmediate(r));
    }
  })();
  const results = await Promise.all([0, 1, 2, 3].map(() => builder(root, key, 25)));
  done = true;
  await reader;
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    [...new Set(seen)].filter((p) => p !== 'no cache yet'),
    [],
    'the reader only ever saw complete generations',
  );
  const opened = await store.open(key, ['kv.bin']);
  assert.ok('manifest' in opened, 'problem' in opened ? opened.problem : '');
  await opened.release();
  const left = readdirSync(join(root, 'entries', key)).sort();
  assert.equal(left.length, 2, `current and one generation remain, not ${left.join(', ')}`);
  assert.ok(left.includes('current'));
});

async function oneGeneration(root: string, key: string, files: Record<string, Buffer>, extra: Record<string, unknown> = {}) {
  const store = new CacheStore(root);
  const gen = store.begin(key);
  for (const [f, bytes] of Object.entries(files)) writeFileSync(join(gen, f), bytes);
  const manifest = { key, workspace: root, sequenceLength: 161, createdAt: new Date().toISOString(), ...extra };
  return store.commit(gen, manifest as unknown as Parameters<CacheStore['commit']>[1], Object.keys(files));
}

test('a reader pins the generation it opened: builders in other processes replace it, but never remove it until released', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kvzip-store-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const key = CacheStore.keyOf({ test: 'pin' });
  const store = new CacheStore(root);
  await oneGeneration(root, key, { 'kv.bin': randomBytes(4096) });
  const opened = await store.open(key, ['kv.bin']);
  assert.ok('manifest' in opened, 'problem' in opened ? opened.problem : '');
  const results = await Promise.all([0, 1].map(() => builder(root, key, 5)));
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(opened.dir, 'kv.bin')), 'the pinned generation is still there after 10 newer commits');
  const now = await store.open(key, ['kv.bin']);
  assert.ok('manifest' in now && now.dir !== opened.dir, 'a new reader gets the newest generation');
  await now.release();
  await opened.release();
  assert.equal(existsSync(opened.dir), false, 'released, the old generation is removed');
});

test('the manifest is checked: a flipped bit in sequenceLength, files it must list, and files: {} are caught', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kvzip-store-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const key = CacheStore.keyOf({ test: 'manifest' });
  const store = new CacheStore(root);
  const { dir } = await oneGeneration(root, key, { 'kv.bin': randomBytes(4096), 'keep.bin': randomBytes(64) });
  const file = join(dir, 'manifest.json');
  const good = readFileSync(file, 'utf8');
  const problem = async (required = ['kv.bin', 'keep.bin']) => {
    const opened = await store.open(key, required);
    if ('release' in opened) await opened.release();
    return 'problem' in opened ? opened.problem : undefined;
  };
  assert.equal(await problem(), undefined, 'the intact entry opens');
  // 161 is 0b10100001: one flipped bit makes it 160.
  writeFileSync(file, good.replace('"sequenceLength": 161', '"sequenceLength": 160'));
  assert.match((await problem()) ?? '', /the manifest fails its checksum/);
  writeFileSync(file, good);
  assert.match((await problem(['kv.bin', 'keep.bin', 'decode.onnx'])) ?? '', /does not list decode\.onnx/);
  // A manifest that lists nothing (and whose checksum was made to match) verifies nothing: refused.
  const emptied = { ...JSON.parse(good), files: {} };
  emptied.checksum = manifestChecksum(emptied);
  writeFileSync(file, JSON.stringify(emptied));
  assert.match((await problem()) ?? '', /does not list kv\.bin, keep\.bin/);
});
