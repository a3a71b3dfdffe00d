// The persisted compressed cache. One entry per (workspace, model, settings) under <root>/entries/<key>/.
// Each build writes a new generation folder and then atomically replaces the entry's `current` pointer, so a
// crash mid-write (even kill -9) leaves the previous good generation in use, and two builders racing leave one
// complete generation. Every file is checksummed in the manifest and verified before it is trusted.
import { createHash, randomBytes } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { FORMAT_VERSION, type Manifest } from './manifest.ts';

export const MANIFEST = 'manifest.json';
const CURRENT = 'current';

export class CacheStore {
  readonly entriesDir: string;

  constructor(readonly root: string) {
    this.entriesDir = join(root, 'entries');
  }

  static keyOf(parts: Record<string, unknown>): string {
    return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 24);
  }

  /** A fresh folder to write a generation into; commit() makes it current. */
  begin(key: string): string {
    const dir = join(this.entriesDir, key, `gen-${Date.now()}-${process.pid}-${randomBytes(3).toString('hex')}.tmp`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return dir;
  }

  /** Checksums the files, writes the manifest, and atomically points the entry at this generation. */
  async commit(
    genDir: string,
    manifest: Omit<Manifest, 'files' | 'formatVersion'>,
    fileNames: string[],
  ): Promise<{ dir: string; manifest: Manifest }> {
    const files: Manifest['files'] = {};
    for (const f of fileNames) files[f] = { bytes: statSync(join(genDir, f)).size, sha256: await sha256File(join(genDir, f)) };
    const full: Manifest = { formatVersion: FORMAT_VERSION, ...manifest, files };
    writeFileSync(join(genDir, MANIFEST), JSON.stringify(full, null, 1), { mode: 0o600 });
    const finalDir = genDir.replace(/\.tmp$/, '');
    renameSync(genDir, finalDir);
    const entry = join(this.entriesDir, manifest.key);
    const tmp = join(entry, `${CURRENT}.${process.pid}.${randomBytes(3).toString('hex')}`);
    writeFileSync(tmp, finalDir.slice(entry.length + 1), { mode: 0o600 });
    renameSync(tmp, join(entry, CURRENT));
    this.collect(manifest.key);
    return { dir: finalDir, manifest: full };
  }

  /** Removes generations other than the current one, and abandoned temporary ones. */
  private collect(key: string): void {
    const entry = join(this.entriesDir, key);
    const current = this.currentName(key);
    const hourAgo = Date.now() - 3600_000;
    for (const name of readdirSync(entry)) {
      if (name === CURRENT || name === current) continue;
      const p = join(entry, name);
      const abandoned = name.endsWith('.tmp') ? statSync(p).mtimeMs < hourAgo || !pidAlive(name) : true;
      if (abandoned) rmSync(p, { recursive: true, force: true });
    }
  }

  private currentName(key: string): string | undefined {
    try {
      const name = readFileSync(join(this.entriesDir, key, CURRENT), 'utf8').trim();
      return /^gen-[\w-]+$/.test(name) ? name : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * The entry's current generation, verified: manifest parses, format version matches, every file has its
   * recorded size and checksum. Returns the reason when it cannot be trusted.
   */
  async open(key: string): Promise<{ dir: string; manifest: Manifest } | { problem: string }> {
    const name = this.currentName(key);
    if (!name) return { problem: 'no cache yet' };
    const dir = join(this.entriesDir, key, name);
    let manifest: Manifest;
    try {
      manifest = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8'));
    } catch {
      return { problem: 'the manifest is missing or corrupt' };
    }
    if (typeof manifest !== 'object' || manifest === null || manifest.formatVersion !== FORMAT_VERSION) {
      return { problem: `the cache format ${JSON.stringify(manifest?.formatVersion)} is not this version's (${FORMAT_VERSION})` };
    }
    if (manifest.key !== key || typeof manifest.files !== 'object') return { problem: 'the manifest is corrupt' };
    for (const [f, want] of Object.entries(manifest.files)) {
      const p = join(dir, f);
      if (!existsSync(p) || statSync(p).size !== want.bytes) return { problem: `${f} is truncated or missing` };
      if ((await sha256File(p)) !== want.sha256) return { problem: `${f} fails its checksum` };
    }
    const now = new Date();
    utimesSync(join(dir, MANIFEST), now, now);
    return { dir, manifest };
  }

  list(): { key: string; dir: string; manifest?: Manifest; bytes: number; lastUsedMs: number }[] {
    if (!existsSync(this.entriesDir)) return [];
    return readdirSync(this.entriesDir).flatMap((key) => {
      const name = this.currentName(key);
      if (!name) return [];
      const dir = join(this.entriesDir, key, name);
      let manifest: Manifest | undefined;
      let lastUsedMs = 0;
      try {
        manifest = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8'));
        lastUsedMs = statSync(join(dir, MANIFEST)).mtimeMs;
      } catch {
        manifest = undefined;
      }
      const bytes = existsSync(dir) ? readdirSync(dir).reduce((n, f) => n + (f === 'weights.bin' ? 0 : statSync(join(dir, f)).size), 0) : 0;
      return [{ key, dir, manifest, bytes, lastUsedMs }];
    });
  }

  remove(key: string): void {
    rmSync(join(this.entriesDir, key), { recursive: true, force: true });
  }

  /** Keeps the total under `capBytes`, removing the least recently used entries first (never `keep`). */
  enforceCap(capBytes: number, keep?: string): string[] {
    const entries = this.list().sort((a, b) => a.lastUsedMs - b.lastUsedMs);
    let total = entries.reduce((n, e) => n + e.bytes, 0);
    const removed: string[] = [];
    for (const e of entries) {
      if (total <= capBytes) break;
      if (e.key === keep) continue;
      this.remove(e.key);
      total -= e.bytes;
      removed.push(e.key);
    }
    return removed;
  }
}

function pidAlive(genName: string): boolean {
  const pid = Number(genName.split('-')[2]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}
