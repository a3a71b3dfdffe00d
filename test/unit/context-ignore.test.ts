// Bar 1: the tree walk's ignore decisions agree with git itself (`git check-ignore`, and `git ls-files`'s
// listing) on generated cases: nested .gitignore files, negation, folder-only and anchored patterns,
// wildcards and .git/info/exclude.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { discover } from '../../src/context/discover.ts';
import { Omissions } from '../../src/context/report.ts';
import { PathRules } from '../../src/context/rules.ts';
import { compareWithGit } from './context-ignore-oracle.ts';
import { git, gitInit, tempDir, write } from './context-fixtures.ts';

test('walk ignore decisions agree with git check-ignore and git ls-files on 30 generated cases', async (t) => {
  const compared = await compareWithGit(tempDir(t), 1, 30);
  assert.ok(compared > 600, `compared ${compared} paths`);
});

test('git mode lists what git lists, including tracked files that match an ignore rule', async (t) => {
  const root = tempDir(t);
  gitInit(root);
  write(root, { 'a.log': 'tracked', 'b.log': 'untracked', 'c.txt': 'c', '.gitignore': '*.log\n' });
  git(root, ['add', '-f', 'a.log']);
  const found = await discover(root, {
    mode: 'git',
    rules: new PathRules({ defaultExcludes: false, includeSecrets: true }),
    omitted: new Omissions(),
    maxFiles: 1e6,
    onProgress: () => {},
  });
  assert.deepEqual(found.paths, ['.gitignore', 'a.log', 'c.txt']);
  assert.deepEqual([...found.untracked].sort(), ['.gitignore', 'c.txt']);
});
