// What onnxruntime-node 1.30's WebGPU provider does that the runtime works around, each shown on the real
// provider (the fatal ones in a child process), next to the workaround that makes it safe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { DataType, GraphBuilder } from '../../src/graph/onnx.ts';
import { DeviceTransfer } from '../../src/runtime/deviceTransfer.ts';
import { openGraph } from '../../src/runtime/session.ts';
import { webgpuSkip } from '../support/webgpu.ts';

const skip = webgpuSkip();
const ONNX = fileURLToPath(new URL('../../src/graph/onnx.ts', import.meta.url));
const SESSION = fileURLToPath(new URL('../../src/runtime/session.ts', import.meta.url));

/** Runs `body` (an ES module's text, with ort, GraphBuilder and openGraph imported) in a child process. */
function child(body: string): { status: number | null; signal: NodeJS.Signals | null; stderr: string } {
  const code = [
    `import * as ort from 'onnxruntime-node';`,
    `import { DataType, GraphBuilder } from ${JSON.stringify(ONNX)};`,
    `import { openGraph } from ${JSON.stringify(SESSION)};`,
    body,
  ].join('\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    encoding: 'utf8',
    timeout: 60_000,
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
  });
  return { status: r.status, signal: r.signal, stderr: r.stderr };
}

test('getData() on a gpu-buffer tensor kills the process; DeviceTransfer reads it back', { skip }, async () => {
  const r = child(`
    const g = new GraphBuilder();
    g.input('x', DataType.FLOAT, ['N']);
    g.alias(g.op('Add', ['x', 'x']), 'y');
    g.output('y', DataType.FLOAT, ['N']);
    const s = await openGraph(g.toBytes('q'), 'webgpu', { use: 'prefill', deviceOutputs: ['y'] });
    const out = await s.run({ x: new ort.Tensor('float32', Float32Array.from([1, 2]), [2]) });
    await out.y.getData();
    console.log('read');`);
  assert.ok(r.status !== 0 || r.signal, `the process died (status ${r.status}, signal ${r.signal})`);

  const t = new DeviceTransfer('fp32');
  const onDevice = await t.toDevice(new ort.Tensor('float32', Float32Array.from([1.5, -2, 3]), [1, 3]));
  assert.equal(onDevice.location, 'gpu-buffer');
  const back = await t.toHost(onDevice);
  assert.equal(back.location, 'cpu');
  assert.deepEqual(Array.from(back.data as Float32Array), [1.5, -2, 3]);
  assert.equal(t.bytes, 24, 'both directions counted');
  onDevice.dispose();
});

test('zero-size tensors crash WebGPU kernels (Softmax SIGFPE, MatMul over an empty inner dimension SIGSEGV)', { skip }, () => {
  const run = (op: string) =>
    child(`
      const g = new GraphBuilder();
      g.input('x', DataType.FLOAT, [2, 3, 'N']);
      const y = ${op};
      g.alias(y, 'y');
      g.output('y', DataType.FLOAT, ['a']);
      const s = await openGraph(g.toBytes('z'), 'webgpu');
      await s.run({ x: new ort.Tensor('float32', new Float32Array(0), [2, 3, 0]) });
      console.log('ran');`);
  const softmax = run(`g.op('Softmax', ['x'], { axis: -1 })`);
  assert.equal(softmax.signal, 'SIGFPE');
  const matmul = run(`g.op('MatMul', ['x', g.op('Transpose', ['x'], { perm: [0, 2, 1] })])`);
  assert.ok(matmul.signal, `MatMul died by a signal (${matmul.signal}, status ${matmul.status})`);
  // The workaround (runtime/decoder.ts): on the device, a run that scores nothing scores one dummy key, so the
  // score branch never sees an empty tensor; the parity suite's decode steps run through it.
});

test('preferredOutputLocation goes wrong unless every run fetches every output in order', { skip }, async () => {
  const g = new GraphBuilder();
  g.input('x', DataType.FLOAT, ['N']);
  const outputs = ['a', 'b', 'c', 'd'];
  for (const [i, n] of outputs.entries()) {
    g.alias(g.op('Add', ['x', g.constFloat([i], [1])]), n);
    g.output(n, DataType.FLOAT, ['N']);
  }
  const open = () => openGraph(g.toBytes('p'), 'webgpu', { use: 'prefill', deviceOutputs: ['c', 'd'] });
  const x = new ort.Tensor('float32', Float32Array.from([1, 2]), [2]);
  const where = (o: ort.InferenceSession.ReturnType) => outputs.filter((n) => n in o).map((n) => `${n}:${o[n].location}`);

  // A subset misplaces its outputs, and the session stays wrong for later runs that fetch everything.
  const broken = await open();
  const subset = await broken.run({ x }, ['b', 'c', 'd']);
  assert.notDeepEqual(where(subset), ['b:cpu', 'c:gpu-buffer', 'd:gpu-buffer']);
  assert.notDeepEqual(where(await broken.run({ x }, outputs)), ['a:cpu', 'b:cpu', 'c:gpu-buffer', 'd:gpu-buffer']);

  // The runtime's way (runtime/decoder.ts): every run of a device-placed session fetches every output in order.
  const right = await open();
  for (let run = 0; run < 2; run++) {
    const all = await right.run({ x }, outputs);
    assert.deepEqual(where(all), ['a:cpu', 'b:cpu', 'c:gpu-buffer', 'd:gpu-buffer'], `run ${run + 1}`);
    all.c.dispose();
    all.d.dispose();
  }
});
