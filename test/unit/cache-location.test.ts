// Issue 13, case 8: a cache folder that cannot work is refused up front with what to do, never a hang or a stack.
// Issue 26, item 7: the default never lands in the current folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkCacheDir } from '../../src/engine/cacheLocation.ts';
import { defaultCacheDir } from '../../src/cli/paths.ts';
import { UserError } from '../../src/core/errors.ts';

const refused = (dir: string, why: RegExp) =>
  assert.throws(
    () => checkCacheDir(dir),
    (e: unknown) => e instanceof UserError && why.test(e.message) && /Choose another cache folder \(--cache-dir/.test(e.message),
  );

test('a cache folder under a file is refused, naming the file', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kvzip-location-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(join(root, 'afile'), 'x');
  refused(join(root, 'afile', 'cache', 'deeper'), new RegExp(`is under ${join(root, 'afile')}, which is a file`));
  refused(join(root, 'afile'), /is a file, not a folder/);
});

test(
  'a cache folder on /proc or /sys is refused (mkdir there never returns)',
  { skip: process.platform !== 'linux' && 'Linux only' },
  () => {
    refused('/proc/kvzip-cache/x', /on the kernel's proc file system/);
    refused('/sys/kvzip-cache', /on the kernel's sysfs file system/);
  },
);

test('a usable folder, existing or not yet, is accepted', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kvzip-location-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  checkCacheDir(root);
  checkCacheDir(join(root, 'not', 'yet', 'made'));
});

test('an empty or relative XDG_DATA_HOME (or LOCALAPPDATA) is ignored, as the XDG spec says', () => {
  const home = join(homedir(), '.local', 'share', 'kvzip-code');
  assert.equal(defaultCacheDir({ XDG_DATA_HOME: '' }, 'linux'), home);
  assert.equal(defaultCacheDir({ XDG_DATA_HOME: 'data' }, 'linux'), home);
  assert.equal(defaultCacheDir({ XDG_DATA_HOME: './data' }, 'linux'), home);
  assert.equal(defaultCacheDir({ XDG_DATA_HOME: '/srv/data' }, 'linux'), '/srv/data/kvzip-code');
  assert.equal(defaultCacheDir({}, 'linux'), home);
  const win = join(homedir(), 'AppData', 'Local', 'kvzip-code');
  assert.equal(defaultCacheDir({ LOCALAPPDATA: '' }, 'win32'), win);
  assert.equal(defaultCacheDir({ LOCALAPPDATA: 'AppData' }, 'win32'), win);
  assert.equal(
    defaultCacheDir({ LOCALAPPDATA: 'C:\\Users\\me\\AppData\\Local' }, 'win32'),
    join('C:\\Users\\me\\AppData\\Local', 'kvzip-code'),
  );
});
