// int4 (MatMulNBits) against fp32 on the random Qwen2.5-0.5B-shaped model, CPU, in one run.
//
//   node --import tsx bench/int4.bench.ts [--contexts 2048,8192]
//
// 1. Dense graphs at a 512-token context: prefill speed, decode ms/token (interleaved, so load from elsewhere
//    hits both alike) and the prepared weights' size.
// 2. Answers from a compressed cache (what `ask` runs) at 2K and 8K, ratio 0.3: fp32 answering sessions against
//    int4 ones, each opened with the engine's own session options (src/runtime/session.ts), and int4 also with
//    prepacking disabled (the choice before issue 15), so the before/after pair is measured in the same run.
//    The kept pairs are a recency window: a compressed decode step's cost depends on how many pairs each head
//    holds, not on which, and this skips two KVzip scoring passes per context.
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { ensureRandomQwen, RESULTS_DIR, TMP_DIR } from './randomQwen.ts';
import { WEIGHTS_FILE } from '../src/model/prepare.ts';
import { openModel, type DeviceModel } from '../src/runtime/open.ts';
import type { ForwardSession } from '../src/runtime/decoder.ts';
import { selectRecency } from '../src/kvzip/select.ts';
import { writeCompacted } from '../src/kvzip/compact.ts';
import type { KvCache } from '../src/runtime/kv.ts';

const argv = process.argv.slice(2);
const CONTEXTS = argv.includes('--contexts') ? argv[argv.indexOf('--contexts') + 1].split(',').map(Number) : [2048, 8192];
const CONTEXT = 512;
const STEPS = 16;
/** Steps of the unprepacked int4 session: about 2 s each, and its median is far from the others'. */
const SLOW_STEPS = 3;
const RATIO = 0.3;
const PREFIX = 16;
const QUESTION = 20;
const log = (s: string) => console.error(`[int4] ${s}`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => 1000 + (((from + i) * 7919) % 50000));

const { dir: modelDir } = ensureRandomQwen(log);
const prepared: Record<'fp32' | 'int4', { model: DeviceModel; prepareS: number }> = {} as never;
for (const int4 of [false, true]) {
  const t0 = performance.now();
  const model = openModel({ modelDir, device: 'cpu', int4, preparedRoot: join(TMP_DIR, 'int4-prep') });
  prepared[int4 ? 'int4' : 'fp32'] = { model, prepareS: (performance.now() - t0) / 1000 };
}

// ------------------------------------------------------------------------- part 1: dense, 512 tokens
const dense: Record<string, { session: ForwardSession; kv: KvCache; prefillS: number; steps: number[] }> = {};
for (const name of ['fp32', 'int4'] as const) {
  const session = await prepared[name].model.dense();
  const t0 = performance.now();
  const kv = (await session.prefill(ids(CONTEXT), session.empty(), 512)).present;
  dense[name] = { session, kv, prefillS: (performance.now() - t0) / 1000, steps: [] };
  log(`${name}: prefill ${CONTEXT} tokens in ${dense[name].prefillS.toFixed(1)} s`);
}
for (let step = 0; step < STEPS + 2; step++) {
  for (const d of Object.values(dense)) {
    const t0 = performance.now();
    d.kv = (await d.session.forward([1000 + step], d.kv)).present;
    if (step >= 2) d.steps.push(performance.now() - t0);
  }
}
for (const p of Object.values(prepared)) await p.model.releaseDense();
const row = (name: 'fp32' | 'int4') => ({
  weightsMiB: Math.round(statSync(join(prepared[name].model.prepared.dir, WEIGHTS_FILE)).size / 2 ** 20),
  prepareS: round(prepared[name].prepareS),
  prefillTokensPerS: Math.round(CONTEXT / dense[name].prefillS),
  decodeMsPerToken: round(median(dense[name].steps)),
});
const fp32 = row('fp32');
const int4 = row('int4');
log(`dense decode: fp32 ${fp32.decodeMsPerToken} ms, int4 ${int4.decodeMsPerToken} ms`);

