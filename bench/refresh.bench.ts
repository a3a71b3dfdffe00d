// Refresh against a full rebuild, in one run (issue "Workspace context", bar 4).
//
// Cost: a ~8K-token workspace of real TypeScript (this repository's own sources) on the random
// Qwen2.5-0.5B-shaped model, CPU fp32. Build it, edit the last file in the order, refresh, and force a full
// rebuild of the edited workspace: the refresh's share of the rebuild's time is the figure.
//
// Quality: stories260K workspaces (three files of one sampled story each, the last one then edited). Three caches
// of the edited workspace answer the same probes: the full cache (ratio 1, exact), a fresh build at 0.3, and the
// refresh at 0.3 of the cache built before the edit. Greedy-continuation agreement with the full cache over 64
// tokens, for the fresh build and for the refresh.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../src/engine/engine.ts';
import type { CacheSettings } from '../src/engine/protocol.ts';
import { generate } from '../src/runtime/generate.ts';
import { ensureRandomQwen, RESULTS_DIR, BENCH_DIR } from './randomQwen.ts';
import { codeWorkspace } from './codeWorkspace.ts';

const STORIES = join(BENCH_DIR, '..', '..', 'shared', 'models', 'stories260K');
const log = (s: string) => console.error(s);
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

function settings(workspace: string, model: string, cacheDir: string, ratio: number): CacheSettings {
  return { workspace, model, cacheDir, device: 'cpu', ratio, level: 'pair' };
}

async function cost(engine: Engine): Promise<Record<string, unknown>> {
  const { dir: model } = ensureRandomQwen(log);
  const root = mkdtempSync(join(tmpdir(), 'kvzip-refresh-'));
  const ws = join(root, 'ws');
  const cache = join(root, 'cache');
  const m = await engine.model({ model, device: 'cpu', cacheDir: cache });
  const files = codeWorkspace(ws, (t) => m.tokenizer.encode(t), 7600);
  const s = settings(ws, model, cache, 0.3);
  log(`cost: ${files.length} files`);
  const t0 = performance.now();
  const first = await engine.build(s);
  const firstMs = performance.now() - t0;
  // Edit the last file in the order (the newest): what a developer editing one file does.
  const last = first.context.files.at(-1)!.path;
  writeFileSync(join(ws, last), readFileSync(join(ws, last), 'utf8') + '\n// edited: one more line at the end of the file\n');
  const t1 = performance.now();
  const refreshed = await engine.build(s);
  const refreshMs = performance.now() - t1;
  const t2 = performance.now();
  const rebuilt = await engine.build({ ...s, force: true });
  const rebuildMs = performance.now() - t2;
  rmSync(root, { recursive: true, force: true });
  return {
    workspaceTokens: rebuilt.contextTokens,
    files: files.length,
    editedFile: last,
    firstBuildMs: round(firstMs, 0),
    refreshMs: round(refreshMs, 0),
    rebuildMs: round(rebuildMs, 0),
    refreshPrefillTokens: refreshed.prefillTokens,
    rebuildPrefillTokens: rebuilt.prefillTokens,
    refreshOverRebuild: round(refreshMs / rebuildMs),
  };
}

