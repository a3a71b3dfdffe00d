// Generated ignore cases checked against git itself: the tree walk must keep exactly the files that
// `git check-ignore` does not ignore and that `git ls-files --others --exclude-standard` lists.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { discover } from '../../src/context/discover.ts';
import { Omissions } from '../../src/context/report.ts';
import { PathRules } from '../../src/context/rules.ts';
import { git, gitInit, rng, write } from './context-fixtures.ts';

const DIRS = ['a', 'b', 'src', 'logs', 'a/b', 'src/a', 'src/lib', 'logs/old', 'a/b/c', 'Build'];
const FILES = ['x.log', 'y.txt', 'keep.log', 'a', 'b', 'c.js', 'README.md', '.hidden', 'x y.txt', 'build', '#note'];
const PATTERNS = [
  '*.log',
  '!keep.log',
  '!*.log',
  '/a',
  'a/',
  'b',
  '/b/',
  'src/',
  'src/*',
  '!src/lib',
  'src/**/c.js',
  '**/b',
  'a/**',
  '!a/y.txt',
  'logs/**/*.txt',
  'x*',
  '?.js',
  '[ab]',
  '[!a].txt',
  '*.txt',
  '!y.txt',
  '/*.md',
  'logs',
  '!logs/',
  'a/b/',
  '**/a/b',
  '!**/keep.log',
  '.hidden',
  '\\#note',
  '# comment',
  '',
  'x\\ y.txt',
  'c.js/',
  'Build/',
  'build',
  '*/y.txt',
  '/src/a/',
  'lib',
  '!lib/c.js',
  'a/**/x.log',
  '**/',
  '*',
  '!*/',
  '!b/',
  'a/**/',
  '**/logs/**',
  '*.TXT',
  'old/',
  '/logs/old',
  '!x.log',
  'keep.log ',
  'c.js\\ ',
  '\\!b',
  'src/lib/*.js',
  '!/src',
];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

function generate(root: string, seed: number): string[] {
  const r = rng(seed);
  const files = new Set<string>();
  for (const d of DIRS) {
    if (r() < 0.7) for (const f of FILES) if (r() < 0.35 && !DIRS.includes(`${d}/${f}`)) files.add(`${d}/${f}`);
  }
  for (const f of FILES) if (r() < 0.5 && !DIRS.includes(f)) files.add(f);
  write(root, Object.fromEntries([...files].map((f) => [f, f])));
  // .gitignore files at the root and in some folders, then .git/info/exclude.
  const homes = ['', ...DIRS.filter(() => r() < 0.3)];
  for (const home of homes) {
    const lines = Array.from({ length: 1 + Math.floor(r() * 4) }, () => pick(r, PATTERNS));
    if (home) mkdirSync(join(root, home), { recursive: true });
    writeFileSync(join(root, home, '.gitignore'), lines.join('\n') + '\n');
    files.add(home ? `${home}/.gitignore` : '.gitignore');
  }
  if (r() < 0.5) writeFileSync(join(root, '.git', 'info', 'exclude'), [pick(r, PATTERNS), pick(r, PATTERNS)].join('\n') + '\n');
  return [...files].sort();
}

/** git check-ignore exits 1 when nothing is ignored. */
function checkIgnore(root: string, paths: string[]): string[] {
  let out: string;
  try {
    out = git(root, ['check-ignore', '--stdin', '-z', '--no-index'], {}, paths.join('\0') + '\0');
  } catch (e) {
    if ((e as { status?: number }).status !== 1) throw e;
    out = '';
  }
  return out.split('\0').filter(Boolean);
}

async function walk(root: string): Promise<string[]> {
  const found = await discover(root, {
    mode: 'walk',
    rules: new PathRules({ defaultExcludes: false, includeSecrets: true }),
    omitted: new Omissions(),
    maxFiles: 1e6,
    onProgress: () => {},
  });
  return found.paths.sort();
}

/** Runs seeds [from, to] and returns how many paths were compared; throws on the first disagreement. */
export async function compareWithGit(base: string, from: number, to: number): Promise<number> {
  let compared = 0;
  for (let seed = from; seed <= to; seed++) {
    const root = join(base, String(seed));
    mkdirSync(root);
    gitInit(root);
    const all = generate(root, seed);
    const ignored = new Set(checkIgnore(root, all));
    const expected = all.filter((f) => !ignored.has(f));
    const listed = git(root, ['ls-files', '-z', '--others', '--exclude-standard']).split('\0').filter(Boolean).sort();
    const ours = await walk(root);
    const rules = [...all.filter((f) => f.endsWith('.gitignore')), '.git/info/exclude']
      .map((f) => `${f}: ${JSON.stringify(existsSync(join(root, f)) ? readFileSync(join(root, f), 'utf8') : null)}`)
      .join('\n');
    const extra = ours.filter((f) => !expected.includes(f));
    const missing = expected.filter((f) => !ours.includes(f));
    assert.deepEqual({ extra, missing }, { extra: [], missing: [] }, `seed ${seed}: walk vs check-ignore\n${rules}`);
    assert.deepEqual(ours, listed, `seed ${seed}: walk vs ls-files`);
    compared += all.length;
  }
  return compared;
}
