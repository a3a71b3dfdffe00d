// A lock between processes, held for as long as a job runs: seconds on a small model, minutes on a large one, so
// its age says nothing about whether its owner is still alive. The lock is a file that names its owner: the pid
// and, on Linux, the boot and the process's start time, so that a pid reused after a crash or a reboot does not
// keep it. It is created whole (written aside, then hard-linked into place, which fails when the lock exists), so
// a reader never sees it half written.
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { CancelledError } from './cancel.ts';
import { isAlive, processStart } from './liveProcess.ts';

export interface LockOwner {
  pid: number;
  /** Boot id and start time of the process (Linux); absent where the system does not tell them. */
  start?: string;
  /** Tells this holder's lock from a later one at the same path. */
  token: string;
}

export interface LockWait {
  signal?: AbortSignal;
  /** Called once, when the lock is found held by a live process, with its owner. */
  onWait?: (owner: LockOwner) => void;
}

/** Waits until `path` is free, takes it, and returns the function that gives it back. */
export async function acquireLock(path: string, o: LockWait = {}): Promise<() => void> {
  const me: LockOwner = { pid: process.pid, start: processStart(process.pid), token: randomBytes(8).toString('hex') };
  const draft = `${path}.${me.token}.tmp`;
  writeFileSync(draft, JSON.stringify(me), { mode: 0o600 });
  try {
    let told = false;
    for (;;) {
      if (o.signal?.aborted) throw new CancelledError();
      try {
        linkSync(draft, path);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const owner = inspect(path);
      if (owner === 'gone') continue;
      if (owner === 'unreadable' || !isLive(owner)) {
        if (!breakStale(path, owner)) await sleep(20, o.signal);
        continue;
      }
      if (!told) o.onWait?.(owner);
      told = true;
      await sleep(50 + Math.random() * 100, o.signal);
    }
  } finally {
    rmSync(draft, { force: true });
  }
  return () => {
    // Only this holder's lock: one wrongly broken meanwhile belongs to someone else now.
    const owner = inspect(path);
    if (typeof owner === 'object' && owner.token === me.token) rmSync(path, { force: true });
  };
}

/** The owner a lock file names, or whether it is gone or holds no owner (nothing this module writes). */
function inspect(path: string): LockOwner | 'gone' | 'unreadable' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : 'unreadable';
  }
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (Number.isInteger(o.pid) && typeof o.token === 'string') return o as LockOwner;
  } catch {
    // Not JSON: below.
  }
  return 'unreadable';
}

/** True while the owner's process runs: its pid is alive and, where known, started when the owner's did. */
function isLive(owner: LockOwner): boolean {
  if (!isAlive(owner.pid)) return false;
  const now = owner.start === undefined ? undefined : processStart(owner.pid);
  return now === undefined || now === owner.start;
}

/**
 * Removes a lock whose owner is gone (or that names none), under a short second lock (a folder: mkdir is atomic),
 * re-reading the owner there: two waiters that both saw the dead owner must not let the second remove the first
 * one's new lock. The second lock is held for microseconds, so one older than ten seconds was left by a crash and
 * is removed. False when another waiter is breaking it.
 */
function breakStale(path: string, seen: LockOwner | 'unreadable'): boolean {
  const breaker = `${path}.break`;
  try {
    mkdirSync(breaker, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    if (modifiedBefore(breaker, Date.now() - 10_000)) rmSync(breaker, { recursive: true, force: true });
    return false;
  }
  try {
    const now = inspect(path);
    const same =
      now === 'unreadable' ? seen === 'unreadable' : typeof now === 'object' && typeof seen === 'object' && now.token === seen.token;
    if (same) rmSync(path, { force: true });
  } finally {
    rmdirSync(breaker);
  }
  return true;
}

function modifiedBefore(path: string, ms: number): boolean {
  try {
    return statSync(path).mtimeMs < ms;
  } catch {
    return false;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      if (signal?.aborted) reject(new CancelledError());
      else resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
