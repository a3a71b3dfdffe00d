// Token budget: files go in by rank, and the report names every omitted file with its token count and the
// rank that lost; the rendered text, token ids and per-file ranges agree with each other.
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

test('over budget: files go in by rank until one does not fit; every file after it is out, with its rank', async (t) => {
  const root = tempDir(t);
  const sizes = [500, 400, 300, 300, 300, 300, 5, 5, 5, 5];
  const name = (i: number): string => `f${String(i + 1).padStart(2, '0')}.txt`;
  write(root, Object.fromEntries(sizes.map((n, i) => [name(i), 'x'.repeat(n) + '\n'])));
  // Equal kind and no imports: rank follows the path.
  const seg = (i: number): number => header(name(i)).length + sizes[i]! + 1;
  const budget = seg(0) + seg(1) + seg(2) + 100;
  const ctx = await buildContext(root, { encode: charEncode, maxTokens: budget });
  assert.deepEqual(ctx.files.map((f) => f.path).sort(), ['f01.txt', 'f02.txt', 'f03.txt']);
  const dropped = ctx.omitted.filter((o) => o.reason === 'budget');
  assert.deepEqual(
    dropped.map((o) => [o.path, o.rank]),
    [3, 4, 5, 6, 7, 8, 9].map((i) => [name(i), i + 1]),
  );
  // f04 did not fit; f07..f10 would have, but a file ranked below one left out never goes in.
  assert.equal(dropped[0]!.tokens, seg(3));
  assert.match(dropped[0]!.detail!, new RegExp(`^rank 4 of 10 \\(doc\\): ${seg(3)} tokens whole, 100 of ${budget} left$`));
  for (const o of dropped.slice(1)) assert.match(o.detail!, /the budget ended at rank 4 \(f04\.txt\)/);
  assert.equal(ctx.stats.included + ctx.omitted.length, 10);
});

test('a file with no outline that alone takes over a quarter of the budget does not end the fill', async (t) => {
  const root = tempDir(t);
  write(root, { 'a.txt': 'a'.repeat(400) + '\n', 'b.txt': 'b\n', 'c.txt': 'c\n' });
  const budget = 300;
  const ctx = await buildContext(root, { encode: charEncode, maxTokens: budget });
  assert.deepEqual(ctx.files.map((f) => f.path).sort(), ['b.txt', 'c.txt']);
  assert.equal(ctx.omitted.find((o) => o.path === 'a.txt')?.rank, 1);
});

test('a huge tree over a tiny budget stops reading early and says so', async (t) => {
  const root = tempDir(t);
  write(root, Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`d/f${i}.txt`, 'z'.repeat(50 + i) + '\n'])));
  const ctx = await buildContext(root, { encode: charEncode, maxTokens: 200 });
  assert.equal(ctx.files.length, 2); // ~70 tokens each
  const unread = ctx.omitted.filter((o) => o.detail?.includes('not read'));
  assert.ok(unread.length > 200, `${unread.length} not read`);
  assert.ok(unread.every((o) => o.reason === 'budget' && o.tokens === undefined && o.bytes! > 0 && o.rank! > 2));
  assert.equal(ctx.omitted.length + ctx.files.length, 300);
});

test('contextReport: included files with tokens, rank and form, omitted with reasons, no text', async (t) => {
  const root = tempDir(t);
  write(root, { 'a.ts': 'aaaa\n', 'big.ts': 'b'.repeat(500) + '\n', 'yarn.lock': 'x' });
  const ctx = await buildContext(root, { encode: charEncode, maxTokens: 100 });
  const report = JSON.parse(JSON.stringify(contextReport(ctx)));
  assert.deepEqual(report.included, [
    { path: 'a.ts', tokens: header('a.ts').length + 5, bytes: 5, outline: false, rank: 1, kind: 'source' },
  ]);
  assert.deepEqual(
    report.omitted.map((o: { path: string; reason: string; tokens?: number; rank?: number }) => [o.path, o.reason, o.tokens, o.rank]),
    [
      ['big.ts', 'budget', header('big.ts').length + 501, 2],
      ['yarn.lock', 'lockfile', undefined, undefined],
    ],
  );
  assert.equal(report.totalTokens, ctx.totalTokens);
  assert.equal('text' in report, false);
});
