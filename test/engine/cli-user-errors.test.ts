// What a user can get wrong, or run into, on the command line: each gets its own clear message and exit code,
// never a stack trace; and nothing is written outside the cache folder. The real CLI (dist/cli.js, built by
// `npm test`), the real engine process and the trained stories260K on the CPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../../src/engine/engine.ts';
import type { CacheSettings } from '../../src/engine/protocol.ts';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const MODEL = fileURLToPath(new URL('../../../shared/models/stories260K', import.meta.url));
const skip = !existsSync(MODEL)
  ? `${MODEL} not found: the shared stories260K model is needed`
  : !existsSync(CLI)
    ? 'dist/cli.js missing: run npm run build'
    : false;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with a fresh HOME (and no inherited cache settings) unless `env` says otherwise. */
function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const base: Record<string, string | undefined> = {
    ...process.env,
    XDG_DATA_HOME: undefined,
    XDG_CACHE_HOME: undefined,
    KVZIP_CACHE_DIR: undefined,
  };
  const merged = Object.fromEntries(Object.entries({ ...base, ...env }).filter(([, v]) => v !== undefined)) as Record<string, string>;
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 120_000, env: merged }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

function noStack(r: Run, what: string): void {
  assert.doesNotMatch(r.stderr, /^\s+at .+:\d+:\d+\)?$/m, `${what}: no stack trace on stderr:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /Internal error/, `${what}: not an internal error:\n${r.stderr}`);
}

function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

function stories(ws: string): void {
  writeFileSync(join(ws, 'cat.txt'), 'Once upon a time, there was a little cat named Tom. Tom liked to play with his red ball.\n');
  writeFileSync(join(ws, 'dog.txt'), 'His friend, a big dog named Max, jumped into the water and got the ball.\n');
}

/** Every file under `dir`, relative, skipping `skipDir`. */
function filesUnder(dir: string, skipDir?: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (p === skipDir) continue;
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

test('the command line', { skip, concurrency: false }, async (t) => {
  const ws = tmp('kvzip-ws-');
  const home = tmp('kvzip-home-');
  const cache = tmp('kvzip-cache-');
  stories(ws);
  t.after(() => {
    for (const d of [ws, home, cache]) rmSync(d, { recursive: true, force: true });
  });
  const env = { HOME: home };
  const common = ['--model', MODEL, '--cache-dir', cache];

  await t.test('flag and workspace mistakes are answered before a model loads, each with its own message', async () => {
    // A model folder that does not exist: any message about it would mean the flags were read too late.
    const none = ['--model', join(ws, 'no-model'), '--cache-dir', cache];
    const cases: [string[], RegExp][] = [
      [['build', ws, ...none, '--ratio', '-1'], /^kvzip-code: --ratio must be in \(0, 1\], got -1 \(see `kvzip-code build --help`\)$/m],
      [
        ['build', ws, ...none, '--ratio', '0x1'],
        /^kvzip-code: --ratio must be a number in \(0, 1\], got "0x1" \(see `kvzip-code build --help`\)$/m,
      ],
      [
        ['build', ws, ...none, '--ratio', ''],
        /^kvzip-code: --ratio must be a number in \(0, 1\], got "" \(see `kvzip-code build --help`\)$/m,
      ],
      [['build', ws, ...none, '--ratio', '2'], /^kvzip-code: --ratio must be in \(0, 1\], got 2 \(see `kvzip-code build --help`\)$/m],
      [
        ['build', ws, ...none, '--max-context-tokens', '0'],
        /^kvzip-code: --max-context-tokens must be a whole number of at least 1 .*got 0 \(see `kvzip-code build --help`\)$/m,
      ],
      [
        ['ask', ws, 'Tom', ...none, '--max-tokens', '0'],
        /^kvzip-code: --max-tokens must be a whole number of at least 1 .*got 0 \(see `kvzip-code ask --help`\)$/m,
      ],
      [['build', join(ws, 'missing'), ...none], /^kvzip-code: the workspace .*missing does not exist$/m],
      [['build', join(ws, 'cat.txt'), ...none], /^kvzip-code: the workspace .*cat\.txt is not a folder/m],
    ];
    for (const [args, message] of cases) {
      const r = await cli(args, env);
      assert.equal(r.code, 2, `${args.join(' ')}: exit 2\n${r.stderr}`);
      assert.match(r.stderr, message, args.join(' '));
      assert.doesNotMatch(r.stderr, /no-model|include\/exclude/, `${args.join(' ')}: blamed on the right thing`);
      noStack(r, args.join(' '));
    }
  });

  await t.test('a context budget too small for any file says so, not "check include/exclude"', async () => {
    const r = await cli(['build', ws, ...common, '--max-context-tokens', '12'], env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /No file of .* fits in the \d+ tokens of context left for files \(the 12 tokens --max-context-tokens allows, .*\): the (one file|smallest of the \d+ files) measured, .*, takes \d+ (whole|as an outline)\. Raise --max-context-tokens \(this model allows up to \d+\)/,
    );
    assert.doesNotMatch(r.stderr, /include\/exclude/);
    noStack(r, 'tiny budget');
  });

  let first: { answer: string };
  await t.test('build and ask with a fresh HOME write nothing outside the cache folder (telemetry off)', async () => {
    const before = filesUnder(ws);
    const temp = tmp('kvzip-tmpdir-');
    t.after(() => rmSync(temp, { recursive: true, force: true }));
    const b = await cli(['build', ws, ...common], { ...env, TMPDIR: temp });
    assert.equal(b.code, 0, b.stderr);
    const a = await cli(['ask', ws, 'Tom and Max', ...common, '--max-tokens', '16', '--json'], { ...env, TMPDIR: temp });
    assert.equal(a.code, 0, a.stderr);
    first = JSON.parse(a.stdout) as { answer: string };
    assert.deepEqual(
      filesUnder(home),
      [],
      'nothing under HOME (onnxruntime writes ~/.cache/Microsoft/DeveloperTools when its telemetry is on)',
    );
    assert.deepEqual(filesUnder(ws), before, 'nothing in the workspace');
    assert.deepEqual(filesUnder(temp), [], 'nothing in TMPDIR');
  });

  await t.test('a question longer than the window is refused at once, with the numbers', async () => {
    const question = 'Tom and Max played with the red ball in the garden. '.repeat(150);
    const t0 = performance.now();
    const r = await cli(['ask', ws, question, ...common], env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /^kvzip-code: The question is \d+ tokens, but only \d+ fit: this model attends over 512 positions, the context takes \d+ and 32 are kept for the answer\. Shorten the question\.$/m,
    );
    assert.equal(r.stdout, '', 'no answer');
    assert.ok(performance.now() - t0 < 30_000, 'refused, not run');
    noStack(r, 'long question');
  });

  await t.test('a first token that is EOS gives an empty answer and says so', async () => {
    // Every token id is an EOS id in this copy: the answer ends before its first token, whatever the model picks.
    const eosModel = tmp('kvzip-eos-model-');
    cpSync(MODEL, eosModel, { recursive: true });
    t.after(() => rmSync(eosModel, { recursive: true, force: true }));
    const config = JSON.parse(readFileSync(join(eosModel, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(eosModel, 'config.json'), JSON.stringify({ ...config, eos_token_id: Array.from({ length: 512 }, (_, i) => i) }));
    const eos = ['--model', eosModel, '--cache-dir', cache];
    const r = await cli(['ask', ws, 'Tom', ...eos], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '');
    assert.match(r.stderr, /the model ended its answer before writing anything/);
    noStack(r, 'EOS first');
    const j = await cli(['ask', ws, 'Tom', ...eos, '--json'], env);
    const ask = JSON.parse(j.stdout) as { answer: string; answerTokens: number; stopReason: string };
    assert.deepEqual([ask.answer, ask.answerTokens, ask.stopReason], ['', 0, 'eos']);
    const g = await cli(['generate', '--prompt-ids', '1', ...eos, '--json'], env);
    assert.equal(g.code, 0, g.stderr);
    assert.deepEqual((JSON.parse(g.stdout) as { ids: number[] }).ids, [1]);
  });

  await t.test('ask on a stale cache answers and says so on stderr and in --json', async () => {
    appendFileSync(join(ws, 'dog.txt'), 'Max liked bones.\n');
    const r = await cli(['ask', ws, 'Tom and Max', ...common, '--max-tokens', '16'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /^kvzip-code: files changed since the cache was built \(dog\.txt\); answering from the old cache\. Run build to refresh it\.$/m,
    );
    assert.equal(r.stdout.trim(), first.answer.trim(), 'the old cache answered');
    const j = JSON.parse((await cli(['ask', ws, 'Tom and Max', ...common, '--max-tokens', '16', '--json'], env)).stdout) as {
      stale: boolean;
      fromCache: boolean;
    };
    assert.deepEqual([j.stale, j.fromCache], [true, true]);
    assert.equal((await cli(['build', ws, ...common], env)).code, 0);
    const fresh = await cli(['ask', ws, 'Tom and Max', ...common, '--max-tokens', '16', '--json'], env);
    assert.equal((JSON.parse(fresh.stdout) as { stale: boolean }).stale, false);
    assert.doesNotMatch(fresh.stderr, /changed since/);
  });
});

test('the default cache folder inside the workspace (workspace = $HOME) is left out, so the cache becomes fresh', { skip }, async (t) => {
  const home = tmp('kvzip-home-ws-');
  stories(home);
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const env = { HOME: home };
  const build = async () => {
    const r = await cli(['build', home, '--model', MODEL, '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as {
      fromCache: boolean;
      report: { included: { path: string }[]; omitted: { path: string; reason: string }[] };
    };
  };
  const b1 = await build();
  assert.ok(existsSync(join(home, '.local', 'share', 'kvzip-code')), 'the default cache is inside the workspace');
  assert.deepEqual(b1.report.included.map((f) => f.path).sort(), ['cat.txt', 'dog.txt']);
  assert.ok(
    b1.report.omitted.some((o) => o.path === '.local/share/kvzip-code/' && o.reason === 'excluded'),
    JSON.stringify(b1.report.omitted),
  );
  const b2 = await build();
  assert.equal(b2.fromCache, true, 'the second build finds the cache fresh');
  // KVZIP_CACHE_DIR inside the workspace, under a name with glob characters, is left out the same way.
  rmSync(join(home, '.local'), { recursive: true });
  const r = await cli(['build', home, '--model', MODEL, '--json'], { ...env, KVZIP_CACHE_DIR: join(home, 'data [kv]') });
  assert.equal(r.code, 0, r.stderr);
  const b3 = await cli(['build', home, '--model', MODEL, '--json'], { ...env, KVZIP_CACHE_DIR: join(home, 'data [kv]') });
  const report = JSON.parse(b3.stdout) as { fromCache: boolean; report: { included: { path: string }[] } };
  assert.equal(report.fromCache, true);
  assert.deepEqual(report.report.included.map((f) => f.path).sort(), ['cat.txt', 'dog.txt']);
});

test(
  'a workspace removed since the build (the extension keeps asking) answers from the cache and says the folder is gone',
  { skip },
  async (t) => {
    const ws = tmp('kvzip-ws-gone-');
    const cacheDir = tmp('kvzip-cache-gone-');
    stories(ws);
    t.after(() => rmSync(cacheDir, { recursive: true, force: true }));
    const engine = new Engine();
    const s: CacheSettings = { workspace: ws, model: MODEL, cacheDir, device: 'cpu', ratio: 0.3, level: 'pair' };
    await engine.build(s);
    rmSync(ws, { recursive: true });
    const notices: string[] = [];
    const r = await engine.ask(
      { ...s, question: 'Tom', maxTokens: 8 },
      () => {},
      undefined,
      undefined,
      (n) => notices.push(n),
    );
    assert.ok(r.answerTokens > 0, 'it answered');
    assert.equal(r.stale, true);
    assert.equal(notices.length, 1);
    assert.match(notices[0]!, /^The workspace .* does not exist\. .*The answer came from the cache built before\.$/);
  },
);
