// Issue 29: KVzip on trained GGUF models answering questions about real code, against the full cache, the
// baselines and a query-aware oracle, on public packages fetched at bench time (bench/real/packages.ts).
//
//   npm run bench -- --only real [-- --quick] [--models ID|FILE.gguf,...] [--packages commander,ws,...]
//        [--contexts 4096,8192] [--facts 20] [--needles-per-depth 2] [--ratios 1,0.5,0.3,0.2,0.1] [--threads N]
//        [--oracle] [--no-context]    (the quick run leaves out these two references unless asked)
//        [--workers 2]                 (N child processes, one workspace each at a time, one thread each)
//
// Defaults: Qwen2.5-Coder-0.5B-Instruct Q4_K_M (test/support/realModels.ts), the four packages at a 4096-token
// window, 20 code facts and 6 needles per workspace, ratios 1.0/0.5/0.3/0.2/0.1, every method, the oracle and the
// no-context run, two workers: about an hour on two shared cores. The issue's 50 facts per workspace and the
// 8192 window (`--facts 50 --contexts 4096,8192`) take about five times that here. SmolLM2-135M-Instruct
// (`--models smollm2-135m-q4_1`) answered 5 of 56 ws questions from the full cache: too weak to rank methods with.
// --quick: commander at 4096, 10 facts and 3 needles, ratios 1.0/0.3/0.1, no oracle, no no-context run.
//
// Per model and workspace (a package's source archive, rendered by the context builder with --max-context-tokens
// 4096 or 8192, needles planted as comments): ONE prefill, exact and local KVzip scoring as the engine builds
// them (its chunk for the window, punctuation demoted), SnapKV scores for a generic cue; then per method and ratio
// the compacted cache is written as the engine writes an entry (fp16 kv.bin, keep.bin) and answered from a
// compressed session. The full cache is the ratio-1.0 entry; its greedy answers (32 tokens) are the reference.
//
// Each question's answer from a compressed cache is checked against the reference in one teacher-forced pass
// (question + the reference's answer, every position's argmax): where every argmax equals the reference's token
// the greedy answer is the reference's, exactly; where one differs the answer is decoded on from there. Answers
// are greedy over multi-token runs (batchedGreedy below explains why). So accuracy is that of greedy answers, and
// "identical" says whether the first 32 tokens equal the full cache's. The oracle (SnapKV with the question
// itself) selects per question, so it answers through the dense graph over the kept pairs (fp16-rounded, as an
// entry stores them) instead of writing an entry per question.
//
// Each measured workspace is saved at once under bench/results/tmp/real/parts/ (keyed by model, package, window and
// settings), and a run finds the parts already there instead of measuring them again: a crash or a stop loses at
// most the workspace in progress. --workers N measures N workspaces at a time in child processes (two one-thread
// processes keep two cores busier than one two-thread process on these short runs), then reports from the parts.
//
// Writes bench/results/real-<model>[-quick].json (tables for summary.md) and .svg.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { basename, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { RESULTS_DIR, TMP_DIR } from './randomQwen.ts';
import { benchMachine } from './machine.ts';
import { fetchRealModel, REAL_MODELS, type RealModelId } from '../test/support/realModels.ts';
import { importGguf } from '../src/model/gguf/import.ts';
import { attentionWindow } from '../src/model/config.ts';
import { ModelTokenizer } from '../src/model/tokenizer.ts';
import { openModel, type DeviceModel } from '../src/runtime/open.ts';
import type { ForwardSession } from '../src/runtime/decoder.ts';
import type { KvCache } from '../src/runtime/kv.ts';
import { PREFILL_CHUNK } from '../src/runtime/traffic.ts';
import { f16ToF32, f32ToF16 } from '../src/model/native.ts';
import { buildContext, type BuiltContext } from '../src/context/index.ts';
import { loadSyntax } from '../src/context/syntax.ts';
import { contextLimit } from '../src/engine/workspaceContext.ts';
import { DEFAULT_CHUNK, fittingChunk, scoreSchedule } from '../src/kvzip/schedule.ts';
import { questionScores, scoreContext } from '../src/kvzip/score.ts';
import { PairScores } from '../src/kvzip/scores.ts';
import { demoteScores, PUNCT_DEMOTE } from '../src/kvzip/demote.ts';
import { keepAll, keptPairs, selectSnapKv, type KeepSets } from '../src/kvzip/select.ts';
import { layoutBytes, writeCompacted } from '../src/kvzip/compact.ts';
import { selectFor, SINKS, type Method } from './quality/methods.ts';
import { argmaxRows, mean } from './quality/metrics.ts';
import { meanInterval, pairedDifference, pairedRatio, type Interval } from './quality/bootstrap.ts';
import { ratioChart, type RatioPanel } from './quality/report.ts';
import { fetchArchive, PACKAGES, unpack, type RealPackage } from './real/packages.ts';
import { codeFacts, FACT_KINDS, isCorrect, type Question } from './real/facts.ts';
import { arrangeForNeedles, locateNeedles, plantNeedles, type Needle } from './real/needles.ts';

// ------------------------------------------------------------------------------------------------ settings
const argv = process.argv.slice(2);
const has = (name: string) => argv.includes(name);
const arg = (name: string, fallback: string) => (has(name) ? argv[argv.indexOf(name) + 1]! : fallback);
const QUICK = has('--quick');
const MODELS = arg('--models', 'qwen2.5-coder-0.5b-q4km').split(',');
const PACKAGE_IDS = arg('--packages', QUICK ? 'commander' : PACKAGES.map((p) => p.id).join(',')).split(',');
const CONTEXTS = arg('--contexts', '4096').split(',').map(Number);
const FACTS = Number(arg('--facts', QUICK ? '10' : '20'));
const NEEDLES_PER_DEPTH = Number(arg('--needles-per-depth', QUICK ? '1' : '2'));
const RATIOS = arg('--ratios', QUICK ? '1,0.3,0.1' : '1,0.5,0.3,0.2,0.1')
  .split(',')
  .map(Number);