async function quality(engine: Engine): Promise<Record<string, unknown>> {
  const root = mkdtempSync(join(tmpdir(), 'kvzip-refresh-q-'));
  const m = await engine.model({ model: STORIES, device: 'cpu', cacheDir: join(root, 'prep') });
  const tok = m.tokenizer;
  const dense = await m.dense();
  const openings = [
    'Once upon a time, there was a little',
    'One day, a boy named Tim',
    'Lily and her mom went to the',
    'There was a big red',
    'The sun was shining and',
    'Sam had a small',
  ];
  const rows: { fresh: number; refreshed: number; freshFirst: number; refreshedFirst: number }[] = [];
  for (const [i, opening] of openings.entries()) {
    // A story sampled from the model, cut into three files; the last file is then extended.
    const story = await generate(
      dense,
      tok.encodePrompt(opening),
      dense.empty(),
      { maxTokens: 300, temperature: 0.8, seed: 100 + i },
      { decode: (x) => tok.decode(x) },
    );
    const text = opening + story.text;
    const sentences = text.split(/(?<=[.!?])\s+/);
    const third = Math.ceil(sentences.length / 3);
    const ws = join(root, `ws${i}`);
    mkdirSync(ws);
    const parts = [0, 1, 2].map((k) => sentences.slice(k * third, (k + 1) * third).join(' '));
    parts.forEach((p, k) => {
      writeFileSync(join(ws, `${k}.txt`), `${p}\n`);
      utimesSync(join(ws, `${k}.txt`), 1e9 + k, 1e9 + k);
    });
    const before = settings(ws, STORIES, join(root, `c${i}-refresh`), 0.3);
    await engine.build(before);
    writeFileSync(join(ws, '2.txt'), `${parts[2]} Then they went home and had a big dinner together.\n`);
    const refreshed = await engine.build(before);
    const fresh = await engine.build(settings(ws, STORIES, join(root, `c${i}-fresh`), 0.3));
    const full = await engine.build(settings(ws, STORIES, join(root, `c${i}-full`), 1));
    if (refreshed.prefillTokens >= refreshed.contextTokens) throw new Error('the edit did not refresh');
    // Probes that point back into the context: the first words of each file's first sentence.
    const probes = parts.map((p) => tok.encode(`\n${p.split(' ').slice(0, 6).join(' ')}`));
    const answer = async (b: { entry: string; contextTokens: number }, probe: number[]) => {
      const session = await m.openCompressed(b.entry, b.contextTokens);
      const room = 512 - b.contextTokens - probe.length;
      return (await generate(session, probe, session.empty(), { maxTokens: Math.min(64, room) }, { decode: (x) => tok.decode(x) })).ids;
    };
    for (const probe of probes) {
      const ref = await answer(full, probe);
      const agree = (ids: number[]) => {
        const match = ref.filter((t, k) => ids[k] === t).length / ref.length;
        const first = ref.findIndex((t, k) => ids[k] !== t);
        return { match, first: first < 0 ? ref.length : first };
      };
      const f = agree(await answer(fresh, probe));
      const r = agree(await answer(refreshed, probe));
      rows.push({ fresh: f.match, refreshed: r.match, freshFirst: f.first, refreshedFirst: r.first });
    }
    log(`quality: workspace ${i + 1}/${openings.length}`);
  }
  rmSync(root, { recursive: true, force: true });
  const mean = (k: keyof (typeof rows)[0]) => rows.reduce((a, r) => a + r[k], 0) / rows.length;
  return {
    workspaces: openings.length,
    probes: rows.length,
    freshAgreement: round(mean('fresh')),
    refreshedAgreement: round(mean('refreshed')),
    pointsBehindFresh: round(100 * (mean('fresh') - mean('refreshed')), 1),
    freshFirstDivergence: round(mean('freshFirst'), 1),
    refreshedFirstDivergence: round(mean('refreshedFirst'), 1),
  };
}

async function main(): Promise<void> {
  const engine = new Engine();
  const q = await quality(engine);
  log(`quality: ${JSON.stringify(q)}`);
  const c = await cost(engine);
  log(`cost: ${JSON.stringify(c)}`);
  const result = {
    machine: { cores: cpus().length, cpu: cpus()[0]?.model },
    date: new Date().toISOString(),
    cost: c,
    quality: q,
    tables: [
      {
        title: 'Refresh after editing the last file vs a full rebuild (random Qwen2.5-0.5B shapes, CPU fp32, ratio 0.3)',
        columns: ['workspace tokens', 'refresh prefill tokens', 'refresh ms', 'full rebuild ms', 'refresh / rebuild'],
        rows: [[c.workspaceTokens, c.refreshPrefillTokens, c.refreshMs, c.rebuildMs, c.refreshOverRebuild]],
      },
      {
        title:
          'Answers from a refreshed cache vs a fresh build (stories260K, ratio 0.3): greedy agreement with the full cache over 64 tokens',
        columns: ['probes', 'fresh build', 'refreshed', 'points behind', 'first divergence (fresh / refreshed)'],
        rows: [
          [
            q.probes,
            q.freshAgreement,
            q.refreshedAgreement,
            q.pointsBehindFresh,
            `${q.freshFirstDivergence} / ${q.refreshedFirstDivergence}`,
          ],
        ],
      },
    ],
  };
  writeFileSync(join(RESULTS_DIR, 'refresh.json'), JSON.stringify(result, null, 1) + '\n');
  console.log(JSON.stringify({ cost: c, quality: q }, null, 1));
}

await main();
