// The cache entry's short lock: a folder made with mkdir (atomic) that records who holds it. A lock outlives a
// process killed inside it, and after a crash or a reboot its pid may name another live process: a pid alone
// then blocked every build and ask for a minute, silently. So the owner is recorded with its host and its
// process's start time (boot included), a lock whose owner is not the process now running under that pid is
// broken at once, and a wait on a live owner says whom it waits for.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { isAlive, processStart, processStartedAtMs } from '../core/liveProcess.ts';

/** The pid alone: what versions before the owner record wrote, and still read. */
const PID_FILE = 'pid';
const OWNER_FILE = 'owner.json';
/** The body takes milliseconds: a lock this old belongs to a hung process, or to one on a host we cannot see. */
const STALE_MS = 60_000;
/** How long a wait goes unexplained. */
const SAY_AFTER_MS = 1_000;

interface Owner {
  pid: number;
  host: string;
  /** liveProcess's processStart: another value is another process under the same pid. */
  start?: string;
  /** When the lock was taken (ms since the epoch). */
  since: number;
}

/**
 * Runs `body` holding the lock folder `lock`. A lock whose owner is gone is broken; `onWait` hears, once, whom a
 * wait of more than a second is for.
 */
export async function withLock(lock: string, body: () => void, onWait?: (message: string) => void): Promise<void> {
  const t0 = Date.now();
  let said = false;
  for (let attempt = 1; ; attempt++) {
    try {
      mkdirSync(lock, { mode: 0o700 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (attempt % 10 === 0) {
        const holder = lockHolder(lock);
        if (holder.stale) rmSync(lock, { recursive: true, force: true });
        else if (!said && onWait && Date.now() - t0 > SAY_AFTER_MS) {
          said = true;
          onWait(`waiting for the cache entry's lock ${lock}, held by ${holder.who} (broken after a minute if it is not released)`);
        }
      }
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
    }
  }
  try {
    writeFileSync(join(lock, PID_FILE), String(process.pid));
    const owner: Owner = { pid: process.pid, host: hostname(), start: processStart(process.pid), since: Date.now() };
    writeFileSync(join(lock, OWNER_FILE), JSON.stringify(owner));
    body();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** True when `lock` was taken by process `pid` (which the caller knows has ended). */
export function lockedBy(lock: string, pid: number): boolean {
  return readOwner(lock)?.pid === pid;
}

/** Whether the lock's owner is gone, and how to name it to a waiter. */
function lockHolder(lock: string): { stale: boolean; who: string } {
  const aged = ageMs(lock) > STALE_MS;
  const owner = readOwner(lock);
  // No pid yet: the owner is between mkdir and writing it, unless that was long ago.
  if (!owner) return { stale: aged, who: 'a process that has not written its pid yet' };
  const since = new Date(owner.since).toLocaleTimeString();
  if (owner.host !== hostname()) return { stale: aged, who: `process ${owner.pid} on ${owner.host} since ${since}` };
  const who = `process ${owner.pid} since ${since}`;
  if (!isAlive(owner.pid)) return { stale: true, who };
  if (owner.start !== undefined) {
    const start = processStart(owner.pid);
    if (start !== undefined && start !== owner.start) return { stale: true, who };
  } else {
    // A pid-only lock (an older version's): a process started after the lock was taken cannot be its owner.
    const started = processStartedAtMs(owner.pid);
    if (started !== undefined && started > owner.since + 1_000) return { stale: true, who };
  }
  return { stale: aged, who };
}

/** The owner record; for a lock holding only a pid, that pid on this host, taken at the folder's time. */
function readOwner(lock: string): Owner | undefined {
  try {
    const o = JSON.parse(readFileSync(join(lock, OWNER_FILE), 'utf8')) as Owner;
    if (Number.isInteger(o?.pid) && typeof o.host === 'string' && typeof o.since === 'number') return o;
  } catch {
    // Not written yet, or an older version's lock: its pid file decides.
  }
  try {
    const pid = Number(readFileSync(join(lock, PID_FILE), 'utf8'));
    if (Number.isInteger(pid) && pid > 0) return { pid, host: hostname(), since: Date.now() - ageMs(lock) };
  } catch {
    // No pid yet.
  }
  return undefined;
}

function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}
