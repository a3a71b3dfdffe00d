// Issue 2, bar 4 (weights side), and the reader on well-formed files: F32/F16/BF16 values, sharded checkpoints.
// Damaged files give one ModelError naming the file and the fix.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { listTensors } from '../../src/model/safetensors.ts';
import { readAsFloat32 } from '../../src/model/weights.ts';
import { expectModelError } from '../support/modelError.ts';
import { encodeSafetensors, writeShardedSafetensors, type TensorData } from '../support/safetensorsWriter.ts';

const tmp = mkdtempSync(join(tmpdir(), 'kvzip-safetensors-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = () => {
  const dir = join(tmp, `d${n++}`);
  mkdirSync(dir);
  return dir;
};

// Values exactly representable in bf16 and fp16, so every dtype must read them back bit-exactly.
const A: TensorData = { name: 'a', shape: [2, 3], data: Float32Array.from([0, 1, -2, 0.5, 1024, -0.0078125]) };
const B: TensorData = { name: 'b', shape: [4], data: Float32Array.from([3, -3, 0.25, 6]) };
const REDOWNLOAD = /Download the checkpoint again/;

function writeOne(dir: string, bytes: Buffer): string {
  const file = join(dir, 'model.safetensors');
  writeFileSync(file, bytes);
  return file;
}

describe('reading well-formed files', () => {
  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    test(`${dtype} values and shapes`, () => {
      const dir = fresh();
      writeOne(
        dir,
        encodeSafetensors([
          { ...A, dtype },
          { ...B, dtype },
        ]),
      );
      const t = listTensors(dir);
      assert.deepEqual([...t.keys()].sort(), ['a', 'b']);
      assert.deepEqual(t.get('a')!.shape, [2, 3]);
      assert.equal(t.get('a')!.dtype, dtype);
      assert.deepEqual(readAsFloat32(t.get('a')!), A.data);
      assert.deepEqual(readAsFloat32(t.get('b')!), B.data);
    });
  }

  test('bf16 rounds to nearest even on write and reads back the rounded value', () => {
    const dir = fresh();
    // 1 + 2^-8 is halfway between bf16 neighbours 1 and 1 + 2^-7: ties go to the even mantissa (1).
    writeOne(dir, encodeSafetensors([{ name: 'x', shape: [2], data: Float32Array.from([1 + 2 ** -8, 1 + 3 * 2 ** -8]), dtype: 'BF16' }]));
    assert.deepEqual(readAsFloat32(listTensors(dir).get('x')!), Float32Array.from([1, 1 + 2 ** -6]));
  });

  test('sharded checkpoint through model.safetensors.index.json', () => {
    const dir = fresh();
    const files = writeShardedSafetensors(dir, [A, B], 2);
    assert.deepEqual(files, ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    const t = listTensors(dir);
    assert.equal(t.get('a')!.file, join(dir, files[0]));
    assert.equal(t.get('b')!.file, join(dir, files[1]));
    assert.deepEqual(readAsFloat32(t.get('b')!), B.data);
  });
});

describe('damaged files', () => {
  test('truncated data section', () => {
    const dir = fresh();
    const bytes = encodeSafetensors([A, B]);
    const file = writeOne(dir, bytes.subarray(0, bytes.length - 5));
    expectModelError(
      () => listTensors(dir),
      file,
      /tensor "b" claims bytes \[24, 40\).*truncated or its header lies about offsets/,
      REDOWNLOAD,
    );
  });

  test('truncated inside the header', () => {
    const dir = fresh();
    const file = writeOne(dir, encodeSafetensors([A]).subarray(0, 20));
    expectModelError(() => listTensors(dir), file, /header length \(\d+\) beyond the file's 20 bytes/, REDOWNLOAD);
  });

  test('shorter than the header length field', () => {
    const dir = fresh();
    const file = writeOne(dir, Buffer.from([1, 2, 3]));
    expectModelError(() => listTensors(dir), file, /is truncated \(3 bytes\)/, REDOWNLOAD);
  });

  test('empty file', () => {
    const dir = fresh();
    const file = writeOne(dir, Buffer.alloc(0));
    expectModelError(() => listTensors(dir), file, /is truncated \(0 bytes\)/, REDOWNLOAD);
  });

  test('header lies: offsets past the end of the data', () => {
    const dir = fresh();
    const file = writeOne(
      dir,
      encodeSafetensors([A, B], undefined, (h) => ((h.b as { data_offsets: number[] }).data_offsets = [32, 48])),
    );
    expectModelError(() => listTensors(dir), file, /tensor "b" claims bytes \[32, 48\)/, REDOWNLOAD);
  });

  test('header lies: offsets span fewer bytes than the shape needs', () => {
    const dir = fresh();
    const file = writeOne(
      dir,
      encodeSafetensors([A, B], undefined, (h) => ((h.a as { data_offsets: number[] }).data_offsets = [0, 16])),
    );
    expectModelError(() => listTensors(dir), file, /tensor "a" claims bytes \[0, 16\) but its shape needs 24/, REDOWNLOAD);
  });

  test('header lies: end before begin, negative or fractional offsets', () => {
    for (const offsets of [
      [24, 0],
      [-8, 16],
      [0.5, 24.5],
    ]) {
      const dir = fresh();
      const file = writeOne(
        dir,
        encodeSafetensors([A], undefined, (h) => ((h.a as { data_offsets: number[] }).data_offsets = offsets)),
      );
      expectModelError(() => listTensors(dir), file, /tensor "a" (claims bytes|has a malformed shape or data_offsets)/, REDOWNLOAD);
    }
  });

  test('header lies: two tensors claim the same bytes', () => {
    const dir = fresh();
    // b is written after a (24 bytes) but the header points both at the start; sizes still match shapes.
    const file = writeOne(
      dir,
      encodeSafetensors(
        [{ name: 'a', shape: [4], data: A.data.subarray(0, 4) }, B],
        undefined,
        (h) => ((h.b as { data_offsets: number[] }).data_offsets = [0, 16]),
      ),
    );
    expectModelError(() => listTensors(dir), file, /tensor "b"/, REDOWNLOAD);
  });

  test('header that is not JSON', () => {
    const dir = fresh();
    const header = Buffer.from('{"a": {"dtype": "F32",   ');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    const file = writeOne(dir, Buffer.concat([len, header, Buffer.alloc(24)]));
    expectModelError(() => listTensors(dir), file, /header that is not valid JSON/, REDOWNLOAD);
  });

  test('an unsupported dtype names the tensor', () => {
    const dir = fresh();
    const file = writeOne(
      dir,
      encodeSafetensors([A], undefined, (h) => ((h.a as { dtype: string }).dtype = 'I8')),
    );
    expectModelError(
      () => listTensors(dir),
      file,
      /tensor "a" has dtype "I8"; only F32, F16 and BF16 are supported/,
      /unquantized checkpoint/,
    );
  });

  test('sharded: a shard listed in the index is missing', () => {
    const dir = fresh();
    const files = writeShardedSafetensors(dir, [A, B], 2);
    rmSync(join(dir, files[1]));
    expectModelError(
      () => listTensors(dir),
      join(dir, files[1]),
      /listed in model.safetensors.index.json but missing/,
      /Download the missing shard/,
    );
  });

  test('sharded: index is not JSON or has no weight_map', () => {
    const dir = fresh();
    writeShardedSafetensors(dir, [A, B], 2);
    const index = join(dir, 'model.safetensors.index.json');
    const good = readFileSync(index, 'utf8');
    writeFileSync(index, good.slice(0, 20));
    expectModelError(() => listTensors(dir), index, /is not valid JSON/, REDOWNLOAD);
    writeFileSync(index, JSON.stringify({ metadata: {} }));
    expectModelError(() => listTensors(dir), index, /has no weight_map/, REDOWNLOAD);
  });
});
