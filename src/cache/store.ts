// The persisted compressed cache. One entry per (workspace, model, settings) under <root>/entries/<key>/.
// Each build writes a new generation folder and then atomically replaces the entry's `current` pointer, so a
// crash mid-write (even kill -9) leaves the previous good generation in use, and two builders racing leave one
// complete generation. The switch itself (finish the folder, move the pointer, remove old generations) runs under
// a short per-entry lock, so one builder's clean-up never deletes another's generation before it becomes current.
// A reader pins the generation it opens with a lease (taken under the same lock), and clean-up leaves leased
// generations alone until the lease is released, so a generation is never removed between its check and its use.
// The manifest carries its own checksum and names every file the reader requires; each file's size and sha256
// are verified before it is trusted.
import { createHash, randomBytes } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  rmdirSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { FORMAT_VERSION, manifestChecksum, type Manifest } from './manifest.ts';
import { withLock } from './lock.ts';
import { isAlive } from '../core/liveProcess.ts';

export const MANIFEST = 'manifest.json';
const CURRENT = 'current';
const LOCK = 'commit.lock';
/** `<generation>.lease-<pid>-<random>`: a reader's pin on a generation. */
const LEASE = /^(gen-[\w-]+)\.lease-(\d+)-\w+$/;

export interface Opened {
  dir: string;
  manifest: Manifest;
  /** Ends the pin on the generation: clean-up may remove it once it is no longer current. */
  release(): Promise<void>;
}

export class CacheStore {
  readonly entriesDir: string;

  constructor(
    readonly root: string,
    /** Told whom a wait for an entry's lock is for, when it lasts. */
    private readonly onWait?: (message: string) => void,
  ) {
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
    manifest: Omit<Manifest, 'files' | 'formatVersion' | 'checksum'>,
    fileNames: string[],
  ): Promise<{ dir: string; manifest: Manifest }> {
    const files: Manifest['files'] = {};
    for (const f of fileNames) files[f] = { bytes: statSync(join(genDir, f)).size, sha256: await sha256File(join(genDir, f)) };
    const unsigned = { formatVersion: FORMAT_VERSION, ...manifest, files };
    const full: Manifest = { ...unsigned, checksum: manifestChecksum(unsigned) };
    writeFileSync(join(genDir, MANIFEST), JSON.stringify(full, null, 1), { mode: 0o600 });
    const finalDir = genDir.replace(/\.tmp$/, '');
    const entry = join(this.entriesDir, manifest.key);
    await this.locked(entry, () => {
      renameSync(genDir, finalDir);
      const tmp = join(entry, `${CURRENT}.${process.pid}.${randomBytes(3).toString('hex')}`);
      writeFileSync(tmp, finalDir.slice(entry.length + 1), { mode: 0o600 });
      renameSync(tmp, join(entry, CURRENT));
      this.collect(manifest.key);
    });
    return { dir: finalDir, manifest: full };
  }

