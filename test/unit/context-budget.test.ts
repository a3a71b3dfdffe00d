// Token budget: files go in by rank, and the report names every omitted file with its token count and the
// rank that lost; the rendered text, token ids and per-file ranges agree with each other.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildContext, contextReport, header } from '../../src/context/index.ts';
import { charEncode, tempDir, write } from './context-fixtures.ts';
import { emptyContextMessage } from '../../src/engine/workspace.ts';
import { inEditorTerms } from '../../src/extension/errors.ts';

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

/** A source file whose outline alone (its signatures) is thousands of tokens. */
function manySignatures(n: number): string {
  return Array.from(
    { length: n },
    (_, i) =>
      `export function handleRequestNumber${i}(parameterAlpha: string, parameterBeta: number): string {\n  return parameterAlpha.repeat(parameterBeta) + '${i}';\n}\n`,
  ).join('\n');
}

test('a top-ranked file too big for the whole budget keeps nothing out: the files after it fill the budget', async (t) => {
  const root = tempDir(t);
  write(root, {
    'src/big.ts': manySignatures(80),
    'docs/guide.md': 'How to use the tool: run it in the folder you want to read.\n',
    'package.json': '{ "name": "tool" }\n',
  });
  const budget = 1000;
  const ctx = await buildContext(root, { encode: charEncode, maxTokens: budget });
  assert.deepEqual(ctx.files.map((f) => f.path).sort(), ['docs/guide.md', 'package.json']);
  const big = ctx.omitted.find((o) => o.path === 'src/big.ts')!;
  assert.equal(big.rank, 1, 'the source file ranks first');
  assert.ok(big.tokens! > budget);
  assert.match(big.detail!, /tokens as an outline, 1000 of 1000 left; more than the whole budget$/);
  assert.ok(ctx.totalTokens <= budget);
});

test('when the files ranked first are all too big, the smallest files fill the budget instead of none', async (t) => {
  const root = tempDir(t);
  // Seventeen huge notes rank first (by path): the ranked fill gives up reading after sixteen misses in a row.
  const huge = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`a${String(i).padStart(2, '0')}.txt`, 'h'.repeat(900 + i) + '\n']));
  write(root, { ...huge, 'z1.txt': 'one\n', 'z2.txt': 'two two\n', 'z3.txt': 'x'.repeat(300) + '\n' });
  const budget = 200;
  const ctx = await buildContext(root, { encode: charEncode, maxTokens: budget });
  assert.deepEqual(ctx.files.map((f) => f.path).sort(), ['z1.txt', 'z2.txt'], 'the small files that fit went in');
  assert.ok(ctx.totalTokens > 0 && ctx.totalTokens <= budget);
  const z3 = ctx.omitted.find((o) => o.path === 'z3.txt')!;
  assert.equal(z3.reason, 'budget');
  assert.match(z3.detail!, /\d+ tokens whole, \d+ of 200 left; the files ranked first do not fit, so smaller ones filled the budget$/);
  assert.equal(ctx.files.length + ctx.omitted.length, 20);
});

test('when truly nothing fits, the message names the smallest file measured, its size, the budget and what to do', async (t) => {
  const root = tempDir(t);
  write(root, { 'src/big.ts': manySignatures(40), 'notes.md': 'n'.repeat(400) + '\n', 'tiny.txt': 'x'.repeat(50) + '\n' });
  const limit = { window: 120, prefixTokens: 30, reserveTokens: 30, maxTokens: 60 };
  const ctx = await buildContext(root, { encode: charEncode, maxTokens: limit.maxTokens });
  assert.equal(ctx.files.length, 0);
  const tiny = ctx.omitted.find((o) => o.path === 'tiny.txt')!;
  assert.equal(tiny.tokens, header('tiny.txt').length + 51, 'the smallest file was measured');

  const capped = emptyContextMessage(root, ctx, { limit, modelWindow: 32768, maxContextTokens: 120 });
  assert.equal(
    capped,
    `No file of ${root} fits in the 60 tokens of context left for files (the 120 tokens --max-context-tokens allows, less 30 for the ` +
      `prompt and 30 kept for the question and the answer): the smallest of the 3 files measured, tiny.txt, takes ${tiny.tokens} whole. ` +
      'Raise --max-context-tokens (this model allows up to 32768), or choose a model with a larger window (--model).',
  );
  const window = emptyContextMessage(root, ctx, { limit, modelWindow: 120 });
  assert.match(
    window,
    /\(the model's 120-token window, less 30 .*tiny\.txt, takes \d+ whole\. Choose a model with a larger window \(--model\)\.$/,
  );
  // In the editor, the flags are the settings.
  assert.match(
    inEditorTerms(capped),
    /Raise kvzipCode\.maxContextTokens \(this model allows up to 32768\), or choose a model with a larger window \(kvzipCode\.model\)\.$/,
  );
});
