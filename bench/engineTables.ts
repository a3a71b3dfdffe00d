// The markdown tables of bench/results/engine.json (and engine-<model>.json), derived from its data alone, so a
// change of wording or columns never needs the benchmark again:
//   node --import tsx bench/engineTables.ts [FILE]     rewrites the file's `tables` (engine.json's by default).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RESULTS_DIR } from './randomQwen.ts';

export interface Table {
  title: string;
  columns: string[];
  rows: (string | number)[][];
  notes?: string[];
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const mib = (b: number) => round(b / 1048576, 1);

interface DensePoint {
  context: number;
  prefillTokensPerSec: number;
  decodeMsPerToken: number;
  decodeMedianMs: number;
  bytesPerStep: number;
}
interface RatioRow {
  ratio: number;
  kvBytes: number;
  kvOverFull: number;
  decodeMsPerToken: number;
  decodeMedianMs: number;
  bytesPerStep: number;
  ttftMs: number;
  sessionCreateMs: number;
}
interface KvRun {
  context: number;
  scoreChunks?: number;
  scoreChunk?: number;
  prefillMs: number;
  scoreMs: number;
  scoreOverPrefill: number;
  scoreOverPrefillCpu?: number;
  /** The prefill the scoring ratios divide by: the mean of one before and one after the scoring. */
  scoringPrefillMs?: number;
  localScoreOverPrefill?: number;
  localScoreOverPrefillCpu?: number;
  localKeptOverlapR03?: number;
  fullKvBytes: number;
  fullKvFp16Bytes?: number;
  denseDecodeMsPerToken: number;
  denseDecodeMedianMs: number;
  denseBytesPerStep: number;
  rePrefillTtftMs: number;
  questionTokens: number;
  decodeR03OverR10: number;
  decodeFallsWithRatio: boolean;
  ttftSpeedupR03: number;
  ratios: RatioRow[];
}
interface CliRow {
  contextTokens?: number;
  targetTokens: number;
  skipped?: string;
  buildWallMs: number;
  askWallMs: number;
  askTtftMs: number;
  askFromCache: boolean;
  rePrefillWallMs?: number;
  askPrefillTokens: number;
  entryDiskBytes: number;
  kvBytesFull: number;
  kvBinOverFull: number;
  buildPeakRssBytes?: number;
  memoryEstimateBytes?: number;
}
interface LoadRow {
  source: string;
  kvBytes: number;
  sessionCreateMs: number;
}
interface WeightsRow {
  weights: string;
  preparedBytes: number;
  sameBytesAsDefault: boolean;
  prefillTokensPerSec: number;
  decodeMsPerToken: number;
  decodeMedianMs: number;
  sameGreedyTokens: boolean;
  answerTtftMs?: number;
  answerDecodeMedianMs?: number;
  answerSameGreedyTokens?: boolean;
}
export interface EngineResults {
  model?: { title?: string; preparedWeightsBytes?: number };
  settings: { densePoints?: number[]; prefillChunk: number; scoreChunk: number };
  dense: { points: DensePoint[] };
  kvzip?: KvRun[];
  cli?: CliRow[];
  cacheLoad?: LoadRow[];
  denseSessionCreateMs?: number;
  weights?: { context: number; ggufBytes: number; rows: WeightsRow[] };
  tables?: Table[];
}

export function engineTables(r: EngineResults): Table[] {
  const tables: Table[] = [];
  const densePoints = r.settings.densePoints ?? [1024, 4096];
  // engine.json from before the model's title was written is the random Qwen2.5-0.5B-shaped model's.
  const model = r.model?.title ?? 'Qwen2.5-0.5B shapes, fp32 CPU';
  tables.push({
    title: `Dense engine (issue 2): chunked prefill (chunk ${r.settings.prefillChunk}) and decode, ${model}`,
    columns: ['context', 'prefill tok/s', 'decode ms/token (mean)', 'decode ms/token (median)', 'MiB across the session per decode step'],
    rows: r.dense.points
      .filter((p) => densePoints.includes(p.context))
      .map((p) => [p.context, p.prefillTokensPerSec, p.decodeMsPerToken, p.decodeMedianMs, mib(p.bytesPerStep)]),
    notes: [
      'The dense path feeds the whole past KV in and fetches the whole present KV out every step; the compressed path (below) moves only the question/answer tail.',
    ],
  });
  const kr = r.kvzip ?? [];
  tables.push({
    title: `KVzip cost (issue 15): scoring vs prefill, m = ${r.settings.scoreChunk} capped to the window as the engine does, exact and local levels, ${model}`,
    columns: [
      'context',
      'chunks × m',
      'prefill s (beside the scoring)',
      'exact scoring s',
      'exact / prefill, wall (bar ≤ 1.5)',
      'same, CPU time',
      'local / prefill, wall (bar ≤ 1.5)',
      'same, CPU time',
      "exact's kept pairs local keeps, r=0.3",
      'decode r=0.3 / r=1.0 (median)',
      'decode falls with ratio',
      'TTFT: re-prefill / compressed r=0.3',
    ],
    rows: kr.map((k) => [
      k.context,
      k.scoreChunks === undefined ? '' : `${k.scoreChunks} × ${k.scoreChunk ?? r.settings.scoreChunk}`,
      round((k.scoringPrefillMs ?? k.prefillMs) / 1000, 1),
      round(k.scoreMs / 1000, 1),
      k.scoreOverPrefill,
      k.scoreOverPrefillCpu ?? '',
      k.localScoreOverPrefill ?? '',
      k.localScoreOverPrefillCpu ?? '',
      k.localKeptOverlapR03 === undefined ? '' : `${round(100 * k.localKeptOverlapR03, 1)}%`,
      k.decodeR03OverR10,
      k.decodeFallsWithRatio ? 'yes' : 'no',
      `${k.ttftSpeedupR03}×`,
    ]),
  });
  tables.push({
    title: `KVzip decode by ratio (issue 3, bar 3): compressed sessions built from the same scores, measured interleaved; "dense" is the uncompressed path; ${model}`,
    columns: [
      'context',
      'ratio',
      'KV MiB (× full)',
      'entry KV / full KV in fp16',
      'decode ms/token mean',
      'median',
      'KiB across the session per step',
      `TTFT ms (${kr[0]?.questionTokens ?? 20}-token question)`,
    ],
    rows: kr.flatMap((k) => [
      [
        k.context,
        'dense',
        `${mib(k.fullKvBytes)} (1.00)`,
        k.fullKvFp16Bytes === undefined ? '' : `${mib(k.fullKvFp16Bytes)} MiB in fp16`,
        k.denseDecodeMsPerToken,
        k.denseDecodeMedianMs,
        round(k.denseBytesPerStep / 1024, 0),
        `${round(k.rePrefillTtftMs)} (prefill again)`,
      ],
      ...[...k.ratios]
        .sort((a, b) => a.ratio - b.ratio)
        .map((x) => [
          k.context,
          x.ratio,
          `${mib(x.kvBytes)} (${x.kvOverFull.toFixed(2)})`,
          k.fullKvFp16Bytes === undefined ? '' : round(x.kvBytes / k.fullKvFp16Bytes, 3),
          x.decodeMsPerToken,
          x.decodeMedianMs,
          round(x.bytesPerStep / 1024, 0),
          x.ttftMs,
        ]),
    ]),
  });
  const cli = (r.cli ?? []).filter((c) => c.contextTokens !== undefined);
  tables.push({
    title: `Persisted cache through the CLI (issue 4, bar 3): full build vs ask in a new process vs a new process prefilling again, ratio 0.3, ${model}`,
    columns: [
      'context tokens',
      'build wall s',
      'ask TTFT s (new process)',
      'ask wall s',
      'prefilling again: wall s (new process)',
      'prefilling again / ask, wall',
      'build / ask TTFT',
      'fromCache, prefillTokens',
      'entry on disk MiB',
      'full KV MiB',
      'kv.bin / full KV',
    ],
    rows: cli.map((c) => [
      c.contextTokens!,
      round(c.buildWallMs / 1000, 1),
      round(c.askTtftMs / 1000, 2),
      round(c.askWallMs / 1000, 1),
      c.rePrefillWallMs === undefined ? '' : round(c.rePrefillWallMs / 1000, 1),
      c.rePrefillWallMs === undefined ? '' : `${round(c.rePrefillWallMs / c.askWallMs, 1)}×`,
      round(c.buildWallMs / c.askTtftMs, 1),
      `${c.askFromCache}, ${c.askPrefillTokens}`,
      mib(c.entryDiskBytes),
      mib(c.kvBytesFull),
      c.kvBinOverFull,
    ]),
    notes: [
      'Entry on disk: kv.bin + keep.bin + decode.onnx + manifest.json (weights.bin is a hard link to the prepared weights, not counted). Ask TTFT counts from the request reaching the engine: model load, cache session creation and the question.',
      ...(cli.some((c) => c.rePrefillWallMs !== undefined)
        ? [
            "Each ask is a new process answering one token; the median of three is shown. Prefilling again: `kvzip-code generate` in a new process with as many prompt tokens as the context plus the question, one token; its wall and the ask's both count the process start and the model load.",
          ]
        : []),
      ...(r.cli ?? []).filter((c) => c.skipped).map((c) => `~${c.targetTokens} tokens: skipped (${c.skipped}).`),
    ],
  });
  const measured = cli.filter((c) => c.buildPeakRssBytes && c.memoryEstimateBytes);
  if (measured.length)
    tables.push({
      title: 'Memory estimate (issue 7, bar 4): the estimate the engine checks before prefilling vs the build process’s peak resident size',
      columns: ['context tokens', 'estimate MiB', 'peak RSS MiB', 'estimate / peak (bar: within 15%)'],
      rows: measured.map((c) => [
        c.contextTokens!,
        mib(c.memoryEstimateBytes!),
        mib(c.buildPeakRssBytes!),
        round(c.memoryEstimateBytes! / c.buildPeakRssBytes!, 3),
      ]),
      notes: [
        'Peak RSS is the engine process’s maxRSS after a full build in a fresh process (prefill, KVzip scoring, compaction, commit).',
      ],
    });
  const w = r.weights;
  if (w) {
    const fp32 = w.rows.find((x) => x.weights.includes('fp32'));
    const faster = (ms: number | undefined, fp32Ms: number | undefined) =>
      ms === undefined || fp32Ms === undefined ? '' : `${round(fp32Ms / ms, 2)}×`;
    tables.push({
      title: `A GGUF's weights as the engine keeps them, against --int4 and fp32 (issue 29): ${w.context}-token context, interleaved across the three, ${model}`,
      columns: [
        'weights',
        'prepared MiB (× GGUF)',
        'same bytes as the default',
        'prefill tok/s',
        'dense decode ms/token (median)',
        'fp32 / this',
        'answer from r=0.3: TTFT ms',
        'decode ms/token (median)',
        'fp32 / this',
        'same greedy tokens (dense, answer)',
      ],
      rows: w.rows.map((x) => [
        x.weights,
        `${mib(x.preparedBytes)} (${round(x.preparedBytes / w.ggufBytes, 2)}×)`,
        x.sameBytesAsDefault ? 'yes' : 'no',
        x.prefillTokensPerSec,
        x.decodeMedianMs,
        faster(x.decodeMedianMs, fp32?.decodeMedianMs),
        x.answerTtftMs ?? '',
        x.answerDecodeMedianMs ?? '',
        faster(x.answerDecodeMedianMs, fp32?.answerDecodeMedianMs),
        `${x.sameGreedyTokens ? 'yes' : 'no'}, ${x.answerSameGreedyTokens === undefined ? '' : x.answerSameGreedyTokens ? 'yes' : 'no'}`,
      ]),
      notes: [
        `Prefill in ${r.settings.prefillChunk}-token chunks and dense decoding (the whole KV fed in and fetched out each step) from each variant's own prefill; answering: the default's r = 0.3 entry baked into each variant's graph, opened as the engine opens an answering session, the question then decoding.`,
        "--int4 quantizes to int4 blocks the Linear weights (and the embedding table) a model holds as floats; a GGUF's blocks are kept as they are, whatever --int4 says, so on a GGUF whose Linear weights are all blocks it changes nothing.",
      ],
    });
  }
  tables.push({
    title: `Cache load time vs cache size: creating the compressed decode session (each session also reads the ${mib(r.model?.preparedWeightsBytes ?? 1.9e9)} MiB weights.bin into its own memory)`,
    columns: ['entry', 'kv.bin MiB', 'session create s'],
    rows: (r.cacheLoad ?? []).map((x) => [x.source, mib(x.kvBytes), round(x.sessionCreateMs / 1000, 2)]),
    notes:
      r.denseSessionCreateMs === undefined
        ? []
        : [`Dense session (weights only, no KV) for comparison: ${round(r.denseSessionCreateMs / 1000, 2)} s.`],
  });
  return tables;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2] ?? join(RESULTS_DIR, 'engine.json');
  const r = JSON.parse(readFileSync(file, 'utf8')) as EngineResults;
  r.tables = engineTables(r);
  writeFileSync(file, `${JSON.stringify(r, null, 1)}\n`);
  console.error(`rewrote the tables of ${file}`);
}
