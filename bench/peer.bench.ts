// Issue 27's bar: KVzip Code against llama.cpp, side by side, measured in one run on this machine, on the real
// Qwen2.5-Coder-0.5B-Instruct weights, both sides reading the same GGUF file and prefilling the same tokens.
//
//   npm run bench -- --only peer [-- --llama-cpp DIR] [--quick] [--models fp32,q4km,int4] [--repeats N]
//
// llama.cpp's binaries (llama-bench, llama-completion, llama-quantize, llama-tokenize) come from `--llama-cpp DIR`
// or LLAMA_CPP_BIN; without them the bench says so in one line and exits 0 (docs/benchmarks.md: how to get them).
//
// Pairs (ours, a fresh `kvzip-code` process each; llama.cpp, a fresh process each; alternating, round by round):
// - fp32: the F32 GGUF made from the Q4_K_M one with llama-quantize, read by both sides.
// - q4km: the Q4_K_M GGUF users have: ours keeps its blocks, llama.cpp runs it natively.
// - int4: ours the F32 GGUF with --int4 (our int4 blocks), llama.cpp a Q4_0 GGUF quantized from the same F32 file.
// Measures, at a ~4K context (and ~8K for decode):
// 1. decode from a saved cache in a new process: `ask --max-tokens 64` (ratio 0.3) against llama-completion
//    restoring its prompt cache of the context, then the question, then 64 tokens (--ignore-eos), its eval ms/token;
// 2. restart → first answer token: `ask --max-tokens 1` (no --json: the answer streams to stdout) against
//    llama-completion restoring the prompt cache, -n 1: spawn to the first bytes on stdout, and to exit;
// 3. build (exact and local scoring) against llama-completion prefilling the context and saving its prompt cache;
// 4. the build's time outside prefill, scoring and writing the entry (src/core/timings.ts phases);
// 5. prefill tok/s: the build's own prefill phase against llama-bench (best of flash attention off and on).
// --quick: ~1K contexts only, one repeat (a check that everything runs, not figures to report).
//
// Writes bench/results/peer.json (tables for summary.md); scratch files under bench/results/tmp/peer/.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, relative } from 'node:path';
import { BENCH_DIR, RESULTS_DIR, TMP_DIR } from './randomQwen.ts';
import { codeWorkspace } from './codeWorkspace.ts';
import { benchMachine } from './machine.ts';
import type { Table } from './engineTables.ts';
import { completionPerf, findLlamaCpp, LlamaCpp, runProcess, type BenchRow, type CompletionPerf } from './peer/llamaCpp.ts';
import { fetchRealModel } from '../test/support/realModels.ts';
import { importGguf } from '../src/model/gguf/import.ts';
import { loadModelSpec } from '../src/model/config.ts';
import { ModelTokenizer } from '../src/model/tokenizer.ts';
import { contextLimit, workspaceContext } from '../src/engine/workspaceContext.ts';
import type { AskResult, BuildResult } from '../src/engine/protocol.ts';

// ------------------------------------------------------------------------------------------------ settings
const argv = process.argv.slice(2);
const has = (name: string) => argv.includes(name);
const arg = (name: string) => (has(name) ? argv[argv.indexOf(name) + 1] : undefined);
const QUICK = has('--quick');
const REPEATS = Number(arg('--repeats') ?? (QUICK ? 1 : 2));
/** The context of every pair, and the longer one the decode pair also runs at. */
const MAIN = QUICK ? 1024 : 4096;
const LONG = QUICK ? undefined : 8192;
const ANSWER_TOKENS = 64;
const THREADS = 2;
const RATIO = 0.3;
/** A question whose answer runs past 64 tokens, so the decode is over as many tokens on both sides. */
const QUESTION = 'Describe, file by file, what each function in this workspace does and what it returns.';

