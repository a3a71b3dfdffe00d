// A CPU answering session on its own thread (runtime/threadSession.ts) answers as the same session on the engine's
// thread does, reports onnxruntime's own errors, and never keeps a finished process alive. Real onnxruntime, on a
// small graph built here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { DataType, GraphBuilder } from '../../src/graph/onnx.ts';
import { openSession } from '../../src/runtime/session.ts';
import { createOnThread } from '../../src/runtime/threadSession.ts';

/** y = x·W + b and the index of each row's largest y: float and int64 outputs of a shape that follows the input. */
function graph(dir: string): string {
  const g = new GraphBuilder();
  g.input('x', DataType.FLOAT, ['S', 4]);
  const w = g.constFloat([1, 0, 2, -1, 0, 1, 0.5, 3, -2, 1, 1, 0, 0.25, -1, 2, 1], [4, 4]);
  const y = g.op('Add', [g.op('MatMul', ['x', w]), g.constFloat([0.5, -0.5, 1, 0], [4])]);
  g.alias(y, 'y');
  g.node('ArgMax', [y], { axis: 1, keepdims: 0 }, 1, '', ['best']);
  g.output('y', DataType.FLOAT, ['S', 4]);
  g.output('best', DataType.INT64, ['S']);
  const file = join(dir, 'g.onnx');
  writeFileSync(file, g.toBytes('g'));
  return file;
}

test('a session on its own thread gives the outputs the same session gives on this thread', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvzip-thread-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = graph(dir);
  const open = async (thread: boolean) => (await openSession(file, { device: 'cpu' }, () => file, { use: 'answer', thread })).session;
  const here = await open(false);
  const there = await open(true);
  t.after(async () => {
    await here.release();
    await there.release();
  });
  assert.deepEqual([...there.inputNames], ['x']);
  assert.deepEqual([...there.outputNames], ['y', 'best']);
  for (const rows of [1, 3]) {
    const x = new ort.Tensor(
      'float32',
      Float32Array.from({ length: rows * 4 }, (_, i) => Math.sin(i + rows)),
      [rows, 4],
    );
    const want = await here.run({ x }, ['y', 'best']);
    const got = await there.run({ x }, ['y', 'best']);
    assert.deepEqual(got.y.dims, [rows, 4]);
    assert.deepEqual(Array.from(got.y.data as Float32Array), Array.from(want.y.data as Float32Array));
    assert.equal(got.best.type, 'int64');
    assert.deepEqual(Array.from(got.best.data as BigInt64Array), Array.from(want.best.data as BigInt64Array));
    // The feed is still the caller's: it was copied to the thread, not moved.
    assert.equal(x.data.length, rows * 4);
  }
  // Runs in flight together each get their own answer.
  const xs = [1, 2, 3].map((k) => new ort.Tensor('float32', new Float32Array(4).fill(k), [1, 4]));
  const outs = await Promise.all(xs.map((x) => there.run({ x }, ['y'])));
  assert.deepEqual(
    outs.map((o) => (o.y.data as Float32Array)[0]),
    [1, 2, 3].map((k) => k * (1 + 0 - 2 + 0.25) + 0.5),
  );
});

test("a session that cannot open, or a bad run, fails with onnxruntime's reason; a released one refuses to run", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kvzip-thread-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'broken.onnx'), 'not a model');
  await assert.rejects(createOnThread(join(dir, 'broken.onnx'), {}), /protobuf|parse|Load model/i);
  const s = await createOnThread(graph(dir), {});
  await assert.rejects(s.run({ x: new ort.Tensor('float32', new Float32Array(3), [1, 3]) }, ['y']), /dimension|shape|Got: 3/i);
  await s.release();
  await assert.rejects(s.run({ x: new ort.Tensor('float32', new Float32Array(4), [1, 4]) }, ['y']), /released/);
});

test('open, idle sessions and a thread started ahead do not keep a finished process alive', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kvzip-thread-'));
  try {
    const file = graph(dir);
    const module = new URL('../../src/runtime/threadSession.ts', import.meta.url).href;
    const script = `
      import * as ort from 'onnxruntime-node';
      const { createOnThread, prestartThread } = await import(${JSON.stringify(module)});
      await createOnThread(${JSON.stringify(file)}, {});
      const s = await createOnThread(${JSON.stringify(file)}, {});
      const out = await s.run({ x: new ort.Tensor('float32', new Float32Array(4).fill(1), [1, 4]) }, ['y']);
      prestartThread();
      console.log('ran', out.y.dims.join('x'));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.signal, null, `the process had to be killed: it did not end by itself (${r.stderr})`);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /ran 1x4/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
