// The markdown tables of bench/results/engine.json, derived from its data alone, so a change of wording or
// columns never needs the 20-minute benchmark again:
//   node --import tsx bench/engineTables.ts     rewrites engine.json's `tables` from its own numbers.
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
export interface EngineResults {
  settings: { densePoints?: number[]; prefillChunk: number; scoreChunk: number };
  dense: { points: DensePoint[] };
  kvzip?: KvRun[];
  cli?: CliRow[];
  cacheLoad?: LoadRow[];
  denseSessionCreateMs?: number;
  tables?: Table[];
}

export function engineTables(r: EngineResults): Table[] {
  const tables: Table[] = [];
  const densePoints = r.settings.densePoints ?? [1024, 4096];
  tables.push({
    title: `Dense engine (issue 2): chunked prefill (chunk ${r.settings.prefillChunk}) and decode, Qwen2.5-0.5B shapes, fp32 CPU`,
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
    title: `KVzip cost (issue 15): scoring vs prefill, m = ${r.settings.scoreChunk}, exact and local levels`,
    columns: [
      'context',
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
    title:
      'KVzip decode by ratio (issue 3, bar 3): compressed sessions built from the same scores, measured interleaved; "dense" is the uncompressed path',
    columns: [
      'context',
      'ratio',
      'KV MiB (× full)',
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
          x.decodeMsPerToken,
          x.decodeMedianMs,
          round(x.bytesPerStep / 1024, 0),
          x.ttftMs,
        ]),
    ]),
  });
  const cli = (r.cli ?? []).filter((c) => c.contextTokens !== undefined);
  tables.push({
    title: 'Persisted cache through the CLI (issue 4, bar 3): full build vs ask in a new process, ratio 0.3',
    columns: [
      'context tokens',
      'build wall s',
      'ask TTFT s (new process)',
      'ask wall s',
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
      round(c.buildWallMs / c.askTtftMs, 1),
      `${c.askFromCache}, ${c.askPrefillTokens}`,
      mib(c.entryDiskBytes),
      mib(c.kvBytesFull),
      c.kvBinOverFull,
    ]),
    notes: [
      'Entry on disk: kv.bin + keep.bin + decode.onnx + manifest.json (weights.bin is a hard link to the prepared weights, not counted). Ask TTFT counts from the request reaching the engine: model load, cache session creation and the question.',
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
  tables.push({
    title:
      'Cache load time vs cache size: creating the compressed decode session (each session also reads the 1.9 GB weights.bin into its own memory)',
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
  const file = join(RESULTS_DIR, 'engine.json');
  const r = JSON.parse(readFileSync(file, 'utf8')) as EngineResults;
  r.tables = engineTables(r);
  writeFileSync(file, `${JSON.stringify(r, null, 1)}\n`);
  console.error(`rewrote the tables of ${file}`);
}
