// Shared fixtures for the context builder's tests: real temp folders, real git repositories.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Encode } from '../../src/context/index.ts';

/** One token per code point: exact, deterministic, and easy to reason about in assertions. */
export const charEncode: Encode = (t) => Array.from(t, (c) => c.codePointAt(0)!);

export function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kvzip-ctx-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function write(root: string, files: Record<string, string | Uint8Array>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
}

export function git(root: string, args: string[], env: Record<string, string> = {}, input?: string): string {
  return execFileSync('git', args, {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

export function gitInit(root: string): void {
  // No template: it copies a dozen sample hooks per repository, most of a generated case's cost.
  git(root, ['init', '-q', '-b', 'main', '--template=']);
  mkdirSync(join(root, '.git', 'info'), { recursive: true });
  git(root, ['config', 'user.name', 'Test']);
  git(root, ['config', 'user.email', 'test@example.com']);
  git(root, ['config', 'commit.gpgsign', 'false']);
}

/** Commits the given paths (all when empty) at a fixed time, so history order is deterministic. */
export function commit(root: string, seconds: number, paths: string[] = []): void {
  git(root, ['add', '--', ...(paths.length ? paths : ['.'])]);
  const date = `${1_700_000_000 + seconds} +0000`;
  git(root, ['commit', '-q', '-m', `c${seconds}`], { GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date });
}

/** Small seeded PRNG, so generated cases reproduce from their seed. */
export { mulberry32 as rng } from '../../src/runtime/random.ts';