const ROOT = join(BENCH_DIR, '..');
const CLI = join(ROOT, 'dist', 'cli.js');
const WORK = join(TMP_DIR, 'peer');
const CACHE_DIR = join(WORK, 'cache');
const OUT = join(RESULTS_DIR, 'peer.json');

const t0 = performance.now();
const log = (s: string) => console.error(`[peer ${((performance.now() - t0) / 1000).toFixed(0)} s] ${s}`);
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ratio = (us: number, them: number) => `${round(us / them)}×`;

const found = findLlamaCpp(arg('--llama-cpp') ?? process.env.LLAMA_CPP_BIN);
if ('missing' in found) {
  console.log(
    `peer: skipped — no llama.cpp binaries (${found.missing}); build llama.cpp as docs/benchmarks.md "Side by side with llama.cpp" says, then pass --llama-cpp DIR or set LLAMA_CPP_BIN`,
  );
  process.exit(0);
}
if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (npm run bench does)`);
const llama = new LlamaCpp(found.dir);

// ------------------------------------------------------------------------------------------------ models
type PairId = 'fp32' | 'q4km' | 'int4';
interface Pair {
  id: PairId;
  label: string;
  /** What our CLI loads, and its extra flags. */
  ours: { model: string; flags: string[] };
  llamaModel: string;
}
const PAIR_IDS = (arg('--models') ?? 'fp32,q4km,int4').split(',') as PairId[];
for (const id of PAIR_IDS) if (!['fp32', 'q4km', 'int4'].includes(id)) throw new Error(`--models: unknown ${id} (fp32, q4km, int4)`);

mkdirSync(WORK, { recursive: true });
const llamaVersion = await llama.version();
log(`llama.cpp ${llamaVersion} (${found.dir})`);
const q4km = await fetchRealModel('qwen2.5-coder-0.5b-q4km', log);
const f32 = join(WORK, 'qwen2.5-coder-0.5b-instruct-f32.gguf');
const q40 = join(WORK, 'qwen2.5-coder-0.5b-instruct-q4_0.gguf');
if (PAIR_IDS.some((p) => p !== 'q4km')) {
  if (await llama.quantize(q4km, f32, 'F32')) log(`made ${relative(ROOT, f32)} (llama-quantize F32)`);
  if (PAIR_IDS.includes('int4') && (await llama.quantize(f32, q40, 'Q4_0'))) log(`made ${relative(ROOT, q40)} (llama-quantize Q4_0)`);
}
const ALL_PAIRS: Record<PairId, Pair> = {
  fp32: { id: 'fp32', label: 'fp32 vs llama.cpp f32', ours: { model: f32, flags: [] }, llamaModel: f32 },
  q4km: { id: 'q4km', label: 'Q4_K_M kept blocks vs llama.cpp Q4_K_M', ours: { model: q4km, flags: [] }, llamaModel: q4km },
  int4: { id: 'int4', label: 'int4 vs llama.cpp Q4_0', ours: { model: f32, flags: ['--int4'] }, llamaModel: q40 },
};
const PAIRS = PAIR_IDS.map((id) => ALL_PAIRS[id]);

// ------------------------------------------------------------------------------------------------ context
// The sequence our engine prefills (chat prefix + system text + the rendered workspace), computed with the engine's
// own modules from the same tokenizer, written as text for llama.cpp. Every GGUF here carries the same tokenizer.
const modelDir = await importGguf(q4km, join(WORK, 'gguf-import'));
const spec = loadModelSpec(modelDir);
const tok = ModelTokenizer.load(modelDir, spec.eosTokenIds);
const layout = tok.layout();
const prefixIds = tok.prefixIds(layout);
const questionIds = tok.questionIds(layout, QUESTION);
const questionText = layout.beforeQuestion + QUESTION + layout.afterQuestion;

/** The smallest --max-context-tokens under which the engine builds a sequence of ~`tokens` (contextLimit's reserve). */
const windowFor = (tokens: number) => (tokens >= 3072 ? tokens + 1024 : Math.ceil((tokens * 4) / 3));

interface Context {
  target: number;
  maxContextTokens: number;
  workspace: string;
  /** Our sequence: prefix + rendered files. */
  tokens: number;
  llamaTokens: number;
  /** The same with the question turn after it. */
  withQuestion: number;
  llamaWithQuestion: number;
  /** Our ids decode back to the text given to llama.cpp. */
  decodesToText: boolean;
  ctxFile: string;
  askFile: string;
  /** llama.cpp's context size: the sequence, the question and the answer. */
  nCtx: number;
}

/** llama.cpp drops one trailing newline of a -f file; one more keeps the text exact. */
const promptFile = (file: string, text: string) => writeFileSync(file, text.endsWith('\n') ? `${text}\n` : text);

async function makeContext(target: number): Promise<Context> {
  const workspace = join('/tmp', `kvzip-peer-ws-${target}`);
  rmSync(workspace, { recursive: true, force: true });
  codeWorkspace(workspace, (t) => tok.encode(t), 2 * target);
  // Our engine encodes files as plain text; llama.cpp parses special tokens in its prompt. A file that spells a
  // control token would give the two sides different tokens: such files stay out.
  for (const f of readdirSync(workspace, { recursive: true }) as string[]) {
    const p = join(workspace, f);
    if (f.endsWith('.ts') && tok.controlTokens.some((c) => readFileSync(p, 'utf8').includes(c))) rmSync(p);
  }
  const maxContextTokens = windowFor(target);
  const limit = contextLimit(spec, tok, maxContextTokens);
  const settings = {
    workspace,
    model: q4km,
    cacheDir: CACHE_DIR,
    device: 'cpu' as const,
    ratio: RATIO,
    level: 'pair' as const,
    maxContextTokens,
  };
  const ctx = await workspaceContext(settings, spec, tok, undefined);
  const ids = [...prefixIds, ...ctx.tokenIds];
  const text = layout.prefix + ctx.text;
  const ctxFile = join(WORK, `ctx-${target}.txt`);
  const askFile = join(WORK, `ctx-question-${target}.txt`);
  promptFile(ctxFile, text);
  promptFile(askFile, text + questionText);
  const c: Context = {
    target,
    maxContextTokens,
    workspace,
    tokens: ids.length,
    llamaTokens: await llama.tokenCount(q4km, ctxFile),
    withQuestion: ids.length + questionIds.length,
    llamaWithQuestion: await llama.tokenCount(q4km, askFile),
    decodesToText: tok.decode(ids, false) === text,
    ctxFile,
    askFile,
    nCtx: Math.ceil((ids.length + questionIds.length + ANSWER_TOKENS + 64) / 256) * 256,
  };
  log(
    `context ~${target}: ${c.tokens} tokens ours, ${c.llamaTokens} llama.cpp (with the question ${c.withQuestion} / ${c.llamaWithQuestion}); ` +
      `limit ${limit.maxTokens} for the files, --max-context-tokens ${maxContextTokens}`,
  );
  if (Math.abs(c.tokens - c.llamaTokens) > 8 || Math.abs(c.withQuestion - c.llamaWithQuestion) > 8)
    throw new Error(`llama.cpp tokenizes the context differently (${c.llamaTokens} vs our ${c.tokens}): the pairs would not compare`);
  return c;
}

// ------------------------------------------------------------------------------------------------ our CLI
/** The figures kept of `build --json` and `ask --json` (the rest, such as the context report, is left out of peer.json). */
const BUILD_FIELDS = ['contextTokens', 'buildMs', 'peakRssBytes', 'timings'] as const;
const ASK_FIELDS = [
  'fromCache',
  'prefillTokens',
  'questionTokens',
  'answerTokens',
  'ttftMs',
  'decodeMsPerToken',
  'timings',
  'answer',
] as const;
type OurBuild = Pick<BuildResult, (typeof BUILD_FIELDS)[number]>;
type OurAsk = Pick<AskResult, (typeof ASK_FIELDS)[number]>;
async function ours<T>(args: string[], fields: readonly string[]): Promise<{ wallMs: number; json: T }> {
  const p = await runProcess(process.execPath, [CLI, ...args]);
  if (p.code !== 0) throw new Error(`kvzip-code ${args.slice(0, 2).join(' ')} exited ${p.code}: ${p.stderr.slice(-1500)}`);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(p.stdout) as Record<string, unknown>;
  } catch {
    throw new Error(`kvzip-code ${args[0]} printed no JSON: ${p.stdout.slice(-800)}`);
  }
  return { wallMs: p.wallMs, json: Object.fromEntries(fields.map((f) => [f, json[f]])) as T };
}
/** The model, its flags and where it is prepared: every command of ours names them. */
const ourModel = (p: Pair) => ['--model', p.ours.model, ...p.ours.flags, '--cache-dir', CACHE_DIR, '--device', 'cpu'];
/** What keys the entry a build writes and an ask reads: the model, the ratio and the context's size. */
const ourEntry = (p: Pair, c: Context) => [...ourModel(p), '--ratio', String(RATIO), '--max-context-tokens', String(c.maxContextTokens)];
const ourFlags = (p: Pair, c: Context) => [...ourEntry(p, c), '--json'];
const ourBuild = (p: Pair, c: Context, scoring: 'exact' | 'local') =>
  ours<OurBuild>(['build', c.workspace, ...ourFlags(p, c), '--force', '--scoring', scoring], BUILD_FIELDS);
/** `ask --max-tokens 1` as a user runs it, the answer streaming to stdout, so its first bytes are the first token. */
async function ourFirstToken(p: Pair, c: Context): Promise<FirstToken> {
  const args = ['ask', c.workspace, QUESTION, ...ourEntry(p, c), '--max-tokens', '1'];
  const r = await runProcess(process.execPath, [CLI, ...args]);
  if (r.code !== 0) throw new Error(`kvzip-code ask exited ${r.code}: ${r.stderr.slice(-1500)}`);
  // The decode runs beside it check --json's fromCache; this one has no JSON, so its progress says it.
  if (r.stderr.includes('building the cache first') || r.firstOutMs === undefined)
    throw new Error(`ask (${p.id}, ${c.target}) did not answer from the saved cache: ${r.stderr.slice(-800)}`);
  return { wallMs: r.wallMs, firstOutMs: r.firstOutMs };
}
async function ourAsk(p: Pair, c: Context, maxTokens: number) {
  const r = await ours<OurAsk>(['ask', c.workspace, QUESTION, ...ourFlags(p, c), '--max-tokens', String(maxTokens)], ASK_FIELDS);
  if (!r.json.fromCache)
    throw new Error(`ask (${p.id}, ${c.target}) did not answer from the saved cache: the build and the ask differ in settings`);
  return r;
}

// ------------------------------------------------------------------------------------------------ llama.cpp
const llamaCommon = (p: Pair, c: Context) => [
  '-m',
  p.llamaModel,
  '-t',
  String(THREADS),
  '-c',
  String(c.nCtx),
  '-no-cnv',
  '--no-escape',
  '--no-display-prompt',
  '--temp',
  '0',
];
const cacheBin = (p: Pair, c: Context) => join(WORK, `llama-${p.id}-${c.target}.bin`);
/** Prefill of the context and its prompt cache saved (a fresh file), one token generated. */
async function llamaSave(p: Pair, c: Context) {
  rmSync(cacheBin(p, c), { force: true });
  const r = await llama.run('llama-completion', [...llamaCommon(p, c), '-f', c.ctxFile, '--prompt-cache', cacheBin(p, c), '-n', '1']);
  return { wallMs: r.wallMs, perf: completionPerf(r.stderr) };
}
/** The prompt cache restored (read-only), the question prefilled, `n` tokens generated. */
async function llamaAnswer(p: Pair, c: Context, n: number) {
  const r = await llama.run('llama-completion', [
    ...llamaCommon(p, c),
    '-f',
    c.askFile,
    '--prompt-cache',
    cacheBin(p, c),
    '--prompt-cache-ro',
    '-n',
    String(n),
    '--ignore-eos',
  ]);
  return { wallMs: r.wallMs, firstOutMs: r.firstOutMs, perf: completionPerf(r.stderr) };
}
async function llamaPrefill(p: Pair, tokens: number): Promise<BenchRow[]> {
  const r = await llama.run('llama-bench', [
    '-m',
    p.llamaModel,
    '-p',
    String(tokens),
    '-n',
    '0',
    '-fa',
    '0,1',
    '-t',
    String(THREADS),
    '-r',
    String(REPEATS),
    '-o',
    'json',
  ]);
  return JSON.parse(r.stdout) as BenchRow[];
}

// ------------------------------------------------------------------------------------------------ measuring
interface Timed<T> {
  wallMs: number;
  json: T;
}
interface LlamaRun {
  wallMs: number;
  firstOutMs?: number;
  perf: CompletionPerf;
}
/** A new process's first answer token: spawn to its first bytes on stdout, and to its exit. */
interface FirstToken {
  wallMs: number;
  firstOutMs: number;
}
interface PairResult {
  pair: PairId;
  label: string;
  ourModel: string;
  llamaModel: string;
  builds: { exact: Timed<OurBuild>[]; local: Timed<OurBuild>[]; llama: LlamaRun[] };
  restart: { ours: FirstToken[]; llama: FirstToken[] };
  decode: { target: number; tokens: number; ours: Timed<OurAsk>[]; llama: LlamaRun[] }[];
  prefill: { tokens: number; llama: BenchRow[] };
}

/** The 1-minute load average at each round's start: other jobs on the machine slow both sides, unequally. */
const loads: number[] = [];
const startRound = (what: string) => {
  loads.push(loadavg()[0]!);
  log(`${what} (load ${loads.at(-1)!.toFixed(1)})`);
};

const contexts: Context[] = [];
for (const target of [MAIN, ...(LONG ? [LONG] : [])]) contexts.push(await makeContext(target));
const main = contexts[0]!;
const results: PairResult[] = [];
const startedAt = new Date().toISOString();

for (const p of PAIRS) {
  log(`${p.label}: warm-up (untimed): prepared weights, page cache`);
  await ours(['generate', ...ourModel(p), '--prompt-ids', '1', '--max-tokens', '1', '--json'], []);
  await llama.run('llama-completion', [
    '-m',
    p.llamaModel,
    '-t',
    String(THREADS),
    '-c',
    '256',
    '-no-cnv',
    '--no-display-prompt',
    '-p',
    'hello',
    '-n',
    '1',
  ]);
  const r: PairResult = {
    pair: p.id,
    label: p.label,
    ourModel: relative(ROOT, p.ours.model).startsWith('..') ? p.ours.model : relative(ROOT, p.ours.model),
    llamaModel: p.llamaModel,
    builds: { exact: [], local: [], llama: [] },
    restart: { ours: [], llama: [] },
    decode: [],
    prefill: { tokens: main.tokens, llama: [] },
  };
  // Saved after every phase: a run stopped midway keeps what it measured.
  results.push(r);
  for (let k = 0; k < REPEATS; k++) {
    startRound(`${p.id} ${main.target}: builds, round ${k + 1}/${REPEATS}`);
    r.builds.local.push(await ourBuild(p, main, 'local'));
    r.builds.llama.push(await llamaSave(p, main));
    // Exact last: the asks below answer from its entry.
    r.builds.exact.push(await ourBuild(p, main, 'exact'));
    const last = r.builds.exact.at(-1)!.json;
    if (last.contextTokens !== main.tokens)
      throw new Error(`our build prefilled ${last.contextTokens} tokens, the bench's sequence has ${main.tokens}: the context differs`);
    save(false);
  }
  for (const c of contexts) {
    if (c !== main) {
      log(`${p.id} ${c.target}: build and prompt cache (untimed setup)`);
      await ourBuild(p, c, 'exact');
      await llamaSave(p, c);
    }
    const d = { target: c.target, tokens: c.tokens, ours: [] as Timed<OurAsk>[], llama: [] as LlamaRun[] };
    r.decode.push(d);
    for (let k = 0; k < REPEATS; k++) {
      startRound(`${p.id} ${c.target}: restart and decode, round ${k + 1}/${REPEATS}`);
      if (c === main) {
        r.restart.ours.push(await ourFirstToken(p, c));
        const them = await llamaAnswer(p, c, 1);
        if (them.firstOutMs === undefined) throw new Error(`llama-completion printed no token (${p.id}, ${c.target})`);
        r.restart.llama.push({ wallMs: them.wallMs, firstOutMs: them.firstOutMs });
      }
      d.ours.push(await ourAsk(p, c, ANSWER_TOKENS));
      d.llama.push(await llamaAnswer(p, c, ANSWER_TOKENS));
      save(false);
    }
  }
  log(`${p.id}: llama-bench prefill of ${main.tokens} tokens, flash attention off and on`);
  r.prefill.llama = await llamaPrefill(p, main.tokens);
  save(false);
}
save(true);
log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s → ${relative(ROOT, OUT)}`);

// ------------------------------------------------------------------------------------------------ tables
function save(done: boolean): void {
  const seconds = (performance.now() - t0) / 1000;
  const out = {
    mode: QUICK ? 'quick' : 'full',
    startedAt,
    totalSeconds: seconds,
    finished: done,
    loadAverage: loads.map((x) => round(x, 1)),
    machine: benchMachine(),
    llamaCpp: { version: llamaVersion, benchBuild: results[0]?.prefill.llama[0]?.build_commit, dir: llama.dir },
    setup: {
      command: `npm run bench -- --only peer -- ${argv.join(' ')}`.trim(),
      question: QUESTION,
      ratio: RATIO,
      answerTokens: ANSWER_TOKENS,
      repeats: REPEATS,
      threads: `llama.cpp -t ${THREADS}; ours onnxruntime's default (one per core: ${cpus().length})`,
      contexts: contexts.map(({ workspace: _w, ctxFile: _c, askFile: _a, ...c }) => c),
    },
    pairs: results,
    tables: tables(),
  };
  writeFileSync(OUT, `${JSON.stringify(out, null, 1)}\n`);
}

