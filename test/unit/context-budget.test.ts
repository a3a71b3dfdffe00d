// Token budget: what fits is kept, the largest files go first, and the report names every omitted file
// with its token count; the rendered text, token ids and per-file ranges agree with each other.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildContext, contextReport, header } from '../../src/context/index.ts';
import { charEncode, tempDir, write } from './context-fixtures.ts';

test('segments: header + content, ids are the per-file encodings concatenated, ranges match', async (t) => {
  const root = tempDir(t);
  write(root, { 'a.ts': 'alpha\n', 'b/c.ts': 'no newline at end', 'empty.ts': '', 'ü/ß.md': 'unicode é 😀\n' });
  const ctx = await buildContext(root, { encode: charEncode });
  let chars = 0;
  let tokens = 0;
  for (const f of ctx.files) {
    assert.equal(f.charStart, chars);
    assert.equal(f.tokenStart, tokens);
    const seg = ctx.text.slice(f.charStart, f.charEnd);
    assert.ok(seg.startsWith(header(f.path)));
    assert.equal(f.contentStart, f.charStart + header(f.path).length);
    assert.deepEqual(ctx.tokenIds.slice(f.tokenStart, f.tokenEnd), charEncode(seg));
    assert.equal(f.hash.length, 64);
    chars = f.charEnd;
    tokens = f.tokenEnd;
  }
  assert.equal(chars, ctx.text.length);
  assert.equal(tokens, ctx.totalTokens);
  assert.equal(ctx.tokenIds.length, ctx.totalTokens);
  assert.ok(ctx.text.includes('=== b/c.ts ===\nno newline at end\n=== '));
  assert.ok(ctx.text.includes('=== empty.ts ===\n'));
  assert.equal(header('we\nird'), '=== "we\\nird" ===\n');
});

test('over budget: largest files are dropped first, each reported with its tokens; the rest fits', async (t) => {
  const root = tempDir(t);
  const files: Record<string, string> = {};
  for (let i = 1; i <= 10; i++) files[`f${String(i).padStart(2, '0')}.txt`] = 'x'.repeat(i * 100) + '\n';
  write(root, files);
  const seg = (i: number): number => header('f01.txt').length + i * 100 + 1;
  const budget = seg(1) + seg(2) + seg(3) + seg(4) + 50;
  const ctx = await buildContext(root, { encode: charEncode, maxTokens: budget });
  assert.deepEqual(ctx.files.map((f) => f.path).sort(), ['f01.txt', 'f02.txt', 'f03.txt', 'f04.txt']);
  assert.ok(ctx.totalTokens <= budget);
  const dropped = ctx.omitted.filter((o) => o.reason === 'budget');
  assert.deepEqual(dropped.map((o) => o.path), ['f05.txt', 'f06.txt', 'f07.txt', 'f08.txt', 'f09.txt', 'f10.txt']);
  for (const o of dropped) assert.equal(o.tokens, seg(Number(o.path.slice(1, 3))));
  assert.equal(ctx.stats.included + ctx.omitted.length, 10);
});

test('a small file that fits after a miss is still taken (bytes are only a proxy for tokens)', async (t) => {
  const root = tempDir(t);
  // 'wide' has fewer bytes than 'narrow' but, with one token per code point, more tokens than 'narrow'.
  write(root, { 'narrow.txt': 'ab'.repeat(60) + '\n', 'wide.txt': '😀'.repeat(50) + '\n', 'tiny.txt': 't\n' });
  const budget = header('tiny.txt').length + 2 + header('narrow.txt').length + 121;
  const ctx = await buildContext(root, { encode: charEncode, maxTokens: budget });
  assert.deepEqual(ctx.files.map((f) => f.path).sort(), ['narrow.txt', 'tiny.txt']);
  assert.equal(ctx.omitted.find((o) => o.path === 'wide.txt')?.reason, 'budget');
});

test('a huge tree over a tiny budget stops reading early and says so', async (t) => {
  const root = tempDir(t);
  write(root, Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`d/f${i}.txt`, 'z'.repeat(50 + i) + '\n'])));
  const ctx = await buildContext(root, { encode: charEncode, maxTokens: 200 });
  assert.equal(ctx.files.length, 2); // ~70 tokens each
  const unread = ctx.omitted.filter((o) => o.detail?.startsWith('not read'));
  assert.ok(unread.length > 200, `${unread.length} not read`);
  assert.ok(unread.every((o) => o.reason === 'budget' && o.tokens === undefined && o.bytes! > 0));
  assert.equal(ctx.omitted.length + ctx.files.length, 300);
});

test('contextReport: included files with tokens, omitted with reasons, no text', async (t) => {
  const root = tempDir(t);
  write(root, { 'a.ts': 'aaaa\n', 'big.ts': 'b'.repeat(500) + '\n', 'yarn.lock': 'x' });
  const ctx = await buildContext(root, { encode: charEncode, maxTokens: 100 });
  const report = JSON.parse(JSON.stringify(contextReport(ctx)));
  assert.deepEqual(report.included, [{ path: 'a.ts', tokens: header('a.ts').length + 5, bytes: 5 }]);
  assert.deepEqual(
    report.omitted.map((o: { path: string; reason: string; tokens?: number }) => [o.path, o.reason, o.tokens]),
    [['big.ts', 'budget', header('big.ts').length + 501], ['yarn.lock', 'lockfile', undefined]],
  );
  assert.equal(report.totalTokens, ctx.totalTokens);
  assert.equal('text' in report, false);
});
