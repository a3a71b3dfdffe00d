// Just enough of ZIP to pull a few entries out of a .nupkg (a zip), streaming and CRC-checked, with no dependency.
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { createInflateRaw, crc32 } from 'node:zlib';

export interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const CDH_SIG = 0x02014b50;
const LFH_SIG = 0x04034b50;

export async function readZipEntries(path: string): Promise<Map<string, ZipEntry>> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    // The end-of-central-directory record sits in the last 22 bytes plus an optional comment of up to 64 KiB.
    const tailLen = Math.min(size, 22 + 0xffff);
    const tail = Buffer.alloc(tailLen);
    await fh.read(tail, 0, tailLen, size - tailLen);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD_SIG) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new Error(`${path} is not a zip file (no end-of-central-directory record)`);
    const count = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    if (cdOffset === 0xffffffff || count === 0xffff) throw new Error(`${path} is a ZIP64 archive, which is not supported`);
    const cd = Buffer.alloc(cdSize);
    await fh.read(cd, 0, cdSize, cdOffset);
    const entries = new Map<string, ZipEntry>();
    let p = 0;
    for (let i = 0; i < count; i++) {
      if (cd.readUInt32LE(p) !== CDH_SIG) throw new Error(`${path}: corrupt central directory`);
      const nameLen = cd.readUInt16LE(p + 28);
      const extraLen = cd.readUInt16LE(p + 30);
      const commentLen = cd.readUInt16LE(p + 32);
      const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
      entries.set(name, {
        name,
        method: cd.readUInt16LE(p + 10),
        crc: cd.readUInt32LE(p + 16),
        compressedSize: cd.readUInt32LE(p + 20),
        size: cd.readUInt32LE(p + 24),
        localHeaderOffset: cd.readUInt32LE(p + 42),
      });
      p += 46 + nameLen + extraLen + commentLen;
    }
    return entries;
  } finally {
    await fh.close();
  }
}

/** Extracts one entry to `dest` via `dest.part`, checking size and CRC-32 before the rename. */
export async function extractZipEntry(zipPath: string, entry: ZipEntry, dest: string): Promise<void> {
  if (entry.method !== 0 && entry.method !== 8) throw new Error(`${entry.name}: unsupported zip compression method ${entry.method}`);
  const fh = await open(zipPath, 'r');
  const lfh = Buffer.alloc(30);
  try {
    await fh.read(lfh, 0, 30, entry.localHeaderOffset);
  } finally {
    await fh.close();
  }
  if (lfh.readUInt32LE(0) !== LFH_SIG) throw new Error(`${entry.name}: corrupt local header`);
  const start = entry.localHeaderOffset + 30 + lfh.readUInt16LE(26) + lfh.readUInt16LE(28);
  let crc = 0;
  let size = 0;
  const check = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      crc = crc32(chunk, crc);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const part = `${dest}.part`;
  const source = createReadStream(zipPath, { start, end: start + entry.compressedSize - 1 });
  try {
    if (entry.method === 8) await pipeline(source, createInflateRaw(), check, createWriteStream(part, { mode: 0o755 }));
    else await pipeline(source, check, createWriteStream(part, { mode: 0o755 }));
    if (size !== entry.size || crc >>> 0 !== entry.crc >>> 0) throw new Error(`${entry.name}: corrupt entry (size or CRC-32 mismatch)`);
  } catch (err) {
    await rm(part, { force: true });
    throw err;
  }
  await rename(part, dest);
}
