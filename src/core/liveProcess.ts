// Whether a process recorded earlier is still the one running: a pid alone cannot tell, since after a crash or a
// reboot the same pid may name another live process. On Linux the boot id and the process's start time tell.
import { readFileSync } from 'node:fs';

/** Linux reports start times in clock ticks of USER_HZ, which is 100 on every architecture we run on. */
const TICKS_PER_SECOND = 100;

export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, as another user's process.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let bootId: string | undefined;

/** "<boot id>:<start time in clock ticks>" on Linux; undefined elsewhere, or for a process that is gone. */
export function processStart(pid: number): string | undefined {
  const ticks = startTicks(pid);
  if (ticks === undefined) return undefined;
  try {
    bootId ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return undefined;
  }
  return `${bootId}:${ticks}`;
}

/** When the process started (ms since the epoch) on Linux; undefined elsewhere, or for a process that is gone. */
export function processStartedAtMs(pid: number): number | undefined {
  const ticks = startTicks(pid);
  if (ticks === undefined) return undefined;
  try {
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    return Number.isFinite(btime) ? btime * 1000 + (ticks * 1000) / TICKS_PER_SECOND : undefined;
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat, counted after the command name (in parentheses, and it may hold spaces). */
function startTicks(pid: number): number | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    return Number.isInteger(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}
