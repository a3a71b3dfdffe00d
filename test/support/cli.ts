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
