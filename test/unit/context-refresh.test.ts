// Fingerprint and refresh plan: the first stale token after an edit, the reused prefix is token for token
// what a fresh build produces, and citations map back to path:line.
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildContext, fileAtToken, findSnippet, locate, planRefresh } from '../../src/context/index.ts';
import { charEncode, commit, gitInit, tempDir, write } from './context-fixtures.ts';

async function repo(t: { after: (fn: () => void) => void }): Promise<string> {
  const root = tempDir(t);
  gitInit(root);
  write(root, { 'a.ts': 'const a = 1;\n', 'b.ts': 'const b = 2;\nconst bb = 3;\n', 'c.ts': 'const c = 4;\n' });
  commit(root, 1);
  write(root, { 'c.ts': 'const c = 5;\n' });
  commit(root, 2, ['c.ts']); // c.ts changes most: it goes last
  return root;
}

test('no change: up to date, nothing to prefill', async (t) => {
  const root = await repo(t);
  const old = await buildContext(root, { encode: charEncode });
  const plan = planRefresh(old.fingerprint, await buildContext(root, { encode: charEncode }));
  assert.equal(plan.upToDate, true);
  assert.equal(plan.prefillTokens, 0);
  assert.equal(plan.firstToken, old.totalTokens);
});

test('editing the last file in the order re-prefills only that file, and the prefix ids are unchanged', async (t) => {
  const root = await repo(t);
  const old = await buildContext(root, { encode: charEncode });
  assert.deepEqual(
    old.files.map((f) => f.path),
    ['a.ts', 'b.ts', 'c.ts'],
  );
  write(root, { 'c.ts': 'const c = 6; // edited\n' });
  const now = await buildContext(root, { encode: charEncode });
  const plan = planRefresh(old.fingerprint, now);
  assert.equal(plan.upToDate, false);
  assert.deepEqual(plan.changed, ['c.ts']);
  assert.deepEqual([plan.added, plan.removed, plan.shifted], [[], [], []]);
  assert.equal(plan.firstFile, 2);
  assert.equal(plan.firstToken, old.files[2]!.tokenStart);
  assert.equal(plan.prefillTokens, now.totalTokens - plan.firstToken);
  assert.deepEqual(now.tokenIds.slice(0, plan.firstToken), old.tokenIds.slice(0, plan.firstToken));
});

test('editing a middle file moves it last (dirty) and re-prefills from its old place', async (t) => {
  const root = await repo(t);
  const old = await buildContext(root, { encode: charEncode });
  write(root, { 'a.ts': 'const a = 100;\n' });
  const now = await buildContext(root, { encode: charEncode });
  assert.deepEqual(
    now.files.map((f) => f.path),
    ['b.ts', 'c.ts', 'a.ts'],
  );
  const plan = planRefresh(old.fingerprint, now);
  assert.equal(plan.firstToken, 0);
  assert.deepEqual(plan.changed, ['a.ts']);
  assert.deepEqual(plan.shifted, ['b.ts', 'c.ts']);
  // A second edit of the same file now only touches the tail.
  write(root, { 'a.ts': 'const a = 101;\n' });
  const again = planRefresh(now.fingerprint, await buildContext(root, { encode: charEncode }));
  assert.equal(again.firstToken, now.files[2]!.tokenStart);
});

test('added, removed, tokenizer change and format change', async (t) => {
  const root = await repo(t);
  const old = await buildContext(root, { encode: charEncode, tokenizerId: 'tok-1' });
  write(root, { 'd.ts': 'new\n' });
  const added = planRefresh(old.fingerprint, await buildContext(root, { encode: charEncode, tokenizerId: 'tok-1' }));
  assert.deepEqual(added.added, ['d.ts']);
  assert.equal(added.firstToken, old.totalTokens); // untracked goes last: a pure append
  rmSync(join(root, 'd.ts'));
  rmSync(join(root, 'c.ts'));
  const removed = planRefresh(old.fingerprint, await buildContext(root, { encode: charEncode, tokenizerId: 'tok-1' }));
  assert.deepEqual(removed.removed, ['c.ts']);
  assert.equal(removed.firstToken, old.files[2]!.tokenStart);
  assert.equal(removed.prefillTokens, 0);
  const retok = planRefresh(old.fingerprint, await buildContext(root, { encode: charEncode, tokenizerId: 'tok-2' }));
  assert.equal(retok.firstToken, 0);
  assert.equal(retok.fullRebuild, 'tokenizer changed');
  const reformat = planRefresh({ ...old.fingerprint, version: 0 }, old);
  assert.match(reformat.fullRebuild!, /render format/);
  assert.equal(reformat.upToDate, false);
});

test('fingerprint is plain JSON and round-trips', async (t) => {
  const root = await repo(t);
  const ctx = await buildContext(root, { encode: charEncode });
  const back = JSON.parse(JSON.stringify(ctx.fingerprint));
  assert.equal(planRefresh(back, ctx).upToDate, true);
});

test('citations: character offset and token position map to path:line; snippets to lines', async (t) => {
  const root = await repo(t);
  const ctx = await buildContext(root, { encode: charEncode });
  const b = ctx.files.find((f) => f.path === 'b.ts')!;
  const at = ctx.text.indexOf('const bb');
  assert.deepEqual(locate(ctx.text, ctx.files, at + 6), { path: 'b.ts', line: 2, column: 7 });
  assert.equal(locate(ctx.text, ctx.files, b.charStart), undefined); // inside the header
  assert.equal(fileAtToken(ctx.files, b.tokenStart)?.path, 'b.ts');
  assert.equal(fileAtToken(ctx.files, ctx.totalTokens), undefined);
  assert.deepEqual(findSnippet(ctx.text, b, 'const bb'), [2]);
  assert.deepEqual(findSnippet(ctx.text, b, 'const'), [1, 2]);
});
