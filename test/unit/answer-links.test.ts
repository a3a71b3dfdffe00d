// Which file references the sidebar draws as links: only those that are files of the workspace (a real temp
// workspace, one folder and two), never a path that is missing or leads out of it through a symlink.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveContextPath, workspaceLinks } from '../../src/extension/links.ts';

function tree(t: { after: (f: () => void) => void }): string {
  const base = realpathSync(mkdtempSync(join(tmpdir(), 'kvzip-links-')));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  mkdirSync(join(base, 'app', 'src'), { recursive: true });
  mkdirSync(join(base, 'lib'));
  writeFileSync(join(base, 'app', 'main.ts'), 'x\n');
  writeFileSync(join(base, 'app', 'src', 'util.ts'), 'y\n');
  writeFileSync(join(base, 'lib', 'index.js'), 'z\n');
  writeFileSync(join(base, 'secret.txt'), 'outside\n');
  symlinkSync(join(base, 'secret.txt'), join(base, 'app', 'leak.txt'));
  return base;
}

test('an answer: only its paths that are workspace files become links', async (t) => {
  const base = tree(t);
  const one = [{ name: 'app', path: join(base, 'app') }];
  const answer = 'See `main.ts:3`, src/util.ts and src/gone.ts; also ../secret.txt, leak.txt and [util](https://x.invalid/src/util.ts).';
  assert.deepEqual(await workspaceLinks(answer, one), ['main.ts', 'src/util.ts']);
});

test('with two folders, a path starts with its folder name', async (t) => {
  const base = tree(t);
  const two = [
    { name: 'app', path: join(base, 'app') },
    { name: 'lib', path: join(base, 'lib') },
  ];
  assert.equal(await resolveContextPath(two, 'lib/index.js'), join(base, 'lib', 'index.js'));
  assert.equal(await resolveContextPath(two, 'app/src/util.ts'), join(base, 'app', 'src', 'util.ts'));
  assert.equal(await resolveContextPath(two, 'lib/missing.js'), undefined);
  assert.deepEqual(await workspaceLinks('lib/index.js and app/main.ts, not other/main.ts', two), ['lib/index.js', 'app/main.ts']);
});
