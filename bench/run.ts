// `npm run bench`: runs each benchmark file in its own child process, one after another (they all want the
// machine's cores to themselves, and a crash or out-of-memory in one must not lose the others), then
// regenerates bench/results/summary.md from every bench/results/*.json.
//
//   node --import tsx bench/run.ts [--only NAME] [--summary-only] [-- ARGS passed to each benchmark]
//
// NAME is a file's base name without extension or ".bench" (engine, quality, context, convert, refresh, ...).
//
// Summary convention: a results JSON may hold `tables: [{ title, columns, rows, notes? }]`; each is rendered
// as a markdown table. Files without `tables` get their top-level numbers and strings listed.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, RESULTS_DIR } from './randomQwen.ts';

// The named order first, then any other bench/*.bench.ts (so a new benchmark joins without editing this file).
const ORDER = ['engine.bench.ts', 'quality.ts', 'context.bench.ts', 'convert.bench.ts'];
const BENCHES = [
  ...ORDER,
  ...readdirSync(BENCH_DIR)
    .filter((f) => f.endsWith('.bench.ts') && !ORDER.includes(f))
    .sort(),
];
const shortName = (f: string) => f.replace(/\.ts$/, '').replace(/\.bench$/, '');

const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
const own = sep < 0 ? argv : argv.slice(0, sep);
const passThrough = sep < 0 ? [] : argv.slice(sep + 1);
const onlyAt = own.indexOf('--only');
const only = onlyAt >= 0 ? own[onlyAt + 1] : undefined;
const summaryOnly = own.includes('--summary-only');
if (onlyAt >= 0 && !only) throw new Error(`--only needs a NAME (${BENCHES.map(shortName).join(', ')})`);
if (only && !BENCHES.some((f) => shortName(f) === only)) {
  console.error(`bench: unknown --only ${only}; known: ${BENCHES.map(shortName).join(', ')}`);
  process.exit(2);
}

function runOne(file: string): Promise<{ code: number; seconds: number }> {
  const start = performance.now();
  console.error(`\n=== bench ${shortName(file)} (${file}) ===`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(BENCH_DIR, file), ...passThrough], { stdio: 'inherit' });
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), seconds: (performance.now() - start) / 1000 }));
  });
}

const outcomes: { name: string; code: number; seconds: number }[] = [];
if (!summaryOnly) {
  for (const file of BENCHES) {
    if (only ? shortName(file) !== only : !existsSync(join(BENCH_DIR, file))) continue;
    if (!existsSync(join(BENCH_DIR, file))) {
      console.error(`bench: ${file} does not exist`);
      process.exit(2);
    }
    const r = await runOne(file);
    outcomes.push({ name: shortName(file), ...r });
    console.error(`=== ${shortName(file)}: ${r.code === 0 ? 'ok' : `FAILED (exit ${r.code})`} in ${r.seconds.toFixed(0)} s ===`);
  }
}

// ------------------------------------------------------------------------------------------- summary
interface Table {
  title: string;
  columns: string[];
  rows: unknown[][];
  notes?: string[];
}
const cell = (v: unknown) => (v === null || v === undefined ? '' : String(v).replace(/\|/g, '\\|').replace(/\n/g, ' '));
function renderTable(t: Table): string {
  const lines = [`### ${t.title}`, '', `| ${t.columns.map(cell).join(' | ')} |`, `| ${t.columns.map(() => '---').join(' | ')} |`];
  for (const r of t.rows) lines.push(`| ${r.map(cell).join(' | ')} |`);
  for (const n of t.notes ?? []) lines.push('', n);
  return lines.join('\n');
}
function renderFile(name: string, data: Record<string, unknown>): string {
  const parts = [`## ${name}`];
  // Result files differ in how they describe the machine: print what each one has.
  const m = data.machine as
    { cpuModel?: string; cpu?: string; cores?: number; memoryGiB?: number; node?: string; onnxruntime?: string } | undefined;
  if (m) {
    const bits = [
      m.cpuModel ?? m.cpu,
      m.cores && `${m.cores} cores`,
      m.memoryGiB && `${m.memoryGiB} GiB`,
      m.node && `Node ${m.node}`,
      m.onnxruntime && `onnxruntime-node ${m.onnxruntime}`,
    ];
    parts.push(`Machine: ${bits.filter(Boolean).join(', ')}.`);
  }
  const when = [
    data.startedAt && `run ${String(data.startedAt)}`,
    typeof data.totalSeconds === 'number' && `${Math.round(data.totalSeconds)} s`,
  ].filter(Boolean);
  if (when.length) parts.push(`(${when.join(', ')})`);
  const tables = data.tables as Table[] | undefined;
  if (Array.isArray(tables) && tables.length) parts.push(...tables.map(renderTable));
  else {
    const flat = Object.entries(data).filter(([, v]) => typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean');
    parts.push(['| field | value |', '| --- | --- |', ...flat.map(([k, v]) => `| ${cell(k)} | ${cell(v)} |`)].join('\n'));
  }
  return parts.join('\n\n');
}

const files = existsSync(RESULTS_DIR)
  ? readdirSync(RESULTS_DIR)
      .filter((f) => f.endsWith('.json'))
      .sort()
  : [];
// engine first: it is the headline table; the rest in name order.
files.sort((a, b) => (a === 'engine.json' ? -1 : b === 'engine.json' ? 1 : a.localeCompare(b)));
const sections: string[] = [];
for (const f of files) {
  try {
    sections.push(renderFile(f.replace(/\.json$/, ''), JSON.parse(readFileSync(join(RESULTS_DIR, f), 'utf8')) as Record<string, unknown>));
  } catch (e) {
    sections.push(`## ${f}\n\nunreadable: ${(e as Error).message}`);
  }
}
const summary = [
  '# Benchmark results',
  '',
  'Generated by `npm run bench` (bench/run.ts) from bench/results/*.json; do not edit by hand.',
  '',
  sections.join('\n\n'),
  '',
].join('\n');
writeFileSync(join(RESULTS_DIR, 'summary.md'), summary);
console.error(`\nbench: wrote ${join('bench', 'results', 'summary.md')} from ${files.length} result file(s)`);
const failed = outcomes.filter((o) => o.code !== 0);
if (failed.length) {
  console.error(`bench: failed: ${failed.map((o) => o.name).join(', ')}`);
  process.exit(1);
}
