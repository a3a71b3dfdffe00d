// int4 (MatMulNBits) against fp32 on the random Qwen2.5-0.5B-shaped model, CPU, in one run: prefill speed,
// decode ms/token (interleaved, so load from elsewhere hits both alike) and the prepared weights' size.
import { statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ensureRandomQwen, RESULTS_DIR, TMP_DIR } from './randomQwen.ts';
import { prepareModel, WEIGHTS_FILE } from '../src/model/prepare.ts';
import { ropeFrequencies } from '../src/model/rope.ts';
import { buildGraph } from '../src/graph/transformer.ts';
import { ForwardSession } from '../src/runtime/decoder.ts';
import type { KvCache } from '../src/runtime/kv.ts';

const CONTEXT = 512;
const STEPS = 16;
const log = (s: string) => console.error(`[int4] ${s}`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function open(int4: boolean) {
  const { dir } = ensureRandomQwen(log);
  const t0 = performance.now();
  const pm = prepareModel({ modelDir: dir, dtype: 'fp32', int4, root: join(TMP_DIR, 'int4-prep') });
  const prepareS = (performance.now() - t0) / 1000;
  const file = join(pm.dir, 'dense.onnx');
  writeFileSync(file, buildGraph({ spec: pm.spec, rope: ropeFrequencies(pm.spec), dtype: 'fp32', int4, weight: (n) => pm.weight(n) }));
  const session = new ForwardSession(await ort.InferenceSession.create(file, { graphOptimizationLevel: 'all' }), pm.spec, 'fp32');
  return { session, prepareS, weightsBytes: statSync(join(pm.dir, WEIGHTS_FILE)).size };
}

const variants = { fp32: await open(false), int4: await open(true) };
const ids = Array.from({ length: CONTEXT }, (_, i) => 1000 + ((i * 7919) % 50000));
const state: Record<string, { kv: KvCache; prefillS: number; steps: number[] }> = {};
for (const [name, v] of Object.entries(variants)) {
  const t0 = performance.now();
  const kv = (await v.session.prefill(ids, v.session.empty(), 512)).present;
  state[name] = { kv, prefillS: (performance.now() - t0) / 1000, steps: [] };
  log(`${name}: prefill ${CONTEXT} tokens in ${state[name].prefillS.toFixed(1)} s`);
}
for (let step = 0; step < STEPS + 2; step++) {
  for (const [name, v] of Object.entries(variants)) {
    const t0 = performance.now();
    const r = await v.session.forward([1000 + step], state[name].kv);
    state[name].kv = r.present;
    if (step >= 2) state[name].steps.push(performance.now() - t0);
  }
}
const row = (name: 'fp32' | 'int4') => ({
  weightsMiB: Math.round(variants[name].weightsBytes / 2 ** 20),
  prepareS: Math.round(variants[name].prepareS * 10) / 10,
  prefillTokensPerS: Math.round(CONTEXT / state[name].prefillS),
  decodeMsPerToken: Math.round(median(state[name].steps) * 10) / 10,
});
const fp32 = row('fp32');
const int4 = row('int4');
const result = {
  machine: { cores: cpus().length, cpu: cpus()[0]?.model },
  date: new Date().toISOString(),
  context: CONTEXT,
  steps: STEPS,
  fp32,
  int4,
  decodeInt4OverFp32: Math.round((int4.decodeMsPerToken / fp32.decodeMsPerToken) * 1000) / 1000,
  tables: [
    {
      title: `int4 (MatMulNBits, blocks of 32, accuracy_level 4) vs fp32, random Qwen2.5-0.5B shapes, CPU, ${CONTEXT}-token context`,
      columns: ['weights', 'weights MiB', 'prefill tok/s', 'decode ms/token (median)'],
      rows: [
        ['fp32', fp32.weightsMiB, fp32.prefillTokensPerS, fp32.decodeMsPerToken],
        ['int4', int4.weightsMiB, int4.prefillTokensPerS, int4.decodeMsPerToken],
      ],
    },
  ],
};
writeFileSync(join(RESULTS_DIR, 'int4.json'), JSON.stringify(result, null, 1) + '\n');
console.log(JSON.stringify(result.tables[0].rows), 'int4/fp32 decode', result.decodeInt4OverFp32);
