// Issue 13, case 1: prepared weights are checked against hashes written at preparation, and prepared again when
// anything in them (or in their index) is wrong; a checkpoint is identified by its content, not its mtime.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareModel, WEIGHTS_FILE, type PreparedModel } from '../../src/model/prepare.ts';
import { environmentError } from '../../src/engine/environmentErrors.ts';
import { expectModelError } from '../support/modelError.ts';
import { writeTinyModel } from '../support/tinyModel.ts';

const SMALL = { hiddenSize: 32, intermediateSize: 48, numHeads: 4, numKvHeads: 2, vocabSize: 64 } as const;

function setup(t: { after: (fn: () => void) => void }) {
  const root = mkdtempSync(join(tmpdir(), 'kvzip-prepare-verify-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const model = writeTinyModel(join(root, 'model'), SMALL).dir;
  const prepare = () => prepareModel({ modelDir: model, dtype: 'fp32', root: join(root, 'prepared') });
  const first = prepare();
  const weights = join(first.dir, WEIGHTS_FILE);
  return { root, model, prepare, first, weights, good: readFileSync(weights) };
}

/** The prepared file is a new, intact one: another inode (generations keep the old) with the original bytes. */
function assertPreparedAgain(p: PreparedModel, before: { ino: number }, good: Buffer) {
  const file = join(p.dir, WEIGHTS_FILE);
  assert.notEqual(statSync(file).ino, before.ino, 'prepared again into a new file');
  assert.ok(readFileSync(file).equals(good), 'the prepared bytes are the original ones');
}

test('one flipped bit in weights.bin is found and the weights are prepared again', (t) => {
  const { prepare, weights, good } = setup(t);
  const before = statSync(weights);
  const bad = Buffer.from(good);
  bad[Math.floor(bad.length * 0.7)]! ^= 0x10;
  writeFileSync(weights, bad);
  // Even with the file's size and modification time put back as they were.
  utimesSync(weights, before.atime, before.mtime);
  assertPreparedAgain(prepare(), before, good);
});

test('a truncated weights.bin is prepared again', (t) => {
  const { prepare, weights, good } = setup(t);
  const before = statSync(weights);
  truncateSync(weights, Math.floor(good.length / 2));
  assertPreparedAgain(prepare(), before, good);
});

test('two tensors swapped in weights.json are caught by the index checksum', (t) => {
  const { prepare, first, weights, good } = setup(t);
  const indexFile = join(first.dir, 'weights.json');
  const index = JSON.parse(readFileSync(indexFile, 'utf8'));
  const [a, b] = ['model.layers.0.self_attn.q_proj.weight', 'model.layers.0.self_attn.o_proj.weight'];
  [index.tensors[a], index.tensors[b]] = [index.tensors[b], index.tensors[a]];
  writeFileSync(indexFile, JSON.stringify(index));
  const before = statSync(weights);
  const again = prepare();
  assertPreparedAgain(again, before, good);
  assert.deepEqual(again.weight(a), first.weight(a), 'the layout is the original one');
});

test('an intact prepared model is reused as it is', (t) => {
  const { prepare, first, weights } = setup(t);
  const before = statSync(weights);
  const again = prepare();
  assert.equal(statSync(weights).ino, before.ino);
  assert.equal(again.contentHash, first.contentHash);
  assert.equal(again.check('full'), undefined);
});

test('a checkpoint changed with the same size and modification time is a different checkpoint', (t) => {
  const { model, prepare } = setup(t);
  const f = join(model, 'model.safetensors');
  // Whole seconds, so the time put back afterwards is exactly the same.
  utimesSync(f, 1_700_000_000, 1_700_000_000);
  const first = prepare();
  const st = statSync(f);
  const bytes = readFileSync(f);
  bytes[bytes.length - 3]! ^= 0x01;
  writeFileSync(f, bytes);
  utimesSync(f, 1_700_000_000, 1_700_000_000);
  assert.equal(statSync(f).size, st.size);
  assert.equal(statSync(f).mtimeMs, st.mtimeMs);
  const again = prepare();
  assert.notEqual(again.weightsHash, first.weightsHash);
  assert.notEqual(again.dir, first.dir);
});

test('weights holding NaN are refused with the tensor named', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kvzip-prepare-nan-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const model = writeTinyModel(join(root, 'model'), SMALL).dir;
  const f = join(model, 'model.safetensors');
  const bytes = readFileSync(f);
  const dataStart = 8 + Number(bytes.readBigUInt64LE(0));
  // 0xff bytes are NaN in float32: every tensor is NaN from end to end.
  bytes.fill(0xff, dataStart);
  writeFileSync(f, bytes);
  expectModelError(
    () => prepareModel({ modelDir: model, dtype: 'fp32', root: join(root, 'prepared') }),
    f,
    /tensor "model\.embed_tokens\.weight" holds \d+ NaN or infinite values/,
    /download or export it again/,
  );
  assert.deepEqual(
    readdirSync(join(root, 'prepared')).flatMap((d) =>
      statSync(join(root, 'prepared', d)).isDirectory() ? readdirSync(join(root, 'prepared', d)) : [],
    ),
    [],
    'nothing was left half-written',
  );
});

test(
  'a full disk while preparing leaves no temporary file, and reads as "the disk is full"',
  { skip: !existsSync('/dev/full') && '/dev/full is Linux only' },
  (t) => {
    const { first, weights, prepare } = setup(t);
    rmSync(weights);
    // The temporary file the preparation writes is /dev/full, which answers every write with ENOSPC.
    const tmp = join(first.dir, `${WEIGHTS_FILE}.${process.pid}.tmp`);
    symlinkSync('/dev/full', tmp);
    let caught: unknown;
    try {
      prepare();
    } catch (e) {
      caught = e;
    }
    assert.equal((caught as NodeJS.ErrnoException)?.code, 'ENOSPC', `${caught}`);
    assert.equal(existsSync(tmp), false, 'the temporary file was removed');
    const message = environmentError(caught, first.dir)?.message ?? '';
    assert.match(message, /The disk is full/);
    assert.match(message, /Free some space, or move the cache folder/);
  },
);
