// Order: least-changed files first (git history, else mtime), volatile files last, ties by path, and the
// same input always gives the same order.
import assert from 'node:assert/strict';
import { utimesSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildContext } from '../../src/context/index.ts';
import { charEncode, commit, gitInit, tempDir, write } from './context-fixtures.ts';

const paths = (ctx: { files: { path: string }[] }): string[] => ctx.files.map((f) => f.path);

test('git order: fewer commits first, then older last commit, then path; dirty and untracked last', async (t) => {
  const root = tempDir(t);
  gitInit(root);
  write(root, {
    'stable.ts': '1',
    'hot.ts': '1',
    'warm.ts': '1',
    'old.ts': '1',
    'new.ts': '1',
    'z-tie.ts': '1',
    'a-tie.ts': '1',
    'edited.ts': '1',
  });
  commit(root, 1, ['stable.ts', 'hot.ts', 'warm.ts', 'old.ts', 'z-tie.ts', 'a-tie.ts', 'edited.ts']);
  write(root, { 'hot.ts': '2', 'warm.ts': '2' });
  commit(root, 2, ['hot.ts', 'warm.ts']);
  write(root, { 'hot.ts': '3' });
  commit(root, 3, ['hot.ts']);
  commit(root, 4, ['new.ts']);
  write(root, { 'edited.ts': 'uncommitted', 'untracked.ts': 'u' });
  const ctx = await buildContext(root, { encode: charEncode });
  assert.equal(ctx.stats.order, 'git-history');
  assert.deepEqual(paths(ctx), [
    // one commit each: at t=1 (ties broken by path), then new.ts at t=4
    'a-tie.ts',
    'old.ts',
    'stable.ts',
    'z-tie.ts',
    'new.ts',
    'warm.ts', // two commits
    'hot.ts', // three commits
    'untracked.ts', // volatile: no commits
    'edited.ts', // volatile: one commit
  ]);
});

test('history is bounded by maxHistoryCommits', async (t) => {
  const root = tempDir(t);
  gitInit(root);
  write(root, { 'a.ts': '1', 'b.ts': '1' });
  commit(root, 1);
  for (let i = 2; i <= 4; i++) {
    write(root, { 'a.ts': String(i) });
    commit(root, i, ['a.ts']);
  }
  write(root, { 'b.ts': '2' });
  commit(root, 5, ['b.ts']);
  assert.deepEqual(paths(await buildContext(root, { encode: charEncode })), ['b.ts', 'a.ts']);
  // Only the newest commit is read: b.ts has one change, a.ts none, so a.ts comes first.
  assert.deepEqual(paths(await buildContext(root, { encode: charEncode, maxHistoryCommits: 1 })), ['a.ts', 'b.ts']);
});

test('a repository without commits orders untracked files by path', async (t) => {
  const root = tempDir(t);
  gitInit(root);
  write(root, { 'b.ts': 'b', 'a.ts': 'a', 'c/d.ts': 'd' });
  const ctx = await buildContext(root, { encode: charEncode });
  assert.equal(ctx.stats.discovery, 'git');
  assert.deepEqual(paths(ctx), ['a.ts', 'b.ts', 'c/d.ts']);
});

test('without git: oldest modification first, whole seconds, ties by path', async (t) => {
  const root = tempDir(t);
  write(root, { 'recent.ts': 'r', 'old.ts': 'o', 'b-same.ts': 'b', 'a-same.ts': 'a' });
  const at = (p: string, s: number): void => utimesSync(join(root, p), s, s);
  at('recent.ts', 3000);
  at('old.ts', 1000);
  at('b-same.ts', 2000.2);
  at('a-same.ts', 2000.7);
  const ctx = await buildContext(root, { encode: charEncode });
  assert.equal(ctx.stats.discovery, 'walk');
  assert.equal(ctx.stats.order, 'mtime');
  assert.deepEqual(paths(ctx), ['old.ts', 'a-same.ts', 'b-same.ts', 'recent.ts']);
});

test('two builds of the same tree are identical', async (t) => {
  const root = tempDir(t);
  gitInit(root);
  write(root, Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`m${i % 5}/f${i}.ts`, `export const v${i} = ${i};\n`])));
  commit(root, 1);
  const a = await buildContext(root, { encode: charEncode });
  const b = await buildContext(root, { encode: charEncode });
  assert.equal(a.text, b.text);
  assert.deepEqual(a.tokenIds, b.tokenIds);
  assert.deepEqual(a.fingerprint, b.fingerprint);
});

test('a subfolder of a repository: paths, history and dirty state relative to it; an ignored subfolder is walked', async (t) => {
  const root = tempDir(t);
  gitInit(root);
  write(root, { 'outside.ts': 'o', 'sub/a.ts': '1', 'sub/b.ts': '1', '.gitignore': 'deps/\n', 'deps/pkg/index.ts': 'p' });
  commit(root, 1);
  write(root, { 'sub/a.ts': '2' });
  commit(root, 2, ['sub/a.ts']);
  write(root, { 'sub/b.ts': 'dirty' });
  const sub = await buildContext(join(root, 'sub'), { encode: charEncode });
  assert.equal(sub.stats.discovery, 'git');
  assert.deepEqual(paths(sub), ['a.ts', 'b.ts']); // b.ts has fewer commits but is dirty
  const deps = await buildContext(join(root, 'deps', 'pkg'), { encode: charEncode });
  assert.equal(deps.stats.discovery, 'walk');
  assert.deepEqual(paths(deps), ['index.ts']);
});
