// Answer sources (issue 28, item 2): the compressed decode's attention on the kept pairs, summed per file.
// - exact: on stories260K, the graph's per-file sums equal a float64 reference forward that attends to the same
//   kept pairs; WebGPU's form of the graph (context inputs, padded, one softmax), run on the CPU, gives the same;
// - the CLI: `ask --json` lists `sources`, a streamed answer names them on stderr;
// - ranking: SmolLM2-135M-Instruct, asked where a constant lives in a seven-file workspace, ranks the file that
//   defines it first (and not the largest or the last file of the context).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { openSession } from '../../src/runtime/session.ts';
import type { Fingerprint } from '../../src/context/types.ts';
import { sourceMap, answerSources } from '../../src/engine/sources.ts';
import { buildGraph } from '../../src/graph/transformer.ts';
import { KV_FILE, writeCompacted } from '../../src/kvzip/compact.ts';
import type { KeepSets } from '../../src/kvzip/select.ts';
import { ModelTokenizer } from '../../src/model/tokenizer.ts';
import { ropeFrequencies } from '../../src/model/rope.ts';
import { readContext } from '../../src/runtime/context.ts';
import { ForwardSession } from '../../src/runtime/decoder.ts';
import { mulberry32 } from '../../src/runtime/random.ts';
import { openModel } from '../../src/runtime/open.ts';
import { loadWeights, referenceForward } from '../support/reference.ts';
import { cli, cliJson, skipWithoutStories, STORIES, storyWorkspace } from '../support/cli.ts';
import { realModelOrSkip } from '../support/realModels.ts';

