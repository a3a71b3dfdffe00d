// The ignore oracle over many more generated cases than the fast suite runs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tempDir } from '../unit/context-fixtures.ts';
import { compareWithGit } from '../unit/context-ignore-oracle.ts';

test('walk ignore decisions agree with git on 600 generated cases', async (t) => {
  const compared = await compareWithGit(tempDir(t), 1, 600);
  assert.ok(compared > 10000, `compared ${compared} paths`);
});
