// The command line as a new user meets it (issue 28, item 7), through the real CLI (dist/cli.js) and engine on
// stories260K: each command's own help with one line per flag; a usage error as one line that points to that
// help, exit 2; `clear` in a sentence; an unknown preset answered with the presets; progress in words, a few
// lines when piped; an ask that builds first says so, and its first token is timed after the build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMANDS, flagsOf } from '../../src/cli/commands.ts';
import { PHASE_WORDS } from '../../src/core/progressWords.ts';
import { HUB_PRESETS } from '../../src/model/presets.ts';
import { cli, currentGeneration, skipWithoutStories as skip, STACK, STORIES } from '../support/cli.ts';

function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Enough short stories that a build reports each step several times. */
function stories(): string {
  const ws = tmp('kvzip-ws-');
  for (let i = 0; i < 30; i++) {
    writeFileSync(join(ws, `story${i}.txt`), `Once upon a time there was a cat named Tom ${i}. Tom liked to play with a red ball.\n`);
  }
  return ws;
}

/** The help's flag lines: `--name` (with its value's name) and what follows, one line each. */
function flagLines(help: string): Map<string, string> {
  const lines = help.split('\n').filter((l) => /^ {2}(-\w, )?--/.test(l));
  return new Map(lines.map((l) => [/--([\w-]+)/.exec(l)![1]!, l]));
}

test('each command has its own help, with one line per flag: what it does and its default', { skip }, async () => {
  const top = await cli(['--help']);
  assert.equal(top.code, 0, top.stderr);
  for (const c of COMMANDS) assert.match(top.stdout, new RegExp(`^ {2}${c.name}\\b.* {2}\\w.*$`, 'm'), `${c.name} listed on one line`);
  assert.match(top.stdout, /`kvzip-code COMMAND --help`/);

  const pages = new Map<string, string>();
  for (const c of COMMANDS) {
    const r = await cli([c.name, '--help']);
    assert.equal(r.code, 0, `${c.name} --help: ${r.stderr}`);
    pages.set(c.name, r.stdout);
    const lines = flagLines(r.stdout);
    assert.deepEqual(
      [...lines.keys()],
      flagsOf(c).map(([name]) => name),
      `${c.name} --help lists exactly its flags`,
    );
    for (const [name, f] of flagsOf(c)) {
      const line = lines.get(name)!;
      assert.ok(line.includes(f.help), `${c.name} --${name}: says what it does\n${line}`);
      if (f.default !== undefined) assert.ok(line.endsWith(`(default: ${f.default})`), `${c.name} --${name}: its default\n${line}`);
    }
  }
  const build = pages.get('build')!;
  const ask = pages.get('ask')!;
  assert.notEqual(build, ask);
  assert.match(build, /^Usage: kvzip-code build WORKSPACE --model MODEL \[FLAGS\]$/m);
  assert.match(ask, /^Usage: kvzip-code ask WORKSPACE "QUESTION" --model MODEL \[FLAGS\]$/m);
  assert.match(build, /^ {2}--force +build again even when the cache is fresh$/m);
  assert.doesNotMatch(ask, /--force/, 'ask has no --force');
  assert.match(ask, /^ {2}--session NAME +keep a conversation under NAME/m);
  assert.match(ask, /^ {2}--max-tokens N +the most tokens in the answer \(default: 256\)$/m);
  assert.match(pages.get('generate')!, /^ {2}--max-tokens N +the most tokens to generate \(default: 128\)$/m);
  assert.doesNotMatch(build, /--session/, 'build has no --session');
  assert.match(build, /^ {2}--ratio R +.*\(default: 0\.3\)$/m);
  assert.match(build, /^ {2}--cache-dir DIR +.*\(default: \/.+\)$/m, "the cache folder's default is this machine's");
});