/** The two references a KVzip change does not move: the quick run leaves them out unless asked. */
const ORACLE = !QUICK || has('--oracle');
const NO_CONTEXT = !QUICK || has('--no-context');
/**
 * onnxruntime threads per session: given, else one when the machine is already busy (two threads spinning against
 * other jobs on two cores ran this bench's first dev run 1.5-2x slower than one), else onnxruntime's default.
 */
const THREADS = has('--threads') ? Number(arg('--threads', '0')) || undefined : loadavg()[0]! >= cpus().length - 0.5 ? 1 : undefined;
const WORKERS = Number(arg('--workers', QUICK ? '1' : '2'));
/** A worker child: measures its one workspace into a part, reports nothing. */
const PART_ONLY = has('--part-only');
const ANSWER_TOKENS = 32;
/** SnapKV's question when it must choose before the user asks: a generic one. */
const GENERIC_CUE = 'Describe what this code does.';
const SEED = 29;

const ALL_METHODS = ['kvzip', 'kvzip-local', 'random', 'recency', 'snapkv', 'oracle'] as const;
type BenchMethod = (typeof ALL_METHODS)[number];
const METHODS = ALL_METHODS.filter((m) => m !== 'oracle' || ORACLE);
const QUERY_AGNOSTIC_BASELINES: BenchMethod[] = ['random', 'recency', 'snapkv'];
/** The quality bench's methods behind each of ours (selection only; the oracle selects per question). */
const SELECTION: Record<Exclude<BenchMethod, 'oracle'>, Method> = {
  kvzip: 'kvzip-pair-demote-0.75',
  'kvzip-local': 'kvzip-local',
  random: 'random',
  recency: 'recency',
  snapkv: 'snapkv',
};
const LABEL: Record<BenchMethod, string> = {
  kvzip: 'KVzip (exact scoring, as built)',
  'kvzip-local': 'KVzip, local scoring',
  random: 'random',
  recency: `recency + ${SINKS} sinks`,
  snapkv: 'SnapKV, generic cue',
  oracle: 'oracle: SnapKV with the question',
};
const COLOR: Record<BenchMethod, string> = {
  kvzip: '#d62728',
  'kvzip-local': '#9467bd',
  random: '#7f7f7f',
  recency: '#1f77b4',
  snapkv: '#2ca02c',
  oracle: '#111111',
};

const t0 = performance.now();
const log = (s: string) => console.error(`[real ${((performance.now() - t0) / 1000).toFixed(0)} s] ${s}`);
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

// ------------------------------------------------------------------------------------------ answering
interface Answer {
  ids: number[];
  text: string;
  /** Ended on EOS (else at ANSWER_TOKENS, or where the expected string appeared). */
  eos: boolean;
  correct: boolean;
}

/** Outcome of one question on one cache. */
interface Outcome {
  correct: 0 | 1;
  /** The greedy answer's first 32 tokens equal the full cache's (and it ends where that one ends). */
  identical: 0 | 1;
  /** Teacher-forced: share of the reference's positions whose argmax is the reference's token. */
  top1: number;
  /** First position that differs (the reference's length, EOS included, when none). */
  firstDiv: number;
  answer?: string;
}

/**
 * Where the session reads a run: a compressed session's tail follows its baked context; a dense session over a
 * shortened past (the oracle) places its tokens at `positionStart`, after the whole sequence.
 */
interface Cache {
  session: ForwardSession;
  past: KvCache;
  positionStart?: number;
}

/**
 * Free-running greedy decoding from `prompt`, up to `max` tokens or EOS, or until `done` holds: the prompt in one
 * run, then one token per run.
 */
async function stepGreedy(c: Cache, prompt: number[], max: number, eos: Set<number>, done: (ids: number[]) => boolean) {
  const at = (k: number) => (c.positionStart === undefined ? undefined : c.positionStart + k);
  let r = await c.session.forward(prompt, c.past, { positionStart: at(0) });
  const ids: number[] = [];
  for (;;) {
    const next = r.candidates.ids[0]!;
    if (eos.has(next)) return { ids, eos: true };
    ids.push(next);
    if (ids.length >= max || done(ids)) return { ids, eos: false };
    const kv = r.present;
    r = await c.session.forward([next], kv, { positionStart: at(prompt.length + ids.length - 1) });
    if (kv !== c.past) c.session.release(kv);
  }
}

/**
 * The argmax of every answer position when `prompt` + `answer` is run at once (teacher forcing): rows
 * prompt.length − 1 … prompt.length − 1 + count − 1.
 */
async function forcedArgmax(c: Cache, prompt: number[], answer: number[], count: number, vocab: number): Promise<number[]> {
  const input = [...prompt, ...answer.slice(0, count - 1)];
  const r = await c.session.forward(input, c.past, { allLogits: true, keepPresent: false, positionStart: c.positionStart });
  return argmaxRows(r.logitsAll!, vocab, prompt.length - 1, count);
}

/**
 * Greedy decoding where every token is the argmax of a row of a multi-token run, as the question's own tokens
 * are computed. One-token decode steps round activations differently on quantized weights (MatMulNBits at
 * accuracy level 4: up to ~3 logits apart from the same row in a longer run, measured on SmolLM2), so the
 * teacher-forced check below would disagree with step-by-step answers at near-ties whatever the cache. Here the
 * steps only propose; a teacher-forced run keeps the proposal up to its first disagreement, takes that row's
 * argmax, and proposes again from there. `known` is a prefix already decoded this way.
 */