const tmp = mkdtempSync(join(tmpdir(), 'kvzip-sources-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface SourcesJson {
  answer: string;
  answerTokens: number;
  sources?: { path: string; share: number }[];
}

describe('answer sources on stories260K', { skip: skipWithoutStories }, () => {
  test("the graph's per-file attention equals a float64 reference over the kept pairs, baked or as WebGPU's context inputs", async () => {
    const tok = ModelTokenizer.load(STORIES);
    const story =
      'Once upon a time, there was a little cat named Tom. Tom liked to play with his red ball. One day, the ball rolled into the pond. His friend, a big dog named Max, jumped into the water and got the ball. Tom was very happy.';
    const ids = [1, ...tok.encode(story)];
    const prefixLen = 4;
    const n = ids.length - prefixLen;
    // Three "files" over the context, and two tokens in none (as a header between files would be).
    const third = Math.floor(n / 3);
    const fingerprint: Fingerprint = {
      version: 1,
      totalTokens: n,
      files: [
        { path: 'a.txt', hash: 'a', tokenStart: 0, tokenEnd: third },
        { path: 'b.txt', hash: 'b', tokenStart: third + 2, tokenEnd: 2 * third },
        { path: 'c.txt', hash: 'c', tokenStart: 2 * third, tokenEnd: n },
      ],
    };
    const question = tok.encode(' Tom and Max played with the ball');

    const m = openModel({ modelDir: STORIES, device: 'cpu', preparedRoot: join(tmp, 'prepared') });
    const { spec } = m;
    const dense = await m.dense();
    const full = await dense.prefill(ids, dense.empty(), 64);
    // Half of each head's context pairs, a different half per head (seeded).
    const random = mulberry32(7);
    const keep: KeepSets = Array.from({ length: spec.numLayers }, () =>
      Array.from({ length: spec.numKvHeads }, () => Int32Array.from({ length: n }, (_, i) => i).filter(() => random() < 0.5)),
    );
    const kept = (l: number, h: number) =>
      new Set([...Array.from({ length: prefixLen }, (_, i) => i), ...Array.from(keep[l][h], (i) => i + prefixLen)]);
    const keptSets = keep.map((layer, l) => layer.map((_, h) => kept(l, h)));

    // The reference: the whole sequence in float64; the question's rows see only the kept context pairs.
    const bucketOf = (t: number) => {
      const c = t - prefixLen;
      const f = fingerprint.files.findIndex((x) => c >= x.tokenStart && c < x.tokenEnd);
      return f < 0 ? fingerprint.files.length : f;
    };
    const seq = [...ids, ...question];
    const last = seq.length - 1;
    const want = new Float64Array(fingerprint.files.length + 1);
    const G = spec.numHeads / spec.numKvHeads;
    referenceForward(
      spec,
      ropeFrequencies(spec),
      loadWeights(STORIES, spec),
      seq,
      undefined,
      (s, t, l, h) => s < ids.length || t >= ids.length || keptSets[l][h].has(t),
      (l, head, s, probs) => {
        if (s !== last) return;
        const h = Math.floor(head / G);
        for (let t = 0; t < ids.length; t++) if (keptSets[l][h].has(t)) want[bucketOf(t)] += probs[t];
      },
    );

    // fp32 storage, so the graph attends to the very KV the prefill made (the engine stores fp16).
    const gen32 = join(tmp, 'gen32');
    mkdirSync(gen32);
    const layout32 = writeCompacted(join(gen32, KV_FILE), full.present, prefixLen, keep, spec.headDim, 'fp32');
    const map = sourceMap(gen32, layout32.baked, fingerprint, prefixLen, ids.length);
    const baked32 = await m.compressed(gen32, layout32.baked, ids.length, { sources: map, bakedDtype: 'fp32' });
    const got = (await baked32.forward(question, baked32.empty())).sources!;
    assert.equal(got.length, want.length);
    const total = want.reduce((a, b) => a + b, 0);
    assert.ok(total > 1 && total < spec.numLayers * spec.numHeads, `context mass ${total}`);
    for (let f = 0; f < want.length; f++) assert.ok(Math.abs(got[f] - want[f]) < 1e-4 * total, `bucket ${f}: ${got[f]} vs ${want[f]}`);
    await baked32.close();

    // As the engine stores it (fp16): the baked graph against WebGPU's form (context inputs padded per head, one
    // softmax with a −inf bias), run on the CPU; a question fed in two runs, so the one-token step is checked too.
    const gen = join(tmp, 'gen16');
    mkdirSync(gen);
    const layout = writeCompacted(join(gen, KV_FILE), full.present, prefixLen, keep, spec.headDim);
    const map16 = sourceMap(gen, layout.baked, fingerprint, prefixLen, ids.length);
    assert.deepEqual(map16, map);
    const baked = await m.compressed(gen, layout.baked, ids.length, { sources: map16 });
    const graph = buildGraph({
      spec,
      rope: ropeFrequencies(spec),
      dtype: 'fp32',
      weight: (w) => m.prepared.weight(w),
      layout: (w) => m.prepared.layout(w),
      fusedAttention: false,
    });
    m.linkWeights(gen);
    writeFileSync(join(gen, 'explicit.onnx'), graph);
    const { session } = await openSession(join(gen, 'explicit.onnx'), { device: 'cpu' }, () => join(gen, 'explicit.onnx'));
    const explicit = await new ForwardSession(session, spec, 'fp32').withContext(
      readContext(gen, layout.baked, spec, 'fp32', map16),
      ids.length,
    );
    for (const s of [baked, explicit]) {
      const a = await s.forward(question.slice(0, -1), s.empty());
      const b = await s.forward(question.slice(-1), a.present);
      (s as ForwardSession & { got?: Float32Array[] }).got = [a.sources!, b.sources!];
    }
    const [x, y] = [baked, explicit].map((s) => (s as ForwardSession & { got?: Float32Array[] }).got!);
    for (let r = 0; r < 2; r++)
      for (let f = 0; f < want.length; f++)
        assert.ok(Math.abs(x[r][f] - y[r][f]) < 1e-5 * total, `run ${r} bucket ${f}: ${x[r][f]} vs ${y[r][f]}`);
    // The one-token step is the reference's last row too, on fp16 KV: close, not equal.
    for (let f = 0; f < want.length; f++)
      assert.ok(Math.abs(x[1][f] - want[f]) < 2e-2 * total, `fp16 bucket ${f}: ${x[1][f]} vs ${want[f]}`);
    await baked.close();
    await explicit.close();
    await session.release();
    await m.releaseDense();
  });

  test('ask --json lists the sources; a streamed answer names them on stderr', async () => {
    const ws = storyWorkspace();
    const common = ['--model', STORIES, '--device', 'cpu', '--cache-dir', join(tmp, 'cache'), '--max-tokens', '24'];
    const a = await cliJson<SourcesJson>(['ask', ws, 'His friend, a big dog named Max', ...common]);
    assert.ok(a.answerTokens > 0, a.answer);
    assert.ok(a.sources?.length, JSON.stringify(a));
    for (const s of a.sources!) {
      assert.ok(['cat.txt', 'dog.txt'].includes(s.path), s.path);
      assert.ok(s.share > 0 && s.share <= 1);
    }
    const shares = a.sources!.map((s) => s.share);
    assert.deepEqual(
      shares,
      [...shares].sort((p, q) => q - p),
      'largest first',
    );
    const streamed = await cli(['ask', ws, 'His friend, a big dog named Max', ...common]);
    assert.equal(streamed.code, 0, streamed.stderr);
    assert.match(streamed.stderr, /^sources: (cat|dog)\.txt \d+%/m);
    rmSync(ws, { recursive: true, force: true });
  });

  test('answerSources: beyond the baseline (else as attended), largest first, none under 1%, nothing for another context', () => {
    const fp = {
      version: 1,
      totalTokens: 30,
      files: ['a', 'b', 'c'].map((path, i) => ({ path, hash: path, tokenStart: 10 * i, tokenEnd: 10 * i + 10 })),
    };
    // Per run, the baseline gives a 0.5, b 0.2, c 0.1; the answer's two runs gave a 1.0, b 1.0, c 0.3 (and 5 to the prefix).
    const baseline = [0.5, 0.2, 0.1, 3];
    assert.deepEqual(answerSources({ mass: [1.0, 1.0, 0.3, 5], runs: 2 }, fp, baseline), [
      { path: 'b', share: 0.8571 },
      { path: 'c', share: 0.1429 },
    ]);
    assert.deepEqual(answerSources({ mass: [1.0, 1.0, 0.3, 5], runs: 2 }, fp), [
      { path: 'a', share: 0.4348 },
      { path: 'b', share: 0.4348 },
      { path: 'c', share: 0.1304 },
    ]);
    assert.equal(answerSources({ mass: [1, 1, 5], runs: 1 }, fp), undefined);
    // Nothing beyond the baseline: where the attention went.
    assert.deepEqual(answerSources({ mass: [0.5, 0.2, 0.1, 3], runs: 1 }, fp, baseline), [
      { path: 'a', share: 0.625 },
      { path: 'b', share: 0.25 },
      { path: 'c', share: 0.125 },
    ]);
    assert.equal(answerSources({ mass: [0, 0, 0, 3], runs: 1 }, fp, baseline), undefined);
    assert.deepEqual(answerSources({ mass: [1, 0.005, 0, 3], runs: 1 }, fp), [{ path: 'a', share: 0.995 }], 'none under 1%');
  });
});

const { path: gguf, skip } = await realModelOrSkip('smollm2-135m-q4_1');

describe('answer sources on SmolLM2-135M-Instruct', { skip: skip || skipWithoutStories }, () => {
  test('a constant defined in one small file of seven: that file ranks first', async () => {
    const ws = join(tmp, 'app');
    mkdirSync(join(ws, 'src'), { recursive: true });
    const files: Record<string, string> = {
      'README.md': '# demo\n\nA tiny HTTP server with a database pool and token auth. Run `start()` from src/server.ts.\n',
      'src/constants.ts': "export const DEFAULT_PORT = 8080;\nexport const API_VERSION = 'v2';\n",
      'src/config.ts':
        "export interface Config {\n  name: string;\n  retries: number;\n}\n\nexport const MAX_RETRIES = 3;\n\nexport function loadConfig(): Config {\n  return { name: process.env.APP_NAME ?? 'demo', retries: MAX_RETRIES };\n}\n",
      'src/auth.ts':
        "export const TOKEN_TTL_SECONDS = 3600;\n\nexport function checkToken(header: string): boolean {\n  const token = header.replace(/^Bearer /, '');\n  return token.length > 10;\n}\n\nexport function expiresAt(issued: number): number {\n  return issued + TOKEN_TTL_SECONDS * 1000;\n}\n",
      'src/logger.ts':
        "export const LOG_LEVEL = 'warn';\n\nexport function log(message: string): void {\n  if (LOG_LEVEL === 'debug') console.debug(message);\n  else console.log(`[app] ${message}`);\n}\n",
      'src/db.ts':
        "import { loadConfig } from './config.ts';\n\nexport const POOL_SIZE = 16;\n\nexport class Database {\n  private connections: string[] = [];\n\n  constructor(readonly url: string) {}\n\n  connect(): void {\n    for (let i = 0; i < POOL_SIZE; i++) this.connections.push(`${this.url}#${i}`);\n  }\n\n  query(sql: string): string[] {\n    const config = loadConfig();\n    return [`${config.name}: ${sql}`];\n  }\n}\n",
      'src/server.ts':
        "import { createServer } from 'node:http';\nimport { loadConfig } from './config.ts';\nimport { DEFAULT_PORT, API_VERSION } from './constants.ts';\nimport { log } from './logger.ts';\nimport { checkToken } from './auth.ts';\n\nexport function start(port = DEFAULT_PORT) {\n  const config = loadConfig();\n  const server = createServer((req, res) => {\n    if (!checkToken(req.headers.authorization ?? '')) {\n      res.writeHead(401);\n      res.end('unauthorized');\n      return;\n    }\n    log(`request ${req.url}`);\n    res.writeHead(200, { 'content-type': 'text/plain' });\n    res.end(`hello from ${config.name}, api ${API_VERSION}`);\n  });\n  server.listen(port);\n  return server;\n}\n",
    };
    for (const [path, text] of Object.entries(files)) writeFileSync(join(ws, path), text);
    const common = ['--model', gguf!, '--device', 'cpu', '--cache-dir', join(tmp, 'smol-cache'), '--max-tokens', '24'];
    const built = await cli(['build', ws, ...common], {}, 600_000);
    assert.equal(built.code, 0, built.stderr);
    for (const [question, file, answer] of [
      ['What is DEFAULT_PORT set to?', 'src/constants.ts', /8080/],
      ['How long is TOKEN_TTL_SECONDS?', 'src/auth.ts', /./],
    ] as const) {
      const a = await cliJson<SourcesJson>(['ask', ws, question, ...common]);
      assert.match(a.answer, answer, question);
      assert.equal(a.sources?.[0]?.path, file, `${question}: ${JSON.stringify(a.sources)}`);
    }
  });
});
