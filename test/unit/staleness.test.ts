// Bar (issue 10): the extension's staleness check and the context builder agree on which files belong to the
// context, for include/exclude globs at several depths. A file the context holds must mark the cache stale
// when it changes, and one it leaves out by path must not.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { buildContext } from '../../src/context/index.ts';
import { Staleness, staleNote } from '../../src/extension/staleness.ts';
import { charEncode, gitInit, tempDir, write } from './context-fixtures.ts';

const TREE = [
  'a.ts',
  'b.md',
  'src/c.ts',
  'src/d.md',
  'src/deep/e.ts',
  'src/deep/deeper/f.ts',
  'docs/g.ts',
  'docs/h.md',
  'docs/deep/i.md',
  'node_modules/pkg/j.ts',
  '.env',
];

const GLOBS: { include: string[]; exclude: string[] }[] = [
  { include: [], exclude: [] },
  // One level only in picomatch; the `ignore` package matched these at any depth.
  { include: ['*.ts'], exclude: [] },
  { include: [], exclude: ['*.md'] },
  { include: ['**/*.ts'], exclude: [] },
  { include: ['src/**'], exclude: ['**/deep/**'] },
  { include: [], exclude: ['docs', 'src/deep/deeper'] },
  { include: ['**/deep/**', '*.md'], exclude: ['**/*.ts'] },
];

function files(root: string, dir = root): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.name === '.git' ? [] : e.isDirectory() ? files(root, join(dir, e.name)) : [relative(root, join(dir, e.name))],
  );
}

for (const discovery of ['walk', 'git'] as const) {
  test(`${discovery}: staleness and the context agree on include/exclude globs at every depth`, async (t) => {
    const root = tempDir(t);
    if (discovery === 'git') gitInit(root);
    write(root, Object.fromEntries(TREE.map((p) => [p, `the text of ${p}\n`])));
    const staleness = new Staleness();
    for (const { include, exclude } of GLOBS) {
      const ctx = await buildContext(root, { encode: charEncode, discovery, include, exclude });
      const inContext = new Set(ctx.files.map((f) => f.path));
      assert.ok(inContext.size > 0, `${JSON.stringify({ include, exclude })} leaves something in the context`);
      for (const rel of files(root)) {
        const stale = staleness.touchesContext(rel, { include, exclude, includeSecrets: false });
        assert.equal(
          stale,
          inContext.has(rel),
          `${rel} with ${JSON.stringify({ include, exclude })}: stale ${stale}, in context ${inContext.has(rel)}`,
        );
      }
    }
  });
}

test('a left-out folder itself (the watcher reports folders too) does not make the cache stale', () => {
  const staleness = new Staleness();
  const none = { include: [], exclude: ['docs'], includeSecrets: false };
  for (const rel of ['node_modules', 'dist', 'docs', 'src/node_modules']) assert.equal(staleness.touchesContext(rel, none), false, rel);
  assert.equal(staleness.touchesContext('src/a.ts', none), true);
});

test('a stale answer names the changes its cache predates: a few by name, then how many more', () => {
  assert.equal(staleNote(['src/x.ts']), 'Answered from the cache built before src/x.ts changed.');
  assert.equal(staleNote(['a.ts', 'b.ts']), 'Answered from the cache built before a.ts and b.ts changed.');
  assert.equal(staleNote(['a.ts', 'b.ts', 'c.ts']), 'Answered from the cache built before a.ts, b.ts and c.ts changed.');
  assert.equal(
    staleNote(['a.ts', 'b.ts', 'c.ts', 'd.ts', 'e.ts']),
    'Answered from the cache built before a.ts, b.ts, c.ts and 2 more changed.',
  );
  // The workspace itself went away (or the engine could not say which files): no file is named.
  assert.equal(staleNote(undefined), 'Answered from the cache built before the workspace changed.');
});
