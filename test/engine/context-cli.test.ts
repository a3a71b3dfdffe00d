// `kvzip-code context`: the preview through the real CLI and engine process (dist/, built by `npm test`), with a
// model folder that holds only config.json and the real Qwen tokenizer files: no weights are read.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QWEN_CODER_1_5B_CONFIG, QWEN_TOKENIZER_DIR } from '../support/qwenConfig.ts';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const skip = existsSync(CLI) ? false : 'dist/cli.js missing: run npm run build';

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function fixture(t: { after: (fn: () => void) => void }): { model: string; ws: string } {
  const root = mkdtempSync(join(tmpdir(), 'kvzip-preview-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const model = join(root, 'model');
  mkdirSync(model);
  writeFileSync(join(model, 'config.json'), JSON.stringify(QWEN_CODER_1_5B_CONFIG));
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(QWEN_TOKENIZER_DIR, f), join(model, f));
  const ws = join(root, 'ws');
  const fn = (name: string, lines: number): string =>
    `/** ${name} handles its part of a request. */\nfunction ${name}(req, res) {\n${'  res.count = (res.count || 0) + 1;\n'.repeat(lines)}  return res;\n}\n`;
  const files: Record<string, string> = {
    'lib/application.js': `const router = require('./router');\n${['init', 'handle', 'use', 'route', 'listen', 'render'].map((n) => fn(n, 30)).join('\n')}module.exports = { init };\n`,
    'lib/router.js': `${fn('dispatch', 10)}module.exports = { dispatch };\n`,
    'lib/request.js': `const app = require('./application');\n${fn('accepts', 8)}`,
    'lib/response.js': `const app = require('./application');\n${fn('send', 8)}`,
    'index.js': `module.exports = require('./lib/application');\n`,
    'test/app.test.js': `const app = require('../lib/application');\n${fn('check', 40)}`,
    'Readme.md': '# tiny\n' + 'A small web framework.\n'.repeat(40),
    '.github/workflows/ci.yml': 'on: push\n',
  };
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(dirname(join(ws, p)), { recursive: true });
    writeFileSync(join(ws, p), c);
  }
  return { model, ws };
}

/** The smallest window that leaves `files` tokens for files (the engine keeps min(1024, window/4) for the answer). */
function windowFor(p: Preview, files: number): number {
  let w = files + p.limit.prefixTokens;
  while (w - p.limit.prefixTokens - Math.min(1024, Math.floor(w / 4)) < files) w++;
  return w;
}

interface Preview {
  report: {
    totalTokens: number;
    included: { path: string; tokens: number; outline: boolean; rank: number }[];
    omitted: { path: string; reason: string; rank?: number; detail?: string }[];
  };
  limit: { maxTokens: number; prefixTokens: number };
  estimate: { device: string; memory: { totalBytes: number; weightsBytes: number }; buildSeconds?: number };
}

test(
  'context --json: what goes in (whole or outline), what is left out and why, and the estimates, without weights',
  { skip },
  async (t) => {
    const { model, ws } = fixture(t);
    assert.deepEqual(readdirSync(model).sort(), ['config.json', 'tokenizer.json', 'tokenizer_config.json']);
    const all = await cli(['context', ws, '--model', model, '--json']);
    assert.equal(all.code, 0, all.stderr);
    const full = JSON.parse(all.stdout) as Preview;
    assert.equal(full.report.included.length, 8);
    assert.ok(full.report.included.every((f) => f.outline === false && f.tokens > 0));
    assert.ok(full.estimate.memory.weightsBytes > 2e9 && full.estimate.buildSeconds! > 0);

    const app = full.report.included.find((f) => f.path === 'lib/application.js')!;
    assert.equal(app.rank, 1);
    // A window where the sources fit only with application.js as an outline.
    const sources = full.report.included
      .filter((f) => f.path.startsWith('lib/') || f.path === 'index.js')
      .reduce((n, f) => n + f.tokens, 0);
    const r = await cli([
      'context',
      ws,
      '--model',
      model,
      '--max-context-tokens',
      String(windowFor(full, sources - Math.floor(app.tokens / 2))),
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const tight = JSON.parse(r.stdout) as Preview;
    // Its outline frees enough for everything else to go in whole.
    assert.deepEqual(
      tight.report.included.filter((f) => f.outline).map((f) => f.path),
      ['lib/application.js'],
    );
    assert.equal(tight.report.included.length, 8);
    assert.ok(tight.report.totalTokens <= tight.limit.maxTokens);

    // Room for little more than the sources: the rest is left out, each with the rank that lost.
    const small = JSON.parse(
      (await cli(['context', ws, '--model', model, '--max-context-tokens', String(windowFor(full, 500)), '--json'])).stdout,
    ) as Preview;
    const lost = small.report.omitted.filter((o) => o.reason === 'budget');
    assert.ok(lost.some((o) => o.path === '.github/workflows/ci.yml'));
    const lowestLost = Math.min(...lost.map((o) => o.rank!));
    assert.ok(small.report.included.every((f) => f.rank < lowestLost));
    assert.ok(lost.every((o) => /^rank \d+ of 8 /.test(o.detail!)));
  },
);

test('context, for people: a ranked table, the omissions, the totals and the build estimate', { skip }, async (t) => {
  const { model, ws } = fixture(t);
  const full = JSON.parse((await cli(['context', ws, '--model', model, '--json'])).stdout) as Preview;
  const r = await cli(['context', ws, '--model', model, '--max-context-tokens', String(windowFor(full, 500))]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Goes in: \d+ files, [\d,]+ tokens \(\d+ as outlines/m);
  assert.match(r.stdout, /^ +1 +[\d,]+ +(whole|outline) +source +lib\/application\.js$/m);
  assert.match(r.stdout, /^Left out: \d+ \(\d+ over the budget\)/m);
  assert.match(r.stdout, /budget +\.github\/workflows\/ci\.yml — rank 8 of 8 \(ci\)/);
  assert.match(r.stdout, /^Build estimate on cpu \(fp32\) for [\d,]+ tokens: Needs /m);
  assert.match(r.stdout, /build time about \d+/);
});

test('context: a missing workspace or tokenizer is a clear error, not a stack trace', { skip }, async (t) => {
  const { model, ws } = fixture(t);
  const gone = await cli(['context', join(ws, 'nope'), '--model', model]);
  assert.equal(gone.code, 2);
  assert.match(gone.stderr, /does not exist/);
  rmSync(join(model, 'tokenizer.json'));
  const noTok = await cli(['context', ws, '--model', model]);
  assert.equal(noTok.code, 1);
  assert.match(noTok.stderr, /tokenizer/);
  assert.doesNotMatch(noTok.stderr, /\n\s+at /);
});
