// What the extension's cache list and a stale answer need from the engine, on stories260K: each entry's build time
// (for the Clear confirmation), clearing one entry and no other, and the files a stale answer's cache predates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../../src/engine/engine.ts';
import type { CacheSettings, UsableEntryInfo } from '../../src/engine/protocol.ts';

const MODEL = fileURLToPath(new URL('../../../shared/models/stories260K', import.meta.url));
const skip = !existsSync(MODEL) && `${MODEL} not found: the shared stories260K model is needed`;

test('cache entries: build time, clearing one, and what a stale answer predates', { skip, concurrency: false }, async (t) => {
  const ws = mkdtempSync(join(tmpdir(), 'kvzip-entries-ws-'));
  const cacheDir = mkdtempSync(join(tmpdir(), 'kvzip-entries-cache-'));
  t.after(() => {
    rmSync(ws, { recursive: true, force: true });
    rmSync(cacheDir, { recursive: true, force: true });
  });
  writeFileSync(join(ws, 'cat.txt'), 'Once upon a time, there was a little cat named Tom. Tom liked to play with his red ball.\n');
  writeFileSync(join(ws, 'dog.txt'), 'His friend, a big dog named Max, jumped into the water and got the ball.\n');
  const engine = new Engine();
  const s: CacheSettings = { workspace: ws, model: MODEL, cacheDir, device: 'cpu', ratio: 0.3, level: 'pair' };
  const a = await engine.build(s);
  const b = await engine.build({ ...s, ratio: 1 });
  const usable = () => engine.info(cacheDir).filter((e): e is UsableEntryInfo => !('problem' in e));

  await t.test('info gives each entry built whole its build time', () => {
    const entries = usable();
    assert.equal(entries.length, 2);
    for (const e of entries) assert.ok(e.buildMs !== undefined && e.buildMs > 0, `${e.entry}: ${e.buildMs} ms`);
    assert.deepEqual(entries.map((e) => e.entry).sort(), [a.entry, b.entry].sort());
  });

  await t.test('an ask on a cache built before files changed names them', async () => {
    appendFileSync(join(ws, 'dog.txt'), 'Tom was happy.\n');
    writeFileSync(join(ws, 'owl.txt'), 'An owl watched them from the tree.\n');
    const r = await engine.ask({ ...s, question: 'Tom and Max', maxTokens: 4 }, () => {});
    assert.equal(r.stale, true);
    assert.deepEqual(r.changed, ['dog.txt', 'owl.txt']);
  });

  await t.test('a refreshed generation has no build time: its refresh says nothing of a rebuild', async () => {
    await engine.build(s);
    const refreshed = usable().find((e) => e.ratio === 0.3)!;
    assert.equal(refreshed.buildMs, undefined);
  });

  await t.test('clear with an entry removes that entry only', async () => {
    const keep = usable().find((e) => e.ratio === 1)!;
    const gone = usable().find((e) => e.ratio === 0.3)!;
    const r = await engine.clear(cacheDir, undefined, gone.entry);
    assert.equal(r.removed, 1);
    assert.deepEqual(
      usable().map((e) => e.entry),
      [keep.entry],
    );
  });
});
