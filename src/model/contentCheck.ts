// Content checks for big files we cannot afford to hash on every open: a file is hashed in fixed blocks when it is
// written; a full check re-hashes every block, a quick one only the first, the last and a few random blocks. The
// full check runs whenever the file's identity (inode, size, mtime) differs from the last full check's, so an
// edited file is always fully checked, and an unchanged one costs a few milliseconds. A quick check of a file this
// process has checked already, with the same identity, reads nothing: opening a model and then a cache generation
// over its weights checked them twice within a second.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync, type Stats } from 'node:fs';

export const BLOCK_BYTES = 4 * 1024 * 1024;
/** Files up to this size are always checked in full (well under 100 ms). */
const ALWAYS_FULL_BYTES = 64 * 1024 * 1024;
const SAMPLED_BLOCKS = 6;

const digest = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex').slice(0, 32);

/** Hashes a stream of bytes in BLOCK_BYTES blocks, as they are written. */
export class BlockHasher {
  private readonly done: string[] = [];
  private h = createHash('sha256');
  private filled = 0;

  update(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.byteLength) {
      const n = Math.min(BLOCK_BYTES - this.filled, bytes.byteLength - at);
      this.h.update(bytes.subarray(at, at + n));
      this.filled += n;
      at += n;
      if (this.filled === BLOCK_BYTES) this.flush();
    }
  }

  finish(): string[] {
    if (this.filled > 0) this.flush();
    return this.done;
  }

  private flush(): void {
    this.done.push(this.h.digest('hex').slice(0, 32));
    this.h = createHash('sha256');
    this.filled = 0;
  }
}

export type CheckMode = 'full' | 'quick';

/** Files this process has checked, with their identity then. */
const checkedHere = new Map<string, string>();

/**
 * Checks `file` against its block hashes. `quick` samples blocks when the file is big and a full check already
 * passed on this very file (same identity, recorded in `stampFile`); otherwise every block is read. Returns what
 * is wrong, or undefined.
 */
export function checkBlocks(file: string, blocks: string[], bytes: number, mode: CheckMode, stampFile: string): string | undefined {
  let st: Stats;
  try {
    st = statSync(file);
  } catch {
    return 'it is missing';
  }
  if (st.size !== bytes) return `it holds ${st.size} bytes, not ${bytes}`;
  if (mode === 'quick' && checkedHere.get(file) === stampOf(st)) return undefined;
  checkedHere.delete(file);
  const full = mode === 'full' || st.size <= ALWAYS_FULL_BYTES || readStamp(stampFile) !== stampOf(st);
  const which = full ? blocks.map((_, i) => i) : sample(blocks.length);
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(BLOCK_BYTES);
    for (const i of which) {
      const want = Math.min(BLOCK_BYTES, bytes - i * BLOCK_BYTES);
      let got = 0;
      while (got < want) {
        const n = readSync(fd, buf, got, want - got, i * BLOCK_BYTES + got);
        if (n === 0) return `it ends early, at block ${i}`;
        got += n;
      }
      if (digest(buf.subarray(0, want)) !== blocks[i]) return `block ${i} of ${blocks.length} does not match its hash`;
    }
  } finally {
    closeSync(fd);
  }
  if (full) writeStamp(stampFile, stampOf(st));
  checkedHere.set(file, stampOf(st));
  return undefined;
}

function sample(n: number): number[] {
  const picks = new Set([0, n - 1]);
  while (picks.size < Math.min(n, SAMPLED_BLOCKS + 2)) picks.add(Math.floor(Math.random() * n));
  return [...picks].sort((a, b) => a - b);
}

const stampOf = (st: Stats) => `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;

function readStamp(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function writeStamp(file: string, stamp: string): void {
  try {
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, stamp, { mode: 0o600 });
    renameSync(tmp, file);
  } catch {
    // Only an optimisation: without a stamp the next open checks in full again.
  }
}
