// Reading one file without trusting it: no symlink following, no blocking on FIFOs, a size cap enforced on
// the bytes actually read, and a retry when the file changes underneath us.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Verdict } from './defaults.ts';

export type ReadResult = { ok: true; bytes: Buffer; mtimeMs: number } | ({ ok: false; bytes?: number } & Verdict);

const FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);
const ATTEMPTS = 3;

function code(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e);
}

export async function readStable(abs: string, maxBytes: number): Promise<ReadResult> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    let fh;
    try {
      fh = await open(abs, FLAGS);
    } catch (e) {
      const c = code(e);
      if (c === 'ELOOP') return { ok: false, reason: 'symlink', detail: 'became a symlink' };
      if (c === 'ENOENT') return { ok: false, reason: 'unreadable', detail: 'vanished before it was read' };
      return { ok: false, reason: 'unreadable', detail: c };
    }
    try {
      const before = await fh.stat();
      if (!before.isFile()) return { ok: false, reason: 'not-a-file', detail: 'not a regular file' };
      if (before.size > maxBytes) return { ok: false, reason: 'too-large', detail: `over ${maxBytes} bytes`, bytes: before.size };
      // One byte of headroom tells growth past the cap from a file that is exactly at it.
      let buf = Buffer.allocUnsafe(Math.min(maxBytes + 1, before.size + 1));
      let n = 0;
      for (;;) {
        if (n === buf.length) {
          if (buf.length > maxBytes) break;
          const bigger = Buffer.allocUnsafe(Math.min(maxBytes + 1, buf.length * 2));
          buf.copy(bigger, 0, 0, n);
          buf = bigger;
        }
        const { bytesRead } = await fh.read(buf, n, buf.length - n, n);
        if (bytesRead === 0) break;
        n += bytesRead;
      }
      if (n > maxBytes) return { ok: false, reason: 'too-large', detail: `grew over ${maxBytes} bytes while read`, bytes: n };
      const after = await fh.stat();
      if (after.size !== n || after.mtimeMs !== before.mtimeMs) continue;
      return { ok: true, bytes: buf.subarray(0, n), mtimeMs: after.mtimeMs };
    } catch (e) {
      return { ok: false, reason: 'unreadable', detail: code(e) };
    } finally {
      await fh.close();
    }
  }
  return { ok: false, reason: 'changed', detail: `still changing after ${ATTEMPTS} reads` };
}