test('a usage error is one line naming the problem and the help to see, exit 2', { skip }, async (t) => {
  const ws = stories();
  t.after(() => rmSync(ws, { recursive: true, force: true }));
  const cases: [string[], string][] = [
    [['build', ws, '--model', STORIES, '--ratio', '2'], 'kvzip-code: --ratio must be in (0, 1], got 2 (see `kvzip-code build --help`)'],
    [
      ['build', ws, '--model', STORIES, '--no-such-flag'],
      'kvzip-code: --no-such-flag is not a flag of build (see `kvzip-code build --help`)',
    ],
    [['ask', ws], 'kvzip-code: QUESTION is required (see `kvzip-code ask --help`)'],
    [
      ['ask', ws, 'what', 'is', 'this', '--model', STORIES],
      'kvzip-code: unexpected argument "is": ask takes WORKSPACE "QUESTION"; quote a question of several words (see `kvzip-code ask --help`)',
    ],
    [
      ['biuld', ws],
      'kvzip-code: unknown command "biuld"; the commands are context, build, ask, generate, info, clear, setup-cuda (see `kvzip-code --help`)',
    ],
  ];
  for (const [args, line] of cases) {
    const r = await cli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: exit 2\n${r.stderr}`);
    assert.equal(r.stderr, `${line}\n`, 'one line, not the whole help');
    assert.equal(r.stdout, '');
  }
  // A flag only another command takes is named, and the command runs without it.
  const empty = tmp('kvzip-cache-');
  t.after(() => rmSync(empty, { recursive: true, force: true }));
  const info = await cli(['info', '--ratio', '0.5', '--cache-dir', empty]);
  assert.equal(info.code, 0, info.stderr);
  assert.equal(info.stderr, 'kvzip-code: info ignores --ratio (see `kvzip-code info --help`)\n');
  assert.equal(info.stdout, 'No cache entries.\n');
  // Nothing at all: the list of commands, as an error.
  const bare = await cli([]);
  assert.equal(bare.code, 2);
  assert.match(bare.stderr, /^Commands:$/m);
});

test('an unknown preset lists the presets and how to point at a model on this machine', { skip }, async (t) => {
  const ws = stories();
  t.after(() => rmSync(ws, { recursive: true, force: true }));
  const r = await cli(['build', ws, '--model', 'qwen9']);
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^kvzip-code: "qwen9" is not a preset \(/);
  for (const p of HUB_PRESETS) assert.ok(lines[0]!.includes(p.id), `names ${p.id}`);
  for (const form of ['.gguf file', 'checkpoint folder', 'ollama:NAME[:TAG]', 'lmstudio:PUBLISHER/MODEL'])
    assert.ok(lines[0]!.includes(form), form);
  assert.doesNotMatch(r.stderr, STACK);
});

test('piped progress is a few lines of words; clear says what it removed; an ask that builds first says so', { skip }, async (t) => {
  const ws = stories();
  const cache = tmp('kvzip-cache-');
  t.after(() => {
    for (const d of [ws, cache]) rmSync(d, { recursive: true, force: true });
  });
  // The CPU: the time estimate is fitted there, so the prefill's first line already has a time left.
  const common = ['--model', STORIES, '--cache-dir', cache, '--device', 'cpu'];
  const built = await cli(['build', ws, ...common]);
  assert.equal(built.code, 0, built.stderr);
  const progress = built.stderr.trimEnd().split('\n');
  // One line per step of a build of a few seconds: the model's preparation, the workspace, the prefill, the
  // scoring, the compression and the save.
  assert.ok(progress.length <= 7, `a few lines, not one per report:\n${built.stderr}`);
  const words = Object.values(PHASE_WORDS);
  for (const line of progress)
    assert.ok(
      words.some((w) => line.startsWith(w)),
      `words, not a phase id: ${line}`,
    );
  for (const step of ['load-model', 'context', 'prefill', 'score', 'compress', 'write'] as const)
    assert.ok(
      progress.some((l) => l.startsWith(PHASE_WORDS[step])),
      `${PHASE_WORDS[step]} shows:\n${built.stderr}`,
    );
  assert.match(built.stderr, /^Reading the context \(\d+%, [^)]+ left\)$/m, 'the prefill says its time left (the CPU estimate)');
  assert.doesNotMatch(built.stderr, /\b(load-model|prefill|score|compress|write)\b|\r/);

  const cleared = await cli(['clear', ws, '--cache-dir', cache]);
  assert.equal(cleared.code, 0, cleared.stderr);
  assert.match(
    cleared.stdout,
    new RegExp(`^Removed 1 cache entry of ${ws.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, freeing \\d+\\.\\d MB\\.\\n$`),
  );
  const again = await cli(['clear', ws, '--cache-dir', cache, '--json']);
  assert.deepEqual(JSON.parse(again.stdout), { removed: 0, bytes: 0, conversations: 0 });
  assert.equal((await cli(['clear', ws, '--cache-dir', cache])).stdout, `No cache entries of ${ws} to remove.\n`);

  // No cache now: the ask builds it first, and says so in words. Short scoring chunks make the build take
  // seconds, well past the cache's loading, which the first token's time does include.
  const asked = await cli(['ask', ws, 'Tom', ...common, '--max-tokens', '8', '--json'], { KVZIP_SCORE_CHUNK: '16' });
  assert.equal(asked.code, 0, asked.stderr);
  assert.match(asked.stderr, /^kvzip-code: building the cache first: no cache yet$/m);
  assert.match(asked.stderr, /^Building the cache first \(\d+%(, [^)]+ left)?\)$/m);
  assert.doesNotMatch(asked.stderr, /^Reading the context/m, "the build's steps are one: building the cache first");
  const r = JSON.parse(asked.stdout) as { ttftMs: number; fromCache: boolean };
  assert.equal(r.fromCache, false);
  const manifest = JSON.parse(readFileSync(join(currentGeneration(cache), 'manifest.json'), 'utf8')) as { stats: { buildMs: number } };
  assert.ok(r.ttftMs < manifest.stats.buildMs, `the first token (${r.ttftMs} ms) is timed after the build (${manifest.stats.buildMs} ms)`);
});
