// Default excludes: what a developer would not paste into a prompt. Each rule carries the reason the
// report shows, so a surprising omission explains itself.
import type { OmitReason } from './types.ts';

export interface Verdict {
  reason: OmitReason;
  detail: string;
}

/** Dependency, build, cache and VCS folders, matched by name at any depth. */
const DEFAULT_DIRS = new Map<string, string>([
  ['.git', 'git metadata'],
  ['.hg', 'version control metadata'],
  ['.svn', 'version control metadata'],
  ['node_modules', 'dependencies'],
  ['bower_components', 'dependencies'],
  ['jspm_packages', 'dependencies'],
  ['vendor', 'vendored dependencies'],
  ['.venv', 'Python virtual environment'],
  ['venv', 'Python virtual environment'],
  ['__pycache__', 'Python bytecode'],
  ['.mypy_cache', 'tool cache'],
  ['.pytest_cache', 'tool cache'],
  ['.ruff_cache', 'tool cache'],
  ['.tox', 'tool cache'],
  ['.yarn', 'package manager cache'],
  ['.pnpm-store', 'package manager cache'],
  ['.gradle', 'build cache'],
  ['.cache', 'build cache'],
  ['.parcel-cache', 'build cache'],
  ['.turbo', 'build cache'],
  ['.terraform', 'provider cache'],
  ['dist', 'build output'],
  ['build', 'build output'],
  ['out', 'build output'],
  ['target', 'build output'],
  ['.next', 'build output'],
  ['.nuxt', 'build output'],
  ['.svelte-kit', 'build output'],
  ['.vscode-test', 'downloaded VS Code'],
  ['coverage', 'coverage report'],
  ['.nyc_output', 'coverage data'],
  ['Pods', 'dependencies'],
  ['DerivedData', 'build output'],
]);

const LOCKFILES = new Set([
  'package-lock.json',
  'npm-shrinkwrap.json',
  'yarn.lock',
  'pnpm-lock.yaml',
  'bun.lockb',
  'bun.lock',
  'Cargo.lock',
  'poetry.lock',
  'Pipfile.lock',
  'uv.lock',
  'pdm.lock',
  'composer.lock',
  'Gemfile.lock',
  'go.sum',
  'flake.lock',
  'mix.lock',
  'pubspec.lock',
  'Podfile.lock',
  'packages.lock.json',
  'gradle.lockfile',
]);

const GENERATED_NAME = /\.min\.(?:js|mjs|cjs|css)$|\.map$|\.(?:bundle|chunk)\.(?:js|mjs)$/i;

/** Lines this long are machine output (minified code, inlined data), not something to read. */
const MAX_LINE_CHARS = 2000;
const GENERATED_MARKER = /^\/\/ Code generated .* DO NOT EDIT\.$|@generated\b/m;

export function defaultDirVerdict(name: string): Verdict | undefined {
  const why = DEFAULT_DIRS.get(name);
  return why ? { reason: 'default-dir', detail: why } : undefined;
}

export function defaultFileVerdict(name: string): Verdict | undefined {
  if (LOCKFILES.has(name)) return { reason: 'lockfile', detail: 'lockfile' };
  if (GENERATED_NAME.test(name)) return { reason: 'generated', detail: 'minified bundle or source map' };
  return undefined;
}

/** Content check for generated files; reads only what it must. */
export function generatedContentVerdict(text: string): Verdict | undefined {
  const head = text.slice(0, 1024);
  if (GENERATED_MARKER.test(head)) return { reason: 'generated', detail: 'marked as generated' };
  let start = 0;
  let line = 1;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    if (end - start > MAX_LINE_CHARS) {
      return { reason: 'generated', detail: `line ${line} is ${end - start} characters (minified or data)` };
    }
    start = end + 1;
    line++;
  }
  return undefined;
}