  /** Removes generations other than the current one and those a live reader leases, and abandoned ones. */
  private collect(key: string): void {
    const entry = join(this.entriesDir, key);
    const current = this.currentName(key);
    const hourAgo = Date.now() - 3600_000;
    const names = readdirSync(entry);
    const leased = new Set<string>();
    for (const name of names) {
      const lease = LEASE.exec(name);
      if (!lease) continue;
      if (isAlive(Number(lease[2]))) leased.add(lease[1]!);
      else rmSync(join(entry, name), { force: true });
    }
    for (const name of names) {
      if (name === CURRENT || name === current || name === LOCK || leased.has(name) || LEASE.test(name)) continue;
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
   * The entry's current generation, pinned and verified: the manifest parses and its checksum holds, the format
   * version matches, it lists every file in `required`, and every file it lists has its recorded size and
   * checksum. Returns the reason when it cannot be trusted. The caller releases the pin once it has opened what
   * it needs.
   */
  async open(key: string, required: string[]): Promise<Opened | { problem: string }> {
    const pinned = await this.pin(key);
    if ('problem' in pinned) return pinned;
    const checked = await this.verify(key, pinned.name, required);
    if ('problem' in checked) {
      await pinned.release();
      return checked;
    }
    return { ...checked, release: pinned.release };
  }

  /** Leases the current generation under the entry's lock, so clean-up cannot remove it from under a reader. */
  private async pin(key: string): Promise<{ name: string; release: () => Promise<void> } | { problem: string }> {
    const entry = join(this.entriesDir, key);
    if (!this.currentName(key)) return { problem: 'no cache yet' };
    let name: string | undefined;
    let lease = '';
    try {
      await this.locked(entry, () => {
        name = this.currentName(key);
        if (!name) return;
        lease = join(entry, `${name}.lease-${process.pid}-${randomBytes(3).toString('hex')}`);
        writeFileSync(lease, '', { mode: 0o600 });
      });
    } catch (e) {
      // The entry was removed meanwhile (cleared): there is nothing to open.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { problem: 'no cache yet' };
      throw e;
    }
    if (!name) return { problem: 'no cache yet' };
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      try {
        await this.locked(entry, () => {
          rmSync(lease, { force: true });
          this.collect(key);
        });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      this.removeIfEmpty(key);
    };
    return { name, release };
  }

  private async verify(key: string, name: string, required: string[]): Promise<{ dir: string; manifest: Manifest } | { problem: string }> {
    const dir = join(this.entriesDir, key, name);
    const checked = readManifest(dir);
    if ('problem' in checked) return checked;
    const { manifest } = checked;
    if (manifest.key !== key) return { problem: 'the manifest belongs to another entry' };
    const missing = required.filter((f) => !(f in manifest.files));
    if (missing.length) return { problem: `the manifest does not list ${missing.join(', ')}` };
    for (const [f, want] of Object.entries(manifest.files)) {
      const p = join(dir, f);
      if (sizeOf(p) !== want.bytes) return { problem: `${f} is truncated or missing` };
      const sum = await sha256File(p).catch(() => undefined);
      if (sum !== want.sha256) return { problem: `${f} fails its checksum` };
    }
    try {
      const now = new Date();
      utimesSync(join(dir, MANIFEST), now, now);
    } catch {
      return { problem: 'the generation was removed while being read' };
    }
    return { dir, manifest };
  }

  /** Every entry with a current generation; `problem` says why its manifest cannot be trusted, if it cannot. */
  list(): { key: string; dir: string; manifest?: Manifest; problem?: string; bytes: number; lastUsedMs: number }[] {
    if (!existsSync(this.entriesDir)) return [];
    return readdirSync(this.entriesDir).flatMap((key) => {
      const name = this.currentName(key);
      if (!name) return [];
      const dir = join(this.entriesDir, key, name);
      const read = readManifest(dir);
      let lastUsedMs = 0;
      try {
        lastUsedMs = statSync(join(dir, MANIFEST)).mtimeMs;
      } catch {
        // No manifest: never used.
      }
      let bytes = 0;
      try {
        for (const f of readdirSync(dir)) if (f !== 'weights.bin') bytes += sizeOf(join(dir, f)) ?? 0;
      } catch {
        // The generation is gone (cleared or replaced meanwhile): it holds nothing.
      }
      return [{ key, dir, ...('problem' in read ? { problem: read.problem } : { manifest: read.manifest }), bytes, lastUsedMs }];
    });
  }

  /**
   * Removes the entry. Its pointer goes first, so no new reader opens it; a generation a reader still leases is
   * removed when that lease is released.
   */
  async remove(key: string): Promise<void> {
    const entry = join(this.entriesDir, key);
    try {
      await this.locked(entry, () => {
        rmSync(join(entry, CURRENT), { force: true });
        this.collect(key);
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    this.removeIfEmpty(key);
  }

  /** Runs `body` under the entry's lock. */
  private locked(entry: string, body: () => void): Promise<void> {
    return withLock(join(entry, LOCK), body, this.onWait);
  }

  /** Drops an entry folder left with nothing in it (rmdir refuses a folder another process has just used). */
  private removeIfEmpty(key: string): void {
    try {
      rmdirSync(join(this.entriesDir, key));
    } catch {
      // Not empty, or already gone.
    }
  }

  /** Keeps the total under `capBytes`, removing the least recently used entries first (never `keep`). */
  async enforceCap(capBytes: number, keep?: string): Promise<string[]> {
    const entries = this.list().sort((a, b) => a.lastUsedMs - b.lastUsedMs);
    let total = entries.reduce((n, e) => n + e.bytes, 0);
    const removed: string[] = [];
    for (const e of entries) {
      if (total <= capBytes) break;
      if (e.key === keep) continue;
      await this.remove(e.key);
      total -= e.bytes;
      removed.push(e.key);
    }
    return removed;
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

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('end', () => resolve(h.digest('hex')))
      .on('error', reject);
  });
}

/** The generation's manifest, when it parses, its checksum holds and its format is this version's. */
function readManifest(dir: string): { manifest: Manifest } | { problem: string } {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, MANIFEST), 'utf8'));
  } catch {
    return { problem: 'the manifest is missing or corrupt' };
  }
  if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) return { problem: 'the manifest is corrupt' };
  if (typeof manifest.formatVersion !== 'number') return { problem: 'the manifest has no format version' };
  if (manifest.formatVersion !== FORMAT_VERSION) {
    return { problem: `the cache format ${JSON.stringify(manifest.formatVersion)} is not this version's (${FORMAT_VERSION})` };
  }
  if (manifest.checksum !== manifestChecksum(manifest)) return { problem: 'the manifest fails its checksum' };
  if (typeof manifest.files !== 'object' || manifest.files === null) return { problem: 'the manifest is corrupt' };
  return { manifest };
}
