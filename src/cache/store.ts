// The persisted compressed cache. One entry per (workspace, model, settings) under <root>/entries/<key>/.
// Each build writes a new generation folder and then atomically replaces the entry's `current` pointer, so a
// crash mid-write (even kill -9) leaves the previous good generation in use, and two builders racing leave one
// complete generation. The switch itself (finish the folder, move the pointer, remove old generations) runs under
// a short per-entry lock, so one builder's clean-up never deletes another's generation before it becomes current.
// Every file is checksummed in the manifest and verified before it is trusted.
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
const LOCK = 'commit.lock';

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
    const entry = join(this.entriesDir, manifest.key);
    await withLock(join(entry, LOCK), () => {
      renameSync(genDir, finalDir);
      const tmp = join(entry, `${CURRENT}.${process.pid}.${randomBytes(3).toString('hex')}`);
      writeFileSync(tmp, finalDir.slice(entry.length + 1), { mode: 0o600 });
      renameSync(tmp, join(entry, CURRENT));
      this.collect(manifest.key);
    });
    return { dir: finalDir, manifest: full };
  }

  /** Removes generations other than the current one, and abandoned temporary ones. */
  private collect(key: string): void {
    const entry = join(this.entriesDir, key);
    const current = this.currentName(key);
    const hourAgo = Date.now() - 3600_000;
    for (const name of readdirSync(entry)) {
      if (name === CURRENT || name === current || name === LOCK) continue;
      const p = join(entry, name);
      const abandoned = name.endsWith('.tmp') ? !pidAlive(name) || modifiedBefore(p, hourAgo) : true;
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
    // Another builder may switch generations (and remove the one being read) meanwhile: follow the pointer until
    // it holds still, so a reader never reports a complete cache as broken.
    let name = this.currentName(key);
    for (;;) {
      const opened = await this.verify(key, name);
      const now = this.currentName(key);
      if (!('problem' in opened) || now === name) return opened;
      name = now;
    }
  }

  private async verify(key: string, name: string | undefined): Promise<{ dir: string; manifest: Manifest } | { problem: string }> {
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
      if (sizeOf(p) !== want.bytes) return { problem: `${f} is truncated or missing` };
      const sum = await sha256File(p).catch(() => undefined);
      if (sum !== want.sha256) return { problem: `${f} fails its checksum or was removed while being read` };
    }
    try {
      const now = new Date();
      utimesSync(join(dir, MANIFEST), now, now);
    } catch {
      return { problem: 'the generation was removed while being read' };
    }
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
      let bytes = 0;
      try {
        for (const f of readdirSync(dir)) if (f !== 'weights.bin') bytes += sizeOf(join(dir, f)) ?? 0;
      } catch {
        // The generation is gone (cleared or replaced meanwhile): it holds nothing.
      }
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

/**
 * Runs `body` holding a lock folder (mkdir is atomic). A lock left by a dead process, or older than a minute
 * (the body takes milliseconds), is broken.
 */
async function withLock(lock: string, body: () => void): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      mkdirSync(lock, { mode: 0o700 });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (attempt > 0 && attempt % 20 === 0 && lockStale(lock)) rmSync(lock, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
    }
  }
  try {
    writeFileSync(join(lock, 'pid'), String(process.pid));
    body();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function lockStale(lock: string): boolean {
  try {
    const pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
    return !isAlive(pid) || modifiedBefore(lock, Date.now() - 60_000);
  } catch {
    // No pid yet: the owner is between mkdir and writing it, unless that was long ago.
    return modifiedBefore(lock, Date.now() - 60_000);
  }
}

function sizeOf(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}

/** False when the path is gone (another process removed or renamed it meanwhile). */
function modifiedBefore(path: string, ms: number): boolean {
  try {
    return statSync(path).mtimeMs < ms;
  } catch {
    return false;
  }
}

function pidAlive(genName: string): boolean {
  return isAlive(Number(genName.split('-')[2]));
}

function isAlive(pid: number): boolean {
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