function tables(): Table[] {
  const s = (ms: number) => round(ms / 1000, 1);
  const med = <T>(xs: T[], f: (x: T) => number) => median(xs.map(f));
  /** Pairs whose measure is done: a run saves after every phase, so a pair may be partway. */
  const measured = (done: (r: PairResult) => boolean) => results.filter(done);
  /** The median, with every run beside it when there are several. */
  const withRuns = (xs: number[], f: (x: number) => string | number) =>
    `${f(median(xs))}${xs.length > 1 ? ` (${xs.map(f).join(', ')})` : ''}`;
  const ms1 = (v: number) => round(v, 1);
  const walls = (xs: { wallMs: number }[]) =>
    withRuns(
      xs.map((x) => x.wallMs),
      s,
    );
  const decode: Table = {
    title: 'Answer decode from a saved cache, new process (ms/token)',
    columns: ['pair', 'depth (tokens)', 'llama.cpp', 'us (r = 0.3)', 'us / llama.cpp', 'goal'],
    rows: results.flatMap((r) =>
      r.decode
        .filter((d) => d.ours.length && d.llama.length)
        .map((d) => {
          const them = med(d.llama, (x) => x.perf.evalMsPerToken);
          const us = med(d.ours, (x) => x.json.decodeMsPerToken);
          const answered = d.ours.map((x) => x.json.answerTokens);
          return [
            r.label,
            d.tokens,
            withRuns(
              d.llama.map((x) => x.perf.evalMsPerToken),
              ms1,
            ),
            `${withRuns(
              d.ours.map((x) => x.json.decodeMsPerToken),
              ms1,
            )}${Math.min(...answered) < ANSWER_TOKENS ? ` [${answered.join(', ')} tokens]` : ''}`,
            ratio(us, them),
            '≤ 1.0×',
          ];
        }),
    ),
    notes: [
      `llama.cpp: llama-completion restores its prompt cache of the context (--prompt-cache, --prompt-cache-ro), prefills the question, generates ${ANSWER_TOKENS} tokens (--ignore-eos), -t ${THREADS}; its "eval time" per token. ` +
        `Ours: \`ask --max-tokens ${ANSWER_TOKENS} --json\` from the entry the build saved (ratio ${RATIO}), its decodeMsPerToken. Medians of ${REPEATS} rounds, each side a fresh process, alternating.`,
    ],
  };
  const firsts = (xs: FirstToken[]) =>
    withRuns(
      xs.map((x) => x.firstOutMs),
      s,
    );
  const restart: Table = {
    title: `Restart → first answer token, ~${MAIN / 1024}K context (new process, spawn to the first token on stdout, s)`,
    columns: ['pair', 'llama.cpp (prompt cache restore)', 'us', 'us / llama.cpp', 'to exit: llama.cpp', 'to exit: us', 'goal'],
    rows: measured((r) => r.restart.ours.length > 0).map((r) => [
      r.label,
      firsts(r.restart.llama),
      firsts(r.restart.ours),
      ratio(
        med(r.restart.ours, (x) => x.firstOutMs),
        med(r.restart.llama, (x) => x.firstOutMs),
      ),
      walls(r.restart.llama),
      walls(r.restart.ours),
      '≤ 1.0× and ≤ 1.5 s',
    ]),
    notes: [
      "llama.cpp: `llama-completion -f context+question --prompt-cache CTX.bin --prompt-cache-ro -n 1 -no-cnv --no-display-prompt`; ours: `ask --max-tokens 1`, the answer streaming to stdout. Both from a file saved by an earlier process; the time to the first bytes each prints on stdout, the answer's first token.",
      "To exit, ours also checks whether the workspace changed since the build and finds the answer's sources (after the answer, as the extension shows them).",
    ],
  };
  const build: Table = {
    title: `Build against llama.cpp's prefill + prompt-cache save, ~${MAIN / 1024}K context (wall, s)`,
    columns: ['pair', 'llama.cpp', 'us, exact', 'us / llama.cpp', 'us, local', 'us / llama.cpp', 'goal'],
    rows: measured((r) => r.builds.exact.length > 0).map((r) => {
      const them = med(r.builds.llama, (x) => x.wallMs);
      const exact = med(r.builds.exact, (x) => x.wallMs);
      const local = med(r.builds.local, (x) => x.wallMs);
      return [
        r.label,
        walls(r.builds.llama),
        walls(r.builds.exact),
        ratio(exact, them),
        walls(r.builds.local),
        ratio(local, them),
        '≤ 2.0× exact, ≤ 1.5× local',
      ];
    }),
    notes: [
      'llama.cpp: `llama-completion -f context --prompt-cache NEW.bin -n 1 -no-cnv` (the file removed before each run); ours: `build --force --json`, `--scoring exact` and `--scoring local`.',
    ],
  };
  const phases = ['prefill', 'score', 'compact', 'write'] as const;
  const overhead: Table = {
    title: 'Build time not in prefill, scoring or writing the entry',
    columns: [
      'pair',
      'scoring',
      'build wall (s)',
      'prefill + score + compact + write (s)',
      'the rest',
      'the rest, largest phases (s)',
      'goal',
    ],
    rows: measured((r) => r.builds.exact.length > 0).flatMap((r) =>
      (['exact', 'local'] as const).map((scoring) => {
        const b = r.builds[scoring];
        const inPhases = (x: Timed<OurBuild>) => phases.reduce((a, k) => a + (x.json.timings[k] ?? 0), 0);
        const wall = med(b, (x) => x.wallMs);
        const share = med(b, (x) => 1 - inPhases(x) / x.wallMs);
        const mid = [...b].sort((x, y) => x.wallMs - y.wallMs)[(b.length - 1) >> 1]!;
        const others = Object.entries(mid.json.timings)
          .filter(([k]) => !(phases as readonly string[]).includes(k))
          .sort((x, y) => y[1] - x[1])
          .slice(0, 3)
          .map(([k, v]) => `${k} ${s(v)}`);
        const untimed = mid.wallMs - Object.values(mid.json.timings).reduce((a, v) => a + v, 0);
        return [
          r.label,
          scoring,
          s(wall),
          s(med(b, inPhases)),
          `${round(share * 100, 1)}%`,
          [...others, `untimed ${s(untimed)}`].join(', '),
          '≤ 5%',
        ];
      }),
    ),
    notes: [
      "Phases from the build's `timings` (src/core/timings.ts); the rest is the process's wall time outside them: model open, session creation, the weights check, reading the workspace, and Node's start and exit (\"untimed\").",
    ],
  };
  const prefill: Table = {
    title: `Prefill tok/s, ~${MAIN / 1024}K context`,
    columns: ['pair', 'tokens', 'llama.cpp, flash attention off / on', 'us (exact builds)', 'us / llama.cpp (best)', 'goal'],
    rows: measured((r) => r.prefill.llama.length > 0).map((r) => {
      const at = (fa: number) => r.prefill.llama.find((x) => Number(x.flash_attn) === fa)?.avg_ts ?? NaN;
      const best = Math.max(at(0), at(1));
      const us = med(r.builds.exact, (x) => x.json.contextTokens / (x.json.timings.prefill! / 1000));
      return [r.label, r.prefill.tokens, `${round(at(0), 1)} / ${round(at(1), 1)}`, round(us, 1), `${round(us / best)}×`, '≥ 1.0×'];
    }),
    notes: [
      `llama.cpp: \`llama-bench -p TOKENS -n 0 -fa 0,1 -t ${THREADS} -r ${REPEATS} -o json\` (its mean per setting); ours: the build's prefill phase (contextTokens / timings.prefill), median of the exact builds. Higher is better here.`,
    ],
  };
  const tokens: Table = {
    title: 'The same tokens on both sides',
    columns: ['context', '--max-context-tokens', 'ours', 'llama.cpp', 'with the question: ours', 'llama.cpp', 'our ids decode to the text'],
    rows: contexts.map((c) => [
      `~${c.target / 1024}K`,
      c.maxContextTokens,
      c.tokens,
      c.llamaTokens,
      c.withQuestion,
      c.llamaWithQuestion,
      c.decodesToText ? 'yes' : 'no',
    ]),
    notes: [
      "Our sequence (chat prefix, system text, the workspace's files as our context builder renders them) written as text; llama.cpp tokenizes it with special tokens parsed (llama-tokenize, as llama-completion does). Files that spell a control token are left out of the workspace.",
      `llama.cpp ${llamaVersion}. Load average (1 min) at the rounds' starts: ${loads.length ? `${round(Math.min(...loads), 1)}–${round(Math.max(...loads), 1)}` : 'none'} on ${cpus().length} cores.`,
    ],
  };
  return [decode, restart, build, overhead, prefill, tokens];
}
