// Runs the real CLI (dist/cli.js, built by `npm test`) in its own process, as a user would.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
export const STORIES = fileURLToPath(new URL('../../../shared/models/stories260K', import.meta.url));
export const skipWithoutStories = !existsSync(STORIES)
  ? `${STORIES} not found: the shared stories260K model is needed`
  : !existsSync(CLI)
    ? 'dist/cli.js missing: run npm run build'
    : false;

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: timeoutMs, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Runs the CLI in a process group of its own and kill -9s the group after `delayMs`, unless it finished first. */
export async function killCliAfter(args: string[], delayMs: number): Promise<void> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: 'ignore', detached: true });
  const exited = new Promise((r) => child.once('exit', r));
  await new Promise((r) => setTimeout(r, delayMs));
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // It finished first.
  }
  await exited;
}

export async function cliJson<T>(args: string[]): Promise<T> {
  const r = await cli([...args, '--json']);
  assert.equal(r.code, 0, `kvzip-code ${args.join(' ')} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export interface AskJson {
  answer: string;
  fromCache: boolean;
  prefillTokens: number;
  questionTokens: number;
}

/** Two short stories stories260K answers about. */
export function storyWorkspace(): string {
  const ws = mkdtempSync(join(tmpdir(), 'kvzip-ws-'));
  writeFileSync(
    join(ws, 'cat.txt'),
    'Once upon a time, there was a little cat named Tom. Tom liked to play with his red ball in the garden. One day, the ball rolled into the pond. Tom was sad.\n',
  );
  writeFileSync(
    join(ws, 'dog.txt'),
    'His friend, a big dog named Max, jumped into the water and got the ball. Tom was very happy and said thank you to Max. From that day on, Tom and Max were best friends.\n',
  );
  return ws;
}

/** The current generation folder of the cache's only entry. */
export function currentGeneration(cacheDir: string): string {
  const entries = join(cacheDir, 'entries');
  const [key] = readdirSync(entries);
  return join(entries, key!, readFileSync(join(entries, key!, 'current'), 'utf8').trim());
}

/** A stack trace line, which a user-caused error must never print. */
export const STACK = /\bat .*\.(js|ts):\d+/;

export interface SignalledRun {
  /** The CLI's exit code, or null when a signal ended it. */
  code: number | null;
  exitSignal: NodeJS.Signals | null;
  stderr: string;
  /** The signal went out: the phase showed before the CLI ended. */
  sent: boolean;
  /** From the signal until the engine process was gone (exited or a zombie), and until the CLI exited. */
  engineGoneMs?: number;
  exitMs?: number;
  timedOut: boolean;
}

/** The engine: the CLI's child process (Linux's /proc). */
function childOf(pid: number): number | undefined {
  try {
    const first = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/)[0];
    return first ? Number(first) : undefined;
  } catch {
    return undefined;
  }
}

function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/**
 * Runs the CLI in a process group of its own and, once its stderr shows `phase`, sends `signal` to the CLI alone,
 * or with `group` to the whole group, as a terminal's Ctrl-C does. Times how long the engine and the CLI take to
 * go. A run past `timeoutMs` is kill -9ed, group and all.
 */
export function signalCliAt(
  args: string[],
  phase: RegExp,
  signal: NodeJS.Signals,
  o: { group?: boolean; timeoutMs?: number } = {},
): Promise<SignalledRun> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const run: SignalledRun = { code: null, exitSignal: null, stderr: '', sent: false, timedOut: false };
  let sentAt = 0;
  let watch: NodeJS.Timeout | undefined;
  child.stderr!.on('data', (d: Buffer) => {
    run.stderr += d.toString();
    if (run.sent || !phase.test(run.stderr)) return;
    const engine = childOf(child.pid!);
    run.sent = true;
    sentAt = performance.now();
    process.kill(o.group ? -child.pid! : child.pid!, signal);
    if (engine === undefined) return;
    watch = setInterval(() => {
      if (!gone(engine)) return;
      run.engineGoneMs = performance.now() - sentAt;
      clearInterval(watch);
    }, 10);
  });
  const timer = setTimeout(() => {
    run.timedOut = true;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }, o.timeoutMs ?? 120_000);
  return new Promise((resolve) => {
    child.once('exit', (code, exitSignal) => {
      clearTimeout(timer);
      run.code = code;
      run.exitSignal = exitSignal;
      if (run.sent) run.exitMs = performance.now() - sentAt;
      // The engine may outlive the CLI (the bug this measures): watch it a while longer.
      const until = performance.now() + 5_000;
      const settle = () => {
        if (watch && run.engineGoneMs === undefined && performance.now() < until) return void setTimeout(settle, 20);
        clearInterval(watch);
        resolve(run);
      };
      settle();
    });
  });
}

/** Temporary files, leases and locks under `dir`: what an interrupted run must not leave behind. */
export function leftovers(dir: string): string[] {
  const found: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (/\.tmp$|\.lease-|^current\.|\.lock$/.test(e.name)) found.push(p);
      else if (e.isDirectory()) walk(p);
    }
  };
  if (existsSync(dir)) walk(dir);
  return found;
}
