// Issue 26, item 8: in a sparse checkout, git lists every tracked path, also those the checkout leaves off the
// disk (skip-worktree). The file cap must count the files that are there, or the real source is left out.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildContext } from '../../src/context/index.ts';
import { charEncode, commit, git, gitInit, tempDir, write } from './context-fixtures.ts';

test('a sparse checkout: the paths it leaves off the disk do not count toward the file cap', async (t) => {
  const root = tempDir(t);
  // Sorted first, and more of them than the cap: today they fill it before src/ is reached.
  write(root, Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`assets/f${String(i).padStart(2, '0')}.txt`, `${i}\n`])));
  write(root, { 'src/main.ts': 'export const main = 1;\n', 'src/util.ts': 'export const util = 2;\n', 'README.md': 'hi\n' });
  gitInit(root);
  commit(root, 1);
  git(root, ['sparse-checkout', 'set', 'src']);
  assert.ok(!existsSync(join(root, 'assets')), 'the sparse checkout removed assets/ from the disk');

  const ctx = await buildContext(root, { encode: charEncode, maxFiles: 10, discovery: 'git' });
  assert.deepEqual(ctx.files.map((f) => f.path).sort(), ['README.md', 'src/main.ts', 'src/util.ts']);
  assert.equal(
    ctx.omitted.find((o) => o.reason === 'file-limit'),
    undefined,
    'three files on disk are far under the cap of 10',
  );
});

test('a skip-worktree file that is on disk (a local edit kept out of git status) is still read', async (t) => {
  const root = tempDir(t);
  write(root, { 'config.ts': 'export const port = 1;\n', 'main.ts': 'main\n' });
  gitInit(root);
  commit(root, 1);
  git(root, ['update-index', '--skip-worktree', 'config.ts']);
  write(root, { 'config.ts': 'export const port = 2;\n' });
  const ctx = await buildContext(root, { encode: charEncode, discovery: 'git' });
  assert.deepEqual(ctx.files.map((f) => f.path).sort(), ['config.ts', 'main.ts']);
});