async function batchedGreedy(
  c: Cache,
  prompt: number[],
  max: number,
  eos: Set<number>,
  vocab: number,
  done: (ids: number[]) => boolean = () => false,
  known: number[] = [],
): Promise<{ ids: number[]; eos: boolean }> {
  let ids = known;
  for (;;) {
    if (ids.length >= max || done(ids)) return { ids, eos: false };
    const more = await stepGreedy(c, [...prompt, ...ids], max - ids.length, eos, (x) => done([...ids, ...x]));
    const proposal = [...ids, ...more.ids];
    // Positions after `ids` are checked (the first proposed token already came from a multi-token run).
    const targets = more.eos ? [...proposal, -1] : proposal;
    const arg = await forcedArgmax(c, prompt, proposal, targets.length, vocab);
    let d = ids.length;
    while (d < targets.length && (targets[d] === -1 ? eos.has(arg[d]!) : arg[d] === targets[d])) d++;
    if (d === targets.length) return { ids: proposal, eos: more.eos };
    if (eos.has(arg[d]!)) return { ids: proposal.slice(0, d), eos: true };
    ids = [...proposal.slice(0, d), arg[d]!];
  }
}

// --------------------------------------------------------------------------------------- per workspace
interface Workspace {
  pkg: RealPackage;
  contextTokens: number;
  /** Files moved in the order (by modification time) to hold the needles. */
  moved: string[];
  ctx: BuiltContext;
  questions: Question[];
  available: Record<string, number>;
  ids: number[];
  prefixLen: number;
  scoreChunk: number;
  /** Milliseconds per phase. */
  timing: Record<string, number>;
  /** Compressed sessions opened (their time is timing.openMs). */
  sessionOpens: number;
}

interface CellResult {
  method: BenchMethod | 'full' | 'no-context';
  ratio: number;
  /** Entry bytes as the engine writes them (kv.bin + keep.bin + counts); the oracle's computed the same way. */
  entryBytes?: number;
  keptShare?: number;
  outcomes: Outcome[];
}

/** Bytes of an entry whose heads keep these pairs: fp16 K and V rows with the prefix, keep bitmaps, counts. */
function entryBytesOf(keep: KeepSets, prefixLen: number, headDim: number, sequenceLength: number): number {
  const L = keep.length;
  const H = keep[0]!.length;
  return (keptPairs(keep) + L * H * prefixLen) * headDim * 2 * 2 + L * H * Math.ceil(sequenceLength / 8) + layoutBytes(L, H);
}

/** The dense graph's past for a per-head selection (every head keeps as many pairs: SnapKV's uniform budget). */
function gatherHeads(full: KvCache, prefixLen: number, keep: KeepSets, headDim: number): KvCache {
  const counts = new Set(keep.flatMap((layer) => layer.map((h) => h.length)));
  if (counts.size !== 1) throw new Error('internal: the dense past needs one count per head');
  const n = prefixLen + [...counts][0]!;
  const cap = full.keys[0]!.dims[2]!;
  const gather = (t: ort.Tensor, l: number) => {
    const H = t.dims[1]!;
    const src = t.data as Float32Array;
    const dst = new Float32Array(H * n * headDim);
    for (let h = 0; h < H; h++) {
      const rows = [...Array.from({ length: prefixLen }, (_, i) => i), ...Array.from(keep[l]![h]!, (p) => p + prefixLen)];
      rows.forEach((p, j) => dst.set(src.subarray((h * cap + p) * headDim, (h * cap + p + 1) * headDim), (h * n + j) * headDim));
    }
    // Rounded through fp16, as an entry stores its pairs.
    return new ort.Tensor('float32', f16ToF32(f32ToF16(dst)), [1, H, n, headDim]);
  };
  return { keys: full.keys.map(gather), values: full.values.map(gather), length: n, written: { length: n } };
}

// ------------------------------------------------------------------------------------------------ parts
/** What the report reads of a measured workspace; saved as its part. */
interface MeasuredWorkspace {
  pkg: RealPackage;
  contextTokens: number;
  contextTotalTokens: number;
  files: string[];
  sequenceTokens: number;
  moved: string[];
  scoreChunk: number;
  available: Record<string, number>;
  sessionOpens: number;
  timing: Record<string, number>;
  questions: Question[];
  cells: CellResult[];
}

/** Bumped when what a part measures changes; settings that change it are in the key too. */
const PARTS_VERSION = 1;
const PARTS_DIR = join(TMP_DIR, 'real', 'parts');
const SETTINGS_KEY = createHash('sha256')
  .update(JSON.stringify({ PARTS_VERSION, FACTS, NEEDLES_PER_DEPTH, RATIOS, METHODS, NO_CONTEXT, ANSWER_TOKENS, SEED, GENERIC_CUE }))
  .digest('hex')
  .slice(0, 12);
const partFile = (model: string, pkg: string, size: number) => join(PARTS_DIR, `${model}-${pkg}-${size}-${SETTINGS_KEY}.json`);

function readPart(file: string): MeasuredWorkspace | undefined {
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as MeasuredWorkspace) : undefined;
}

