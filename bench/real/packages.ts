// The real-code workspaces of the real-model bench: public packages fetched at bench time as their source
// archives (npm: `npm pack NAME@VERSION`; PyPI: `pip download --no-deps --no-binary :all: NAME==VERSION`), never
// vendored. Archives are cached under bench/results/tmp/real/archives/ (git-ignored) and unpacked afresh into a
// scratch folder for every run, so the needles a run writes into the files never reach the cache.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TMP_DIR } from '../randomQwen.ts';

export interface RealPackage {
  /** Short id used on the command line and in the results. */
  id: string;
  registry: 'npm' | 'pypi';
  name: string;
  version: string;
  language: 'javascript' | 'typescript' | 'python';
}

/**
 * Two JavaScript and two Python packages whose top-ranked sources carry 50 checkable facts at 4K and 8K (module
 * and class constants, parameter defaults, class hierarchies) and keep comments in at least two files at both
 * sizes (for the needles). Tried and left: requests 2.32.3 (at 8K only __version__.py kept its comments, so every
 * needle sat near 14%), urllib3 2.2.3 (at 4K no file kept a comment), semver 7.6.3 and click 8.1.7 (under 50
 * facts at 4K), six 1.16.0 (one file, no comments at either size).
 */
export const PACKAGES: RealPackage[] = [
  { id: 'commander', registry: 'npm', name: 'commander', version: '12.1.0', language: 'javascript' },
  { id: 'ws', registry: 'npm', name: 'ws', version: '8.18.0', language: 'javascript' },
  { id: 'colorama', registry: 'pypi', name: 'colorama', version: '0.4.6', language: 'python' },
  { id: 'pyyaml', registry: 'pypi', name: 'PyYAML', version: '6.0.2', language: 'python' },
];

export const ARCHIVE_DIR = join(TMP_DIR, 'real', 'archives');

/** The cached archive of a package, fetched with the registry's own client when it is not there yet. */
export function fetchArchive(p: RealPackage, log: (s: string) => void): string {
  const dir = join(ARCHIVE_DIR, `${p.registry}-${p.name}-${p.version}`);
  const found = existsSync(dir) ? readdirSync(dir).filter((f) => /\.(tgz|tar\.gz|zip)$/.test(f)) : [];
  if (found.length === 1) return join(dir, found[0]!);
  const tmp = `${dir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  log(`fetching ${p.registry} ${p.name} ${p.version}`);
  if (p.registry === 'npm') {
    execFileSync('npm', ['pack', `${p.name}@${p.version}`, '--silent'], { cwd: tmp, stdio: ['ignore', 'pipe', 'inherit'] });
  } else {
    execFileSync('pip', ['download', '--no-deps', '--no-binary', ':all:', '-q', '-d', tmp, `${p.name}==${p.version}`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  }
  const files = readdirSync(tmp).filter((f) => /\.(tgz|tar\.gz|zip)$/.test(f));
  if (files.length !== 1) throw new Error(`${p.name} ${p.version}: expected one source archive, got ${files.join(', ') || 'none'}`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  return join(dir, files[0]!);
}

/** Unpacks the archive into `into` and returns the package's root folder (npm's `package/`, an sdist's NAME-VERSION/). */
export function unpack(archive: string, into: string): string {
  rmSync(into, { recursive: true, force: true });
  mkdirSync(into, { recursive: true });
  if (archive.endsWith('.zip')) execFileSync('unzip', ['-q', archive, '-d', into]);
  else execFileSync('tar', ['xzf', archive, '-C', into]);
  const tops = readdirSync(into).filter((f) => statSync(join(into, f)).isDirectory());
  if (tops.length !== 1) throw new Error(`${archive}: expected one top folder, got ${tops.join(', ')}`);
  return join(into, tops[0]!);
}
