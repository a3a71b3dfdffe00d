// A workspace of real TypeScript (this repository's own sources) of about a given number of tokens, for the
// benchmarks that need a context of a known size. Files get explicit, increasing mtimes so the context's order
// (least recently changed first) is the same on every run.
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR } from './randomQwen.ts';

/**
 * Copies .ts files of the folders `tops` (in order; paths kept relative to their folder) into `dir` until about
 * `tokens` tokens. Returns their paths in `dir`.
 */
export function codeWorkspace(dir: string, encode: (t: string) => number[], tokens: number, tops = ['src']): string[] {
  const root = join(BENCH_DIR, '..');
  const picked: string[] = [];
  let total = 0;
  const t0 = Date.now() / 1000 - 10_000;
  for (const top of tops) {
    const files = (readdirSync(join(root, top), { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts') && !f.startsWith('results'))
      .sort();
    for (const f of files) {
      if (existsSync(join(dir, f))) continue;
      const text = readFileSync(join(root, top, f), 'utf8');
      const n = encode(text).length;
      if (total + n > tokens) continue;
      mkdirSync(join(dir, f, '..'), { recursive: true });
      writeFileSync(join(dir, f), text);
      utimesSync(join(dir, f), t0 + picked.length * 10, t0 + picked.length * 10);
      picked.push(f);
      total += n;
    }
  }
  return picked;
}
