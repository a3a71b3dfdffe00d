import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheStore } from '../../src/cache/store.ts';

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
      const opened = await store.open(key);
      if ('problem' in opened) seen.push(opened.problem);
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
  const opened = await store.open(key);
  assert.ok('manifest' in opened, 'problem' in opened ? opened.problem : '');
  const left = readdirSync(join(root, 'entries', key)).sort();
  assert.equal(left.length, 2, `current and one generation remain, not ${left.join(', ')}`);
  assert.ok(left.includes('current'));
});
