// Dense decode (what `generate` and refresh run) at 1K and 4K on the random Qwen2.5-0.5B-shaped model, CPU fp32,
// before and after the KV gets spare capacity, in one run.
//
//   node --import tsx bench/decode.bench.ts [--contexts 1024,4096] [--steps 24]
//
// After: the engine's dense session (runtime/kv.ts): the past is fed as it is and only the new positions come
// back, written into spare room. Before: the same graph with no spare room, so every step copies the whole past
// KV into new buffers, as every step did when the session returned the whole present. Steps are interleaved
// round-robin across the four runs, so load from other jobs hits them alike; both decode the same greedy tokens.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { ensureRandomQwen, RESULTS_DIR, TMP_DIR } from './randomQwen.ts';
import { openModel } from '../src/runtime/open.ts';
import { ForwardSession } from '../src/runtime/decoder.ts';
import { CPU_SPARE_KV, type KvCache } from '../src/runtime/kv.ts';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : fallback);
const CONTEXTS = arg('--contexts', '1024,4096').split(',').map(Number);
const STEPS = Number(arg('--steps', '24'));
const WARMUP = 2;
const log = (s: string) => console.error(`[decode] ${s}`);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ids = (n: number) => Array.from({ length: n }, (_, i) => 1000 + ((i * 7919) % 50000));

const { dir } = ensureRandomQwen(log);
const model = openModel({ modelDir: dir, device: 'cpu', preparedRoot: join(TMP_DIR, 'int4-prep') });
const after = await model.dense();
if (after.spareKv !== CPU_SPARE_KV) throw new Error(`internal: the CPU dense session has ${after.spareKv} spare positions`);
const before = new ForwardSession(after.session, model.spec, 'fp32', 0, 'host', false, 0);

// One chunked prefill of the longest context; each shorter context is a prefix of it (causal attention).
const longest = Math.max(...CONTEXTS);
const snapshots = new Map<number, { kv: KvCache; next: number }>();
let kv = after.empty();
const sequence = ids(longest);
for (let pos = 0; pos < longest;) {
  const end = Math.min(
    pos + 512,
    CONTEXTS.find((c) => c > pos)!,
  );
  const r = await after.forward(sequence.slice(pos, end), kv);
  kv = r.present;
  pos = end;
  if (CONTEXTS.includes(pos)) snapshots.set(pos, { kv, next: r.candidates.ids[0] });
}
log(`prefilled ${longest} tokens`);

interface Run {
  variant: 'before' | 'after';
  context: number;
  session: ForwardSession;
  kv: KvCache;
  next: number;
  tokens: number[];
  times: number[];
  bytes: number[];
}
const runs: Run[] = [];
for (const context of CONTEXTS) {
  for (const [variant, session] of [
    ['before', before],
    ['after', after],
  ] as const) {
    const s = snapshots.get(context)!;
    runs.push({ variant, context, session, kv: s.kv, next: s.next, tokens: [], times: [], bytes: [] });
  }
}
for (let step = 0; step < WARMUP + STEPS; step++) {
  for (const o of step % 2 ? [...runs].reverse() : runs) {
    const t0 = performance.now();
    const r = await o.session.forward([o.next], o.kv);
    const ms = performance.now() - t0;
    o.kv = r.present;
    o.next = r.candidates.ids[0];
    o.tokens.push(o.next);
    if (step >= WARMUP) {
      o.times.push(ms);
      o.bytes.push(r.bytesMoved);
    }
  }
}
const rows = runs.map((o) => ({
  variant: o.variant,
  context: o.context,
  decodeMedianMs: round(median(o.times)),
  fetchedAndFedMiBPerStep: round(median(o.bytes) / 2 ** 20, 2),
  sameTokensAsBefore: o.tokens.every((t, i) => t === runs.find((r) => r.context === o.context && r.variant === 'before')!.tokens[i]),
}));
const ms = (variant: string, context: number) => rows.find((r) => r.variant === variant && r.context === context)!.decodeMedianMs;
const [short, long] = [Math.min(...CONTEXTS), longest];
const growth = { before: round(ms('before', long) / ms('before', short), 3), after: round(ms('after', long) / ms('after', short), 3) };
for (const r of rows) log(JSON.stringify(r));
log(`${long} over ${short}: before ${growth.before}×, after ${growth.after}×`);
const result = {
  machine: { cores: cpus().length, cpu: cpus()[0]?.model },
  date: new Date().toISOString(),
  steps: STEPS,
  spareKv: CPU_SPARE_KV,
  rows,
  growth,
  // Bar (issue 15): dense decode at 4K within 1.3× of the same path at 1K.
  barMet: growth.after <= 1.3,
  tables: [
    {
      title: `Dense decode, random Qwen2.5-0.5B shapes, CPU fp32, ${STEPS} steps each, interleaved`,
      columns: ['KV', 'context', 'decode ms/token (median)', 'MiB fed + fetched per step', `${long} / ${short} (bar ≤ 1.3)`],
      rows: rows.map((r) => [
        r.variant === 'after' ? `spare room (${CPU_SPARE_KV} positions), past fed in place` : 'no spare room (whole past copied each step)',
        r.context,
        r.decodeMedianMs,
        r.fetchedAndFedMiBPerStep,
        r.context === long ? growth[r.variant] : '',
      ]),
    },
  ],
};
writeFileSync(join(RESULTS_DIR, 'decode.json'), JSON.stringify(result, null, 1) + '\n');
console.log(JSON.stringify(result.tables[0].rows), 'bar met', result.barMet);
