// 100k-file trees: bounded time and memory, the cap reported, no crash. Slow (tree creation dominates).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildContext, DEFAULT_MAX_FILES } from '../../src/context/index.ts';
import { charEncode, gitInit, tempDir } from '../unit/context-fixtures.ts';

const N = DEFAULT_MAX_FILES + 500;

function makeTree(root: string): void {
  for (let d = 0; d < N / 100; d++) {
    const dir = join(root, `pkg${d % 50}`, `mod${d}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 100; f++) writeFileSync(join(dir, `f${f}.ts`), `export const v${f} = ${d * 100 + f};\n`);
  }
}

for (const mode of ['walk', 'git'] as const) {
  test(`${mode}: ${N} files with a 128K-token budget`, { timeout: 300_000 }, async (t) => {
    const root = tempDir(t);
    makeTree(root);
    if (mode === 'git') gitInit(root);
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const t0 = performance.now();
    const ctx = await buildContext(root, {
      encode: charEncode,
      maxTokens: 128_000,
      discovery: mode,
      onProgress: () => (peak = Math.max(peak, process.memoryUsage().rss)),
    });
    const ms = performance.now() - t0;
    t.diagnostic(
      `${mode}: ${ms.toFixed(0)} ms, rss +${((peak - rss0) / 2 ** 20).toFixed(0)} MiB, ${ctx.files.length} files, ${ctx.totalTokens} tokens`,
    );
    assert.equal(ctx.stats.scanned, DEFAULT_MAX_FILES);
    assert.equal(ctx.omitted.find((o) => o.reason === 'file-limit')?.path, '');
    assert.ok(ctx.totalTokens <= 128_000 && ctx.totalTokens > 120_000);
    assert.ok(ms < 120_000, `${ms} ms`);
    assert.ok(peak - rss0 < 1024 * 2 ** 20, `rss grew ${peak - rss0}`);
  });
}
