// Cache entry size: the compressed KV stored as fp16 (what the engine writes) against fp32 (before issue 15),
// in one run, on the random Qwen2.5-0.5B-shaped model, CPU, at ratio 0.3.
//
//   node --import tsx bench/entry.bench.ts [--contexts 2048,8192]
//
// For each context: one prefill, one KVzip-sized selection (a recency window of r·n pairs per head: bytes and
// step cost depend on the counts, not on which pairs), then both entries. Each entry's answering session is
// opened in a child process of its own, so its peak resident memory and opening time are its own; the children
// run one after another, and each decodes the same greedy tokens so the answers can be compared.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureRandomQwen, RESULTS_DIR, TMP_DIR } from './randomQwen.ts';
import type { GraphDtype } from '../src/graph/net.ts';
import { openModel } from '../src/runtime/open.ts';
import { selectRecency } from '../src/kvzip/select.ts';
import { fullKvBytes, layoutBytes, writeCompacted } from '../src/kvzip/compact.ts';

const argv = process.argv.slice(2);
const RATIO = 0.3;
const PREFIX = 16;
const STEPS = 12;
const log = (s: string) => console.error(`[entry] ${s}`);
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => 1000 + (((from + i) * 7919) % 50000));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const { dir: modelDir } = ensureRandomQwen(log);
const model = openModel({ modelDir, device: 'cpu', preparedRoot: join(TMP_DIR, 'int4-prep') });
const spec = model.spec;

if (argv[0] === '--open') {
  // Child: open one entry as the engine does, answer greedily, report.
  const [, entry, base] = argv;
  const t0 = performance.now();
  const session = await model.openCompressed(entry, Number(base));
  const openMs = performance.now() - t0;
  let r = await session.forward(ids(20, Number(base)), session.empty());
  const answer: number[] = [];
  const times: number[] = [];
  for (let i = 0; i < STEPS; i++) {
    answer.push(r.candidates.ids[0]);
    const s = performance.now();
    r = await session.forward([answer[i]], r.present);
    times.push(performance.now() - s);
  }
  console.log(JSON.stringify({ openMs, peakRssBytes: process.resourceUsage().maxRSS * 1024, decodeMs: median(times), answer }));
  process.exit(0);
}

const CONTEXTS = argv.includes('--contexts') ? argv[argv.indexOf('--contexts') + 1].split(',').map(Number) : [2048, 8192];
const rows: Record<string, unknown>[] = [];
for (const T of CONTEXTS) {
  const dense = await model.dense();
  const full = (await dense.prefill(ids(T), dense.empty(), 512)).present;
  await model.releaseDense();
  const keep = selectRecency(spec.numLayers, spec.numKvHeads, T - PREFIX, RATIO, 4);
  const fullBytes = fullKvBytes(spec.numLayers, spec.numKvHeads, spec.headDim, T, 4);
  const answers: number[][] = [];
  for (const storage of ['fp32', 'fp16'] as GraphDtype[]) {
    const entry = join(TMP_DIR, `entry-${storage}-${T}`);
    rmSync(entry, { recursive: true, force: true });
    mkdirSync(entry, { recursive: true });
    const lay = writeCompacted(join(entry, 'kv.bin'), full, PREFIX, keep, spec.headDim, storage);
    model.writeCompressed(entry, lay.baked, { bakedDtype: storage });
    const entryBytes =
      statSync(join(entry, 'kv.bin')).size + statSync(join(entry, 'keep.bin')).size + layoutBytes(spec.numLayers, spec.numKvHeads);
    const child = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--open', entry, String(T)], {
      encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(`child failed: ${child.stderr.slice(-2000)}`);
    const c = JSON.parse(child.stdout) as { openMs: number; peakRssBytes: number; decodeMs: number; answer: number[] };
    answers.push(c.answer);
    rmSync(entry, { recursive: true, force: true });
    const row = {
      context: T,
      storage,
      entryBytes,
      fullFp32KvBytes: fullBytes,
      entryOverFullFp32: round(entryBytes / fullBytes),
      sessionOpenMs: Math.round(c.openMs),
      peakRssMiB: Math.round(c.peakRssBytes / 2 ** 20),
      decodeMsPerToken: round(c.decodeMs, 1),
    };
    log(JSON.stringify(row));
    rows.push(row);
  }
  const same = answers[0].every((t, i) => t === answers[1][i]);
  rows.at(-1)!.greedySameAsFp32 = same;
  log(`${T}: fp16 entry's ${STEPS} greedy tokens ${same ? 'equal' : 'differ from'} the fp32 entry's`);
}
const fp16Rows = rows.filter((r) => r.storage === 'fp16');
const result = {
  machine: { cores: cpus().length, cpu: cpus()[0]?.model },
  date: new Date().toISOString(),
  ratio: RATIO,
  rows,
  // Bar (issue 15): entry bytes / full fp32 KV at r = 0.3 at most 0.17.
  barMet: fp16Rows.every((r) => (r.entryOverFullFp32 as number) <= 0.17),
  tables: [
    {
      title: `Cache entry: compressed KV stored as fp16 vs fp32, random Qwen2.5-0.5B shapes, ratio ${RATIO}, CPU; each session opened in its own process`,
      columns: [
        'context',
        'kv.bin dtype',
        'entry MiB (kv.bin + keep.bin + counts)',
        '/ full fp32 KV (bar ≤ 0.17)',
        'session open ms',
        'peak RSS MiB',
        'decode ms/token',
        'greedy = fp32',
      ],
      rows: rows.map((r) => [
        r.context,
        r.storage,
        round((r.entryBytes as number) / 2 ** 20, 1),
        r.entryOverFullFp32,
        r.sessionOpenMs,
        r.peakRssMiB,
        r.decodeMsPerToken,
        r.greedySameAsFp32 === undefined ? '' : r.greedySameAsFp32 ? 'yes' : 'no',
      ]),
    },
  ],
};
writeFileSync(join(RESULTS_DIR, 'entry.json'), JSON.stringify(result, null, 1) + '\n');
console.log(JSON.stringify(result.tables[0].rows), 'bar met', result.barMet);
