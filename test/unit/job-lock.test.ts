// The lock that holds a session for one ask: held by a live process it waits (and says who holds it); left by a
// dead one, by a pid reused after a crash or a reboot, or left unreadable, it is taken over at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLock, type LockOwner } from '../../src/core/jobLock.ts';
import { CancelledError } from '../../src/core/cancel.ts';

function lockPath(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kvzip-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'a.lock');
}

/** A pid that was alive a moment ago and is not now. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

const within = <T>(ms: number, p: Promise<T>) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`not within ${ms} ms`)), ms))]);

test('a second taker waits for the first, told who holds it, and gets the lock when it is given back', async (t) => {
  const path = lockPath(t);
  const release = await acquireLock(path);
  const owners: LockOwner[] = [];
  let taken = false;
  const second = acquireLock(path, { onWait: (o) => owners.push(o) }).then((r) => ((taken = true), r));
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(taken, false, 'still waiting while the lock is held');
  assert.equal(owners.length, 1, 'told once');
  assert.equal(owners[0]!.pid, process.pid);
  release();
  (await within(2000, second))();
  assert.deepEqual(readdirSync(join(path, '..')), [], 'nothing is left behind');
});

for (const [what, owner] of [
  ['a dead process', () => ({ pid: deadPid(), token: 'x' })],
  [
    'a live pid that another process had when it took the lock (pid reuse)',
    () => ({ pid: process.pid, start: 'another-boot:1', token: 'x' }),
  ],
  ['no owner at all (not JSON)', () => 'garbage'],
] as const) {
  test(
    `a lock left by ${what} is taken over at once`,
    { skip: what.includes('reuse') && process.platform !== 'linux' && 'start times are read on Linux' },
    async (t) => {
      const path = lockPath(t);
      const o = owner();
      writeFileSync(path, typeof o === 'string' ? o : JSON.stringify(o));
      let waited = false;
      (await within(2000, acquireLock(path, { onWait: () => (waited = true) })))();
      assert.equal(waited, false);
      assert.equal(existsSync(path), false);
    },
  );
}

test('a wait ends with CancelledError when the job is cancelled', async (t) => {
  const path = lockPath(t);
  const release = await acquireLock(path);
  const ac = new AbortController();
  const waiting = acquireLock(path, { signal: ac.signal, onWait: () => ac.abort() });
  await assert.rejects(within(2000, waiting), CancelledError);
  release();
  assert.deepEqual(readdirSync(join(path, '..')), []);
});

test('many takers at once: one holder at a time, and every one gets its turn', async (t) => {
  const path = lockPath(t);
  let holders = 0;
  let most = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      const release = await acquireLock(path);
      most = Math.max(most, ++holders);
      await new Promise((r) => setTimeout(r, 10));
      holders--;
      release();
    }),
  );
  assert.equal(most, 1);
});
