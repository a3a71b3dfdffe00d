// Issue 26, item 7: the cache never lands in the repository. An empty or relative XDG_DATA_HOME is ignored (the
// XDG spec says so), `--cache-dir ""` is a usage error, and a cache folder that is the workspace is refused
// before anything (the prepared weights above all) is written there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../../src/engine/engine.ts';
import { CLI, skipWithoutStories as skip, STORIES, storyWorkspace, type CliRun } from '../support/cli.ts';

/** The CLI run from `cwd`, with `env` on top of this process's environment less KVZIP_CACHE_DIR. */
function cliIn(cwd: string, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const { KVZIP_CACHE_DIR: _, ...base } = process.env;
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd, timeout: 120_000, env: { ...base, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const listing = (dir: string) => readdirSync(dir, { recursive: true }).map(String).sort();

/** A fresh story workspace, removed after the test, and its listing as made. */
function workspace(t: { after: (fn: () => void) => void }): { ws: string; files: string[] } {
  const ws = storyWorkspace();
  t.after(() => rmSync(ws, { recursive: true, force: true }));
  return { ws, files: listing(ws) };
}

test('the cache never lands in the workspace', { skip, concurrency: false }, async (t) => {
  const model = ['--model', STORIES];

  await t.test('--cache-dir "" is a usage error, whatever the command', async (t) => {
    const { ws, files } = workspace(t);
    for (const args of [['build', ws, ...model], ['ask', ws, 'Tom', ...model], ['info'], ['clear', ws]]) {
      const r = await cliIn(ws, [...args, '--cache-dir', '']);
      assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
      assert.match(r.stderr, /--cache-dir must name a folder, got ""/);
    }
    assert.deepEqual(listing(ws), files, 'nothing was written in the workspace');
  });

  await t.test('--cache-dir . from the workspace is refused before anything is written there', async (t) => {
    const { ws, files } = workspace(t);
    for (const command of [
      ['build', ws],
      ['ask', ws, 'Tom'],
      ['context', ws],
    ]) {
      const r = await cliIn(ws, [...command, ...model, '--cache-dir', '.']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /The cache folder .* is the workspace itself/);
      assert.doesNotMatch(r.stderr, /Internal error/);
    }
    assert.deepEqual(listing(ws), files, 'nothing was written in the workspace');
  });

  await t.test('an engine client naming the workspace as its cache folder is refused the same way', async (t) => {
    const { ws, files } = workspace(t);
    const s = { workspace: ws, model: STORIES, cacheDir: ws, device: 'cpu', ratio: 0.3, level: 'pair' } as const;
    await assert.rejects(new Engine().build(s), /is the workspace itself/);
    assert.deepEqual(listing(ws), files, 'nothing was written in the workspace');
  });

  for (const xdg of ['', 'relative/data']) {
    await t.test(`XDG_DATA_HOME=${JSON.stringify(xdg)} is ignored: the cache goes to ~/.local/share`, async (t) => {
      const { ws, files } = workspace(t);
      const home = mkdtempSync(join(tmpdir(), 'kvzip-home-'));
      t.after(() => rmSync(home, { recursive: true, force: true }));
      const r = await cliIn(ws, ['build', ws, ...model], { XDG_DATA_HOME: xdg, HOME: home });
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(listing(ws), files, 'nothing was written in the workspace');
      assert.ok(existsSync(join(home, '.local', 'share', 'kvzip-code', 'entries')));
    });
  }
});
