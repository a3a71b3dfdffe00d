// The dense KV grows in spare capacity: rows land where a later run reads them, in place while the cache is the
// latest state of its buffers, and an earlier state that is grown again never overwrites what a later one holds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { appendKv, emptyKv, kvCapacity, type KvCache } from '../../src/runtime/kv.ts';
import type { ModelSpec } from '../../src/model/config.ts';

const spec = { numLayers: 2, numKvHeads: 2, headDim: 3 } as ModelSpec;
const D = spec.headDim;

/** New rows [1, Hkv, S, D] whose values name (layer, head, position, dim), so misplaced rows show. */
function rows(from: number, S: number, tag = 0): { keys: ort.Tensor[]; values: ort.Tensor[] } {
  const make = (l: number, kind: number) =>
    new ort.Tensor(
      'float32',
      Float32Array.from({ length: spec.numKvHeads * S * D }, (_, i) => {
        const h = Math.floor(i / (S * D));
        const s = Math.floor(i / D) % S;
        return tag * 1e6 + kind * 1e5 + l * 1e4 + h * 1e3 + (from + s) * 10 + (i % D);
      }),
      [1, spec.numKvHeads, S, D],
    );
  return { keys: [0, 1].map((l) => make(l, 1)), values: [0, 1].map((l) => make(l, 2)) };
}

/** Position p of head h in layer l, read with the tensor's own stride. */
const at = (kv: KvCache, l: number, h: number, p: number) => {
  const t = kv.keys[l];
  return Array.from((t.data as Float32Array).subarray((h * t.dims[2] + p) * D, (h * t.dims[2] + p + 1) * D));
};
const expected = (l: number, h: number, p: number, tag = 0) => [0, 1, 2].map((d) => tag * 1e6 + 1e5 + l * 1e4 + h * 1e3 + p * 10 + d);

test('rows land at their positions; growth leaves spare room and later steps write in place', () => {
  const a = rows(0, 4);
  const kv1 = appendKv(emptyKv(spec, 'fp32'), a.keys, a.values, 8);
  assert.equal(kv1.length, 4);
  assert.equal(kvCapacity(kv1), 12);
  const b = rows(4, 1);
  const kv2 = appendKv(kv1, b.keys, b.values, 8);
  assert.equal(kv2.keys[0].data, kv1.keys[0].data, 'written into the same buffer');
  for (const l of [0, 1]) for (const h of [0, 1]) for (let p = 0; p < 5; p++) assert.deepEqual(at(kv2, l, h, p), expected(l, h, p));
});

test('growing an earlier state copies first: the later state keeps its rows', () => {
  const a = rows(0, 4);
  const base = appendKv(emptyKv(spec, 'fp32'), a.keys, a.values, 8);
  const one = rows(4, 1, 1);
  const later = appendKv(base, one.keys, one.values, 8);
  const other = rows(4, 1, 2);
  const branch = appendKv(base, other.keys, other.values, 8);
  assert.notEqual(branch.keys[0].data, later.keys[0].data);
  for (const l of [0, 1]) {
    for (const h of [0, 1]) {
      assert.deepEqual(at(later, l, h, 4), expected(l, h, 4, 1));
      assert.deepEqual(at(branch, l, h, 4), expected(l, h, 4, 2));
      assert.deepEqual(at(branch, l, h, 3), expected(l, h, 3));
    }
  }
});

test('no spare capacity: every append makes buffers of exactly the valid length', () => {
  const a = rows(0, 3);
  const kv1 = appendKv(emptyKv(spec, 'fp32'), a.keys, a.values, 0);
  const b = rows(3, 2);
  const kv2 = appendKv(kv1, b.keys, b.values, 0);
  assert.equal(kvCapacity(kv2), 5);
  for (let p = 0; p < 5; p++) assert.deepEqual(at(kv2, 1, 1, p), expected(1, 1, p));
});
