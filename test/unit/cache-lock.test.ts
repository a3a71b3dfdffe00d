// The cache entry's lock after a crash or a reboot: a leftover commit.lock whose pid now names another live
// process must not block for a minute, and a wait on a live holder says whom it waits for. And what a killed
// engine leaves in the cache folder is found by its pid and removed, and nothing of anyone else.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CacheStore } from '../../src/cache/store.ts';

const linuxOnly = process.platform === 'linux' ? false : 'process start times come from /proc';

async function entry(t: { after(f: () => void): void }): Promise<{ root: string; key: string; lock: string }> {
  const root = mkdtempSync(join(tmpdir(), 'kvzip-lock-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const key = CacheStore.keyOf({ test: 'lock' });
  const store = new CacheStore(root);
  const gen = store.begin(key);
  writeFileSync(join(gen, 'kv.bin'), Buffer.from('kv'));
  const manifest = { key, workspace: root, sequenceLength: 1, createdAt: new Date().toISOString() };
  await store.commit(gen, manifest as unknown as Parameters<CacheStore['commit']>[1], ['kv.bin']);
  return { root, key, lock: join(root, 'entries', key, 'commit.lock') };
}

/** A live process that is not the lock's owner: the pid a crashed owner's lock names, reused. */
function otherProcess(t: { after(f: () => void): void }): ChildProcess {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(() => child.kill('SIGKILL'));
  return child;
}

/** How long opening the entry takes, and what its wait said. */
async function timedOpen(root: string, key: string): Promise<{ ms: number; said: string[] }> {
  const said: string[] = [];
  const store = new CacheStore(root, (m) => said.push(m));
  const t0 = performance.now();
  const opened = await store.open(key, ['kv.bin']);
  assert.ok('manifest' in opened, 'problem' in opened ? opened.problem : '');
  await opened.release();
  return { ms: performance.now() - t0, said };
}

test('a commit.lock holding only a pid that a process started since then now has is broken at once', { skip: linuxOnly }, async (t) => {
  const { root, key, lock } = await entry(t);
  const reused = otherProcess(t);
  // As a crashed builder of an older version left it, half a minute ago; the pid has since gone to another process.
  mkdirSync(lock);
  writeFileSync(join(lock, 'pid'), String(reused.pid));
  const before = new Date(Date.now() - 30_000);
  utimesSync(lock, before, before);
  const { ms } = await timedOpen(root, key);
  assert.ok(ms < 3_000, `opened after ${ms.toFixed(0)} ms`);
  assert.ok(!existsSync(lock));
});

test('a commit.lock whose recorded owner is not the process now under its pid is broken at once', { skip: linuxOnly }, async (t) => {
  const { root, key, lock } = await entry(t);
  const reused = otherProcess(t);
  // Taken a moment ago by a process that crashed, or before a reboot: the same pid, another start.
  mkdirSync(lock);
  writeFileSync(
    join(lock, 'owner.json'),
    JSON.stringify({ pid: reused.pid, host: hostname(), start: 'another-boot:1', since: Date.now() }),
  );
  const { ms } = await timedOpen(root, key);
  assert.ok(ms < 3_000, `opened after ${ms.toFixed(0)} ms`);
});

test('a wait for a lock a live process holds says whom it waits for, and ends when it is released', async (t) => {
  const { root, key, lock } = await entry(t);
  // Held by this very process, taken just now: a live owner.
  mkdirSync(lock);
  writeFileSync(join(lock, 'pid'), String(process.pid));
  const release = setTimeout(() => rmSync(lock, { recursive: true, force: true }), 2_500);
  t.after(() => clearTimeout(release));
  const { ms, said } = await timedOpen(root, key);
  assert.ok(ms >= 2_000, `waited ${ms.toFixed(0)} ms for the holder`);
  assert.equal(said.length, 1, said.join('\n'));
  assert.match(said[0]!, new RegExp(`waiting for the cache entry's lock .*commit\\.lock, held by process ${process.pid} since`));
});

test("what a killed engine left is removed by its pid, and nothing of another process's", async (t) => {
  const { removeLeftovers } = await import('../../src/cache/leftovers.ts');
  const root = mkdtempSync(join(tmpdir(), 'kvzip-leftovers-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const dead = 4_000_001;
  const other = 4_000_002;
  const files = (pid: number) => [
    `entries/k/gen-1796646529339-${pid}-6e6fa0.tmp/kv.bin`,
    `entries/k/current.${pid}.a1b2c3`,
    `entries/k/gen-1796646529339-7-6e6fa0.lease-${pid}-a1b2c3`,
    `models/m-fp32/weights.bin.${pid}.tmp`,
    `models/m-fp32/dense.onnx.${pid}.tmp`,
    `models/checkpoint-sums.json.${pid}.tmp`,
    `gguf/0123abcd.${pid}.tmp/config.json`,
    `sessions/k/talk.json.${pid}.a1b2c3.tmp`,
  ];
  const keep = ['entries/k/current', 'entries/k/gen-1796646529339-7-6e6fa0/kv.bin', 'models/m-fp32/weights.bin', 'sessions/k/talk.json'];
  for (const f of [...files(dead), ...files(other), ...keep]) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    writeFileSync(join(root, f), 'x');
  }
  // Locks: the entry's (a folder naming its owner) and a session's (a file naming it, beside its draft).
  for (const pid of [dead, other]) {
    mkdirSync(join(root, `entries/k${pid}/commit.lock`), { recursive: true });
    writeFileSync(join(root, `entries/k${pid}/commit.lock/pid`), String(pid));
    writeFileSync(join(root, `sessions/k/s${pid}.json.lock`), JSON.stringify({ pid, token: 'ab' }));
    writeFileSync(join(root, `sessions/k/s${pid}.json.lock.cd.tmp`), JSON.stringify({ pid, token: 'cd' }));
  }
  removeLeftovers(root, dead);
  const left: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name), `${rel}${e.name}/`);
      else left.push(`${rel}${e.name}`);
    }
  };
  walk(root, '');
  const expected = [
    ...files(other),
    ...keep,
    `entries/k${other}/commit.lock/pid`,
    `sessions/k/s${other}.json.lock`,
    `sessions/k/s${other}.json.lock.cd.tmp`,
  ];
  assert.deepEqual(left.sort(), expected.sort());
});