/** Written whole or not at all: a crash while writing must not leave a part that looks complete. */
function writePart(file: string, m: MeasuredWorkspace) {
  mkdirSync(PARTS_DIR, { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify(m));
  renameSync(`${file}.tmp`, file);
}

function packageOf(pkgId: string): RealPackage {
  const pkg = PACKAGES.find((p) => p.id === pkgId);
  if (!pkg) throw new Error(`unknown package ${pkgId}; known: ${PACKAGES.map((p) => p.id).join(', ')}`);
  return pkg;
}

async function modelNames(modelArg: string) {
  const id = modelArg in REAL_MODELS ? (modelArg as RealModelId) : undefined;
  const gguf = id ? await fetchRealModel(id, log) : modelArg;
  return { id, gguf, modelName: id ?? basename(gguf).replace(/\.gguf$/i, ''), label: id ? REAL_MODELS[id].label : gguf };
}

/** --workers N: each workspace not yet measured goes to a child process, N at a time. */
async function runWorkers() {
  const drop = new Set(['--workers', '--models', '--packages', '--contexts', '--threads']);
  const base = argv.filter((a, i) => !drop.has(a) && !drop.has(argv[i - 1]!));
  const jobs: string[][] = [];
  for (const m of MODELS) {
    const { modelName } = await modelNames(m);
    for (const size of CONTEXTS)
      for (const p of PACKAGE_IDS)
        if (!existsSync(partFile(modelName, packageOf(p).id, size)))
          jobs.push([
            ...base,
            '--models',
            m,
            '--packages',
            p,
            '--contexts',
            String(size),
            '--threads',
            String(THREADS ?? 1),
            '--part-only',
          ]);
  }
  log(`${jobs.length} workspaces to measure, ${WORKERS} at a time`);
  const failed: string[] = [];
  const next = async (): Promise<void> => {
    const job = jobs.shift();
    if (!job) return;
    const code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, ...job], { stdio: 'inherit' });
      child.on('close', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
    });
    if (code !== 0) failed.push(`${job.join(' ')} (exit ${code})`);
    return next();
  };
  await Promise.all(Array.from({ length: WORKERS }, next));
  if (failed.length) throw new Error(`workers failed:\n${failed.join('\n')}`);
}