// ----------------------------------------------------------------- part 2: answers from a compressed cache
interface Answering {
  name: string;
  int4: boolean;
  prepack: boolean;
  steps: number;
  createMs: number;
  session: ForwardSession;
  kv: KvCache;
  times: number[];
}
const answers: Record<string, unknown>[] = [];
const entriesRoot = join(TMP_DIR, 'int4-entries');
for (const T of CONTEXTS) {
  const entries: Record<'fp32' | 'int4', string> = {} as never;
  for (const name of ['fp32', 'int4'] as const) {
    const { model } = prepared[name];
    const { spec } = model;
    const session = await model.dense();
    const t0 = performance.now();
    const full = (await session.prefill(ids(T), session.empty(), 512)).present;
    log(`${name}: prefill ${T} tokens in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await model.releaseDense();
    const entry = join(entriesRoot, `${name}-${T}`);
    rmSync(entry, { recursive: true, force: true });
    mkdirSync(entry, { recursive: true });
    const keep = selectRecency(spec.numLayers, spec.numKvHeads, T - PREFIX, RATIO, 4);
    const lay = writeCompacted(join(entry, 'kv.bin'), full, PREFIX, keep, spec.headDim);
    model.writeCompressed(entry, lay.baked);
    entries[name] = entry;
  }
  const variants = [
    { name: 'fp32', int4: false, prepack: false, steps: STEPS },
    { name: 'int4, prepacking off (before)', int4: true, prepack: false, steps: SLOW_STEPS },
    { name: 'int4 (engine choice)', int4: true, prepack: true, steps: STEPS },
  ];
  const open: Answering[] = [];
  for (const v of variants) {
    const name = v.int4 ? 'int4' : 'fp32';
    // The "before" row gets what every answering session got then: the fp32 options, prepacking off.
    const t0 = performance.now();
    const session = await prepared[name].model.openCompressed(entries[name], T, { use: 'answer', prepack: v.prepack });
    const createMs = performance.now() - t0;
    const kv = (await session.forward(ids(QUESTION, T), session.empty())).present;
    open.push({ ...v, createMs, session, kv, times: [] });
    log(`${T} ${v.name}: session opened in ${(createMs / 1000).toFixed(2)} s`);
  }
  for (let step = 0; step < STEPS + 1; step++) {
    for (const o of open) {
      if (step > o.steps) continue;
      const t0 = performance.now();
      o.kv = (await o.session.forward([2000 + step], o.kv)).present;
      if (step >= 1) o.times.push(performance.now() - t0);
    }
  }
  const fp32Ms = median(open[0].times);
  for (const o of open) {
    await o.session.session.release();
    const ms = median(o.times);
    log(`${T} ${o.name}: decode ${ms.toFixed(1)} ms/token (${(ms / fp32Ms).toFixed(2)}× fp32)`);
    answers.push({
      context: T,
      variant: o.name,
      int4: o.int4,
      prepack: o.prepack,
      sessionOpenMs: Math.round(o.createMs),
      decodeMsPerToken: round(ms),
      overFp32: round(ms / fp32Ms, 3),
    });
  }
  for (const e of Object.values(entries)) rmSync(e, { recursive: true, force: true });
}

const afterRows = answers.filter((a) => a.int4 && a.prepack);
const result = {
  machine: { cores: cpus().length, cpu: cpus()[0]?.model },
  date: new Date().toISOString(),
  context: CONTEXT,
  steps: STEPS,
  fp32,
  int4,
  decodeInt4OverFp32: Math.round((int4.decodeMsPerToken / fp32.decodeMsPerToken) * 1000) / 1000,
  answers,
  // Bar (issue 15): int4 answers decode in at most 0.5× the time of fp32 answers at 2K and 8K.
  answersBarMet: afterRows.length > 0 && afterRows.every((a) => (a.overFp32 as number) <= 0.5),
  tables: [
    {
      title: `int4 (MatMulNBits, blocks of 32, accuracy_level 4) vs fp32, random Qwen2.5-0.5B shapes, CPU, dense graph, ${CONTEXT}-token context`,
      columns: ['weights', 'weights MiB', 'prefill tok/s', 'decode ms/token (median)'],
      rows: [
        ['fp32', fp32.weightsMiB, fp32.prefillTokensPerS, fp32.decodeMsPerToken],
        ['int4', int4.weightsMiB, int4.prefillTokensPerS, int4.decodeMsPerToken],
      ],
    },
    {
      title: `Answers from a compressed cache (ratio ${RATIO}, ${QUESTION}-token question), same model, sessions opened as the engine opens them`,
      columns: ['context', 'answering session', 'session open ms', 'decode ms/token (median)', '× fp32 (bar ≤ 0.5 for int4)'],
      rows: answers.map((a) => [a.context, a.variant, a.sessionOpenMs, a.decodeMsPerToken, a.overFp32]),
    },
  ],
};
writeFileSync(join(RESULTS_DIR, 'int4.json'), JSON.stringify(result, null, 1) + '\n');
console.log(JSON.stringify(result.tables[1].rows), 'bar met', result.answersBarMet);