async function runModel(modelArg: string) {
  const { gguf, modelName, label } = await modelNames(modelArg);
  const parts = CONTEXTS.flatMap((size) => PACKAGE_IDS.map((p) => ({ pkg: packageOf(p), size, file: partFile(modelName, p, size) })));
  const done = parts.map((x) => readPart(x.file));
  if (done.every(Boolean)) {
    log(`${modelName}: every workspace measured (${PARTS_DIR}), reporting`);
    if (!PART_ONLY) report(modelName, label, done as MeasuredWorkspace[]);
    return;
  }
  const dir = await importGguf(gguf, join(TMP_DIR, 'gguf-import'));
  const preparedRoot = join(TMP_DIR, 'gguf-prep');
  // Prefill and scoring without the all-positions LM head; answering with it (the teacher-forced check).
  const plain: DeviceModel = openModel({ modelDir: dir, device: 'cpu', preparedRoot, threads: THREADS });
  const evalModel: DeviceModel = openModel({ modelDir: dir, device: 'cpu', preparedRoot, allLogits: true, threads: THREADS });
  const spec = plain.spec;
  const tok = ModelTokenizer.load(dir, spec.eosTokenIds);
  const layout = tok.layout();
  const prefixIds = tok.prefixIds(layout);
  const eos = new Set(tok.eosIds);
  const V = spec.vocabSize;
  const L = spec.numLayers;
  const H = spec.numKvHeads;
  const encode = (t: string) => tok.encode(t);
  const syntax = await loadSyntax();
  log(`${modelName}: ${L} layers, ${H} KV heads, head dim ${spec.headDim}, window ${attentionWindow(spec)}`);

  const work = mkdtempSync(join(TMP_DIR, 'real-run-'));
  try {
    for (const [k, x] of parts.entries()) {
      if (done[k]) {
        log(`${x.pkg.id}@${x.size}: measured before (${x.file})`);
        continue;
      }
      const w = await prepareWorkspace(x.pkg, x.size);
      const cells = await measure(w);
      done[k] = {
        pkg: w.pkg,
        contextTokens: w.contextTokens,
        contextTotalTokens: w.ctx.totalTokens,
        files: w.ctx.files.map((f) => `${f.path}${f.signatures ? ' (signatures)' : f.outline ? ' (outline)' : ''}`),
        sequenceTokens: w.ids.length,
        moved: w.moved,
        scoreChunk: w.scoreChunk,
        available: w.available,
        sessionOpens: w.sessionOpens,
        timing: w.timing,
        questions: w.questions,
        cells,
      };
      writePart(x.file, done[k]!);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
    // The next model must not find this one's weights still held by two sessions.
    await plain.releaseDense();
    await evalModel.releaseDense();
  }
  if (!PART_ONLY) report(modelName, label, done as MeasuredWorkspace[]);

  async function prepareWorkspace(pkg: RealPackage, size: number): Promise<Workspace> {
    const tStart = performance.now();
    const archive = fetchArchive(pkg, log);
    const limit = contextLimit(spec, tok, size);
    const build = (root: string) => buildContext(root, { encode, maxTokens: limit.maxTokens, controlTokens: tok.controlTokens });
    // Files that keep comments are moved to the needles' depths (by modification time), the needles go in, the
    // context is built again; a needle the new context lost (its file went down to signatures) moves elsewhere.
    const avoid = new Set<string>();
    for (let attempt = 0; ; attempt++) {
      const root = unpack(archive, join(work, `${pkg.id}-${size}`));
      const moved = arrangeForNeedles(syntax, root, await build(root), avoid);
      const ctx0 = await build(root);
      const needles: Needle[] = plantNeedles(syntax, root, ctx0, SEED + size, NEEDLES_PER_DEPTH, moved);
      const ctx = await build(root);
      const lost = locateNeedles(ctx, needles, encode);
      if (lost.length) {
        if (attempt >= 3)
          throw new Error(`${pkg.id} at ${size}: needles keep falling out of the context (${lost.map((n) => n.path).join(', ')})`);
        for (const n of lost) avoid.add(n.path);
        continue;
      }
      const read = (p: string) => readFileSync(join(root, p), 'utf8');
      // Facts from the files as they are now (needles in), never the needle lines themselves.
      const { questions: facts, available } = codeFacts(syntax, ctx, read, FACTS, SEED + size);
      const ids = [...prefixIds, ...ctx.tokenIds];
      const scoreChunk = fittingChunk(DEFAULT_CHUNK, ids.length, attentionWindow(spec));
      log(
        `${pkg.name} ${pkg.version} at ${size}: ${ctx.totalTokens} context tokens in ${ctx.files.length} files ` +
          `(${ctx.files.filter((f) => f.outline).length} outlines); ${needles.length} needles at ${needles.map((n) => round(n.depth!, 2)).join(', ')}; ` +
          `${facts.length} facts (${FACT_KINDS.map((k) => `${k} ${facts.filter((f) => f.kind === k).length}/${available[k]}`).join(', ')})`,
      );
      return {
        pkg,
        contextTokens: size,
        moved,
        ctx,
        questions: [...needles, ...facts],
        available,
        ids,
        prefixLen: prefixIds.length,
        scoreChunk,
        timing: { contextMs: performance.now() - tStart },
        sessionOpens: 0,
      };
    }
  }

  async function measure(w: Workspace): Promise<CellResult[]> {
    const { ids, prefixLen, questions } = w;
    const n = ids.length - prefixLen;
    const qids = questions.map((q) => tok.questionIds(layout, q.question));
    const decode = (x: number[]) => tok.decode(x);
    let t = performance.now();
    const dense = await plain.dense();
    w.timing.denseOpenMs = performance.now() - t;

    // One prefill, both scorings, SnapKV's generic cue.
    t = performance.now();
    const full = (await dense.prefill(ids, dense.empty(), PREFILL_CHUNK)).present;
    w.timing.prefillMs = performance.now() - t;
    const chunks = scoreSchedule(tok, layout, ids, prefixLen, w.scoreChunk);
    t = performance.now();
    const exact = await scoreContext(dense, full, prefixLen, chunks);
    w.timing.exactScoreMs = performance.now() - t;
    t = performance.now();
    const local = await scoreContext(dense, full, prefixLen, chunks, 'local');
    w.timing.localScoreMs = performance.now() - t;
    const ctxIds = ids.slice(prefixLen);
    const demoted = new PairScores(exact.layers, exact.kvHeads, exact.n);
    demoted.data.set(exact.data);
    demoteScores(demoted, tok, ctxIds, PUNCT_DEMOTE);
    demoteScores(local, tok, ctxIds, PUNCT_DEMOTE);
    const snapScores = await questionScores(dense, full, prefixLen, tok.questionIds(layout, GENERIC_CUE));
    const inputs = {
      scores: exact,
      demoted: new Map([['kvzip-pair-demote-0.75' as const, demoted]]),
      local,
      snapScores,
      layers: L,
      kvHeads: H,
      n,
      seed: SEED,
    };
    log(
      `${w.pkg.id}@${w.contextTokens}: prefill ${ids.length} tokens ${(w.timing.prefillMs / 1000).toFixed(1)} s, exact scoring ${(w.timing.exactScoreMs / 1000).toFixed(1)} s ` +
        `(${chunks.length} chunks of ${w.scoreChunk}), local ${(w.timing.localScoreMs / 1000).toFixed(1)} s`,
    );

    const results: CellResult[] = [];
    const cellDir = join(work, 'cell');
    /** Writes the entry for `keep`, opens its compressed session, runs `f`, removes it. */
    const withEntry = async <T>(keep: KeepSets, f: (s: ForwardSession, bytes: number) => Promise<T>): Promise<T> => {
      rmSync(cellDir, { recursive: true, force: true });
      mkdirSync(cellDir, { recursive: true });
      const lay = writeCompacted(join(cellDir, 'kv.bin'), full, prefixLen, keep, spec.headDim);
      const bytes = lay.bytes + lay.keepBytes + layoutBytes(L, H);
      if (bytes !== entryBytesOf(keep, prefixLen, spec.headDim, ids.length)) throw new Error('internal: entry bytes formula is off');
      const tOpen = performance.now();
      const s = await evalModel.compressed(cellDir, lay.baked, ids.length);
      w.timing.openMs = (w.timing.openMs ?? 0) + performance.now() - tOpen;
      w.sessionOpens++;
      try {
        return await f(s, bytes);
      } finally {
        await s.session.release();
        rmSync(cellDir, { recursive: true, force: true });
      }
    };

    // The full cache (every pair, as a ratio-1.0 entry): the reference answers, then the check against itself.
    t = performance.now();
    const refs: Answer[] = [];
    const fullCell = await withEntry(keepAll(L, H, n), async (s, bytes) => {
      const c: Cache = { session: s, past: s.empty() };
      for (const [i, q] of questions.entries()) {
        const g = await batchedGreedy(c, qids[i]!, ANSWER_TOKENS, eos, V);
        const text = decode(g.ids);
        refs.push({ ...g, text, correct: isCorrect(text, q) });
      }
      const outcomes: Outcome[] = [];
      for (const i of questions.keys()) outcomes.push(await check(c, i));
      return { method: 'full' as const, ratio: 1, entryBytes: bytes, keptShare: 1, outcomes };
    });
    results.push(fullCell);
    w.timing.fullMs = performance.now() - t;
    log(
      `${w.pkg.id}@${w.contextTokens}: full cache ${mean(refs.map((r) => +r.correct)).toFixed(3)} correct, self-check identical ` +
        `${mean(fullCell.outcomes.map((o) => o.identical)).toFixed(3)} (${(w.timing.fullMs / 1000).toFixed(0)} s)`,
    );

    /** One question on a cache: the teacher-forced check against the reference, decoding on where it differs. */
    async function check(c: Cache, i: number): Promise<Outcome> {
      const ref = refs[i]!;
      const q = qids[i]!;
      const targets = ref.eos ? [...ref.ids, -1] : ref.ids;
      const arg = await forcedArgmax(c, q, ref.ids, targets.length, V);
      const ok = arg.map((a, j) => (targets[j] === -1 ? eos.has(a) : a === targets[j]));
      const firstDiv = ok.indexOf(false) < 0 ? targets.length : ok.indexOf(false);
      const top1 = ok.filter(Boolean).length / targets.length;
      if (firstDiv === targets.length) return { correct: ref.correct ? 1 : 0, identical: 1, top1, firstDiv };
      // The answer is the reference's up to firstDiv, then this cache's own token, then its own way.
      const own = arg[firstDiv]!;
      let answer = ref.ids.slice(0, firstDiv);
      if (!eos.has(own)) {
        const right = (x: number[]) => isCorrect(decode(x), questions[i]!);
        answer = (await batchedGreedy(c, q, ANSWER_TOKENS, eos, V, right, [...answer, own])).ids;
      }
      const text = decode(answer);
      return { correct: isCorrect(text, questions[i]!) ? 1 : 0, identical: 0, top1, firstDiv, answer: text };
    }

    // No context at all: the prefix alone, then the question.
    t = performance.now();
    if (NO_CONTEXT) {
      const d = await evalModel.dense();
      w.timing.evalDenseOpenMs = performance.now() - t;
      const prefixKv = (await d.forward(prefixIds, d.empty())).present;
      const outcomes: Outcome[] = [];
      for (const [i, q] of questions.entries()) {
        const g = await batchedGreedy({ session: d, past: prefixKv }, qids[i]!, ANSWER_TOKENS, eos, V);
        const text = decode(g.ids);
        const same = g.eos === refs[i]!.eos && g.ids.length === refs[i]!.ids.length && g.ids.every((x, j) => x === refs[i]!.ids[j]);
        outcomes.push({ correct: isCorrect(text, q) ? 1 : 0, identical: same ? 1 : 0, top1: NaN, firstDiv: NaN, answer: text });
      }
      results.push({ method: 'no-context', ratio: 0, outcomes });
    }
    w.timing.noContextMs = performance.now() - t;

    // The query-agnostic methods: one entry per method and ratio.
    for (const r of RATIOS.filter((x) => x < 1)) {
      for (const m of METHODS.filter((x) => x !== 'oracle') as Exclude<BenchMethod, 'oracle'>[]) {
        t = performance.now();
        const keep = selectFor(SELECTION[m], r, inputs);
        const cell = await withEntry(keep, async (s, bytes) => {
          const outcomes: Outcome[] = [];
          for (const i of questions.keys()) outcomes.push(await check({ session: s, past: s.empty() }, i));
          return { method: m, ratio: r, entryBytes: bytes, keptShare: keptPairs(keep) / (L * H * n), outcomes };
        });
        results.push(cell);
        w.timing[`${m}@${r}Ms`] = performance.now() - t;
        log(
          `${w.pkg.id}@${w.contextTokens} ${m} r=${r}: correct ${mean(cell.outcomes.map((o) => o.correct)).toFixed(3)}, identical ` +
            `${mean(cell.outcomes.map((o) => o.identical)).toFixed(3)} (${((performance.now() - t) / 1000).toFixed(0)} s)`,
        );
      }
    }

    // The oracle: SnapKV made for each question itself, answered through the dense graph over its kept pairs.
    t = performance.now();
    if (ORACLE) {
      const d = await evalModel.dense();
      const byRatio = new Map<number, Outcome[]>();
      const bytesByRatio = new Map<number, number>();
      for (const i of questions.keys()) {
        const qs = await questionScores(dense, full, prefixLen, qids[i]!);
        for (const r of RATIOS.filter((x) => x < 1)) {
          const keep = selectSnapKv(qs, r);
          bytesByRatio.set(r, entryBytesOf(keep, prefixLen, spec.headDim, ids.length));
          const past = gatherHeads(full, prefixLen, keep, spec.headDim);
          const list = byRatio.get(r) ?? [];
          list.push(await check({ session: d, past, positionStart: ids.length }, i));
          byRatio.set(r, list);
        }
      }
      for (const [r, outcomes] of byRatio)
        results.push({ method: 'oracle', ratio: r, entryBytes: bytesByRatio.get(r), keptShare: r, outcomes });
    }
    w.timing.oracleMs = performance.now() - t;
    log(`${w.pkg.id}@${w.contextTokens}: oracle done (${(w.timing.oracleMs / 1000).toFixed(0)} s)`);
    dense.release(full);
    return results;
  }
}

// ------------------------------------------------------------------------------------------------ report
type Task = 'needles' | 'facts';
const TASKS: Task[] = ['needles', 'facts'];
const inTask = (q: Question, t: Task) => (t === 'needles' ? q.kind === 'needle' : q.kind !== 'needle');
const fmt = (x: Interval, d = 2) => `${x.value.toFixed(d)} [${x.lo.toFixed(d)}, ${x.hi.toFixed(d)}]`;
const mib = (b: number) => (b / 2 ** 20).toFixed(2);

function report(modelName: string, label: string, workspaces: MeasuredWorkspace[]) {
  const cells = workspaces.map((w) => w.cells);
  const sizes = [...new Set(workspaces.map((w) => w.contextTokens))];
  const rowsOf = (method: string, ratio: number) => (method === 'full' || method === 'no-context' ? (method === 'full' ? 1 : 0) : ratio);
  const tables = [];
  const summary: Record<string, unknown>[] = [];
  const verdicts: Record<string, unknown>[] = [];
  const panels: RatioPanel[] = [];
  for (const size of sizes) {
    const ws = workspaces.map((w, k) => ({ w, k })).filter((x) => x.w.contextTokens === size);
    /** Outcomes of a method at a ratio over every workspace of this size, in one question order. */
    const pooled = (method: string, ratio: number, task?: Task) => {
      const out: { o: Outcome; q: Question; stratum: string }[] = [];
      for (const { w, k } of ws) {
        const cell = cells[k]!.find((c) => c.method === method && c.ratio === rowsOf(method, ratio));
        if (!cell) continue;
        cell.outcomes.forEach((o, i) => {
          if (!task || inTask(w.questions[i]!, task)) out.push({ o, q: w.questions[i]!, stratum: w.pkg.id });
        });
      }
      return out;
    };
    const bytesOf = (method: string, ratio: number) =>
      mean(ws.map(({ k }) => cells[k]!.find((c) => c.method === method && c.ratio === rowsOf(method, ratio))?.entryBytes ?? NaN));
    const acc = (method: string, ratio: number, task: Task) => {
      const xs = pooled(method, ratio, task);
      return meanInterval(
        xs.map((x) => x.o.correct),
        { strata: xs.map((x) => x.stratum), seed: SEED },
      );
    };
    const ident = (method: string, ratio: number) => {
      const xs = pooled(method, ratio);
      return meanInterval(
        xs.map((x) => x.o.identical),
        { strata: xs.map((x) => x.stratum), seed: SEED },
      );
    };
    const rowFor = (method: string, ratio: number, name: string) => {
      const a = TASKS.map((t) => acc(method, ratio, t));
      const id = ident(method, ratio);
      const bytes = bytesOf(method, ratio);
      summary.push({
        contextTokens: size,
        method,
        ratio: method === 'no-context' ? null : ratio,
        needles: a[0],
        facts: a[1],
        identical: method === 'no-context' ? undefined : id,
        entryBytes: Number.isFinite(bytes) ? Math.round(bytes) : undefined,
      });
      return [
        name,
        method === 'no-context' ? '—' : ratio,
        fmt(a[0]!),
        fmt(a[1]!),
        method === 'no-context' ? '—' : fmt(id),
        Number.isFinite(bytes) ? mib(bytes) : '—',
      ];
    };
    const rows: unknown[][] = [rowFor('full', 1, 'full cache'), ...(NO_CONTEXT ? [rowFor('no-context', 0, 'no context')] : [])];
    for (const r of RATIOS.filter((x) => x < 1)) for (const m of METHODS) rows.push(rowFor(m, r, LABEL[m]));
    const nq = TASKS.map((t) => pooled('full', 1, t).length);
    tables.push({
      title: `${modelName}, ${size}-token window (${ws.map(({ w }) => `${w.pkg.name} ${w.pkg.version}: ${w.contextTotalTokens} tokens`).join('; ')})`,
      columns: [
        'method',
        'ratio kept',
        `needles (${nq[0]}): accuracy [95% CI]`,
        `code facts (${nq[1]}): accuracy [95% CI]`,
        `answer identical to full cache (32 tokens)`,
        'entry MiB',
      ],
      rows,
      notes: [
        'Accuracy: the greedy answer (32 tokens) holds the expected string; intervals: bootstrap over questions within each package (2,000 resamples).',
        "Identical: the answer equals the full cache's over its first 32 tokens (teacher-forced check; the full row is that check against itself).",
      ],
    });

    // Goals (issue 29): retention at 0.3 and 0.2, KVzip against each query-agnostic baseline, local against exact.
    const paired = (a: string, ra: number, b: string, rb: number, task: Task, f: typeof pairedDifference) => {
      const xa = pooled(a, ra, task);
      const xb = pooled(b, rb, task);
      return f(
        xa.map((x) => x.o.correct),
        xb.map((x) => x.o.correct),
        { strata: xa.map((x) => x.stratum), seed: SEED },
      );
    };
    const verdict = (d: Interval) => (d.lo > 0 ? 'ahead' : d.hi < 0 ? 'behind' : 'within the interval');
    const vrows: unknown[][] = [];
    for (const task of TASKS) {
      for (const [r, goal] of [
        [0.3, 0.95],
        [0.2, 0.9],
      ] as const) {
        if (!RATIOS.includes(r)) continue;
        const keepShare = paired('kvzip', r, 'full', 1, task, pairedRatio);
        const met = keepShare.value >= goal ? (keepShare.lo >= goal ? 'met' : 'met on the mean, not beyond the interval') : 'missed';
        vrows.push([task, `KVzip r=${r} keeps ≥ ${goal * 100}% of full accuracy`, fmt(keepShare), met]);
        verdicts.push({ contextTokens: size, task, goal: `retention r=${r} >= ${goal}`, interval: keepShare, result: met });
      }
      for (const r of RATIOS.filter((x) => x <= 0.5)) {
        for (const b of QUERY_AGNOSTIC_BASELINES) {
          const d = paired('kvzip', r, b, r, task, pairedDifference);
          vrows.push([task, `KVzip − ${LABEL[b]} at r=${r}`, fmt(d), verdict(d)]);
          verdicts.push({ contextTokens: size, task, goal: `kvzip - ${b} r=${r}`, interval: d, result: verdict(d) });
        }
        const dl = paired('kvzip-local', r, 'kvzip', r, task, pairedDifference);
        vrows.push([task, `local − exact scoring at r=${r}`, fmt(dl), verdict(dl)]);
        verdicts.push({ contextTokens: size, task, goal: `local - exact r=${r}`, interval: dl, result: verdict(dl) });
      }
    }
    tables.push({
      title: `${modelName}, ${size}-token window: the goals (paired over the same questions, 95% bootstrap intervals)`,
      columns: ['task', 'comparison', 'value [95% CI]', 'reading'],
      rows: vrows,
      notes: ["'ahead'/'behind': the interval of the paired difference excludes 0; retention is KVzip's accuracy over the full cache's."],
    });

    // The figure: accuracy on needles and facts, and identical answers, against the ratio.
    const fullAcc = TASKS.map((t) => acc('full', 1, t).value);
    const noCtx = NO_CONTEXT ? TASKS.map((t) => acc('no-context', 0, t).value) : undefined;
    const seriesFor = (f: (m: string, r: number) => Interval) =>
      METHODS.map((m) => ({
        name: LABEL[m],
        color: COLOR[m],
        width: m === 'kvzip' ? 2.5 : 1.5,
        dash: m === 'oracle' ? '5 2' : undefined,
        points: RATIOS.map((r) => {
          const x = r >= 1 ? f('full', 1) : f(m, r);
          return { ratio: r, value: x.value, lo: x.lo, hi: x.hi };
        }),
      }));
    TASKS.forEach((task, j) =>
      panels.push({
        title: `${task === 'needles' ? 'Needles' : 'Code facts'}, ${size} window: accuracy ↑`,
        series: seriesFor((m, r) => acc(m, r, task)),
        refs: [{ label: 'full cache', value: fullAcc[j]! }, ...(noCtx ? [{ label: 'no context', value: noCtx[j]! }] : [])],
        range: [0, 1],
      }),
    );
    panels.push({
      title: `Answer identical to full (32 tokens), ${size} ↑`,
      series: seriesFor((m, r) => ident(m, r)),
      range: [0, 1],
    });
  }

  const seconds = (performance.now() - t0) / 1000;
  const out = {
    model: modelName,
    modelLabel: label,
    mode: QUICK ? 'quick' : 'full',
    startedAt: new Date(Date.now() - seconds * 1000).toISOString(),
    totalSeconds: seconds,
    /** Each workspace's measuring time, summed: what a report from parts measured before (totalSeconds is this process's). */
    workspaceSeconds: round(workspaces.reduce((a, w) => a + Object.values(w.timing).reduce((b, x) => b + x, 0), 0) / 1000, 1),
    machine: benchMachine(),
    setup: {
      command: `npm run bench -- --only real -- ${argv.join(' ')}`.trim(),
      ratios: RATIOS,
      answerTokens: ANSWER_TOKENS,
      factsPerWorkspace: FACTS,
      needlesPerDepth: NEEDLES_PER_DEPTH,
      genericCue: GENERIC_CUE,
      recencySinks: SINKS,
      threads: WORKERS > 1 ? `${THREADS ?? 1} per worker, ${WORKERS} workers` : (THREADS ?? 'onnxruntime default'),
      methods: Object.fromEntries(METHODS.map((m) => [m, LABEL[m]])),
      noContext: NO_CONTEXT,
      scoring:
        "the engine's: m = 2000 capped so repeat inputs stay in the window (src/kvzip/schedule.ts fittingChunk), pair level, punctuation/whitespace scores x 0.75; local: the same chunks, each repeat pass over the prefix and its own chunk",
      check:
        "teacher-forced: question + the full cache's answer in one pass; where every argmax equals it the greedy answer is the same; where one differs, greedy generation goes on from there (until the expected string appears, EOS or 32 tokens)",
    },
    workspaces: workspaces.map((w, k) => ({
      package: `${w.pkg.registry}:${w.pkg.name}@${w.pkg.version}`,
      language: w.pkg.language,
      maxContextTokens: w.contextTokens,
      contextTokens: w.contextTotalTokens,
      sequenceTokens: w.sequenceTokens,
      needleFiles: w.moved,
      files: w.files,
      scoreChunk: w.scoreChunk,
      factsAvailable: w.available,
      sessionOpens: w.sessionOpens,
      timingSeconds: Object.fromEntries(Object.entries(w.timing).map(([k2, v]) => [k2.replace(/Ms$/, ''), round(v / 1000, 1)])),
      questions: w.questions.map((q, i) => ({
        ...q,
        depth: q.depth === undefined ? undefined : round(q.depth, 3),
        full: cells[k]!.find((c) => c.method === 'full')!.outcomes[i]!.correct,
      })),
      cells: cells[k]!.map((c) => ({
        method: c.method,
        ratio: c.ratio,
        entryBytes: c.entryBytes,
        keptShare: c.keptShare === undefined ? undefined : round(c.keptShare, 4),
        needles: round(mean(c.outcomes.filter((_, i) => w.questions[i]!.kind === 'needle').map((o) => o.correct))),
        facts: round(mean(c.outcomes.filter((_, i) => w.questions[i]!.kind !== 'needle').map((o) => o.correct))),
        identical: round(mean(c.outcomes.map((o) => o.identical))),
        top1: round(mean(c.outcomes.map((o) => o.top1))),
        outcomes: c.outcomes.map((o) => [o.correct, o.identical, round(o.top1, 3), o.firstDiv]),
        answers: c.method === 'full' || c.method === 'no-context' || c.ratio === 0.3 ? c.outcomes.map((o) => o.answer) : undefined,
      })),
    })),
    summary,
    verdicts,
    tables,
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  const base = join(RESULTS_DIR, `real-${modelName}${QUICK ? '-quick' : ''}`);
  writeFileSync(
    `${base}.json`,
    JSON.stringify(out, (_, v) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(5)) : v), 1) + '\n',
  );
  writeFileSync(
    `${base}.svg`,
    ratioChart(panels, { cols: 3, ratios: RATIOS, title: `${label}: answers from compressed caches of real packages` }),
  );
  for (const t of tables) {
    console.log(`\n${t.title}`);
    console.log(t.columns.join(' | '));
    for (const r of t.rows) console.log(r.join(' | '));
  }
  log(`wrote ${base}.json and .svg`);
}

if (WORKERS > 1 && !PART_ONLY) await runWorkers();
for (const m of MODELS) {
  // The full cache's reference answers are made inside each model's run: nothing carries between models.
  await runModel(m);
}
log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
