// The command line is checked before anything starts: each mistake gets its own exact message, before a model
// could load (parseCommandLine never starts the engine).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCommandLine, UsageError } from '../../src/cli/args.ts';

const ws = mkdtempSync(join(tmpdir(), 'kvzip-args-'));
const file = join(ws, 'a.txt');
writeFileSync(file, 'x');
// --model is looked up before anything starts: a folder that exists (what is in it is the engine's to check).
const model = join(ws, 'model');
mkdirSync(model);
const parse = (...argv: string[]) => parseCommandLine(argv, () => join(ws, 'cache'));
const refused = (argv: string[], message: string | RegExp) =>
  assert.throws(
    () => parse(...argv),
    (e: unknown) => {
      assert.ok(e instanceof UsageError, `a usage error, not ${String(e)}`);
      if (typeof message === 'string') assert.equal(e.message, message);
      else assert.match(e.message, message);
      return true;
    },
    argv.join(' '),
  );

test('numeric flags: exact errors for negative, hex, empty and out-of-range values', () => {
  const build = ['build', ws, '--model', '/nonexistent/model'];
  refused([...build, '--ratio', '-1'], '--ratio must be in (0, 1], got -1');
  refused([...build, '--ratio', '0x1'], '--ratio must be a number in (0, 1], got "0x1"');
  refused([...build, '--ratio', ''], '--ratio must be a number in (0, 1], got ""');
  refused([...build, '--ratio', ' 0.5'], '--ratio must be a number in (0, 1], got " 0.5"');
  refused([...build, '--ratio', '0'], '--ratio must be in (0, 1], got 0');
  refused([...build, '--ratio', '1.5'], '--ratio must be in (0, 1], got 1.5');
  refused([...build, '--ratio=-0.5'], '--ratio must be in (0, 1], got -0.5');
  refused([...build, '--max-context-tokens', '0'], /^--max-context-tokens must be a whole number of at least 1 \(.*\), got 0$/);
  refused([...build, '--max-context-tokens', '1e3.5'], '--max-context-tokens must be a whole number, got "1e3.5"');
  const ask = ['ask', ws, 'why?', '--model', '/nonexistent/model'];
  refused([...ask, '--max-tokens', '0'], /^--max-tokens must be a whole number of at least 1 \(.*\), got 0$/);
  refused([...ask, '--max-tokens', '2.5'], /^--max-tokens must be a whole number of at least 1 \(.*\), got 2\.5$/);
  refused([...ask, '--max-tokens', '-3'], /^--max-tokens must be a whole number of at least 1 \(.*\), got -3$/);
  const gen = ['generate', '--model', '/nonexistent/model', '--prompt', 'hi'];
  refused([...gen, '--temperature', '-1'], '--temperature must be ≥ 0, got -1');
  refused([...gen, '--top-p', '0'], '--top-p must be in (0, 1], got 0');
  refused([...gen, '--prompt-ids', '1,0x2'], '--prompt-ids must be comma-separated token ids, got "0x2"');
  refused([...build, '--level', 'token'], '--level must be pair, pair-uniform or head, got "token"');
  refused([...build, '--scoring', 'fast'], '--scoring must be exact or local, got "fast"');
});

test('good values parse to what the engine gets', () => {
  const r = parse('build', ws, '--model', model, '--ratio', '.25', '--max-context-tokens', '2e3');
  assert.equal(r.body?.type, 'build');
  assert.ok(r.body?.type === 'build');
  assert.equal(r.body.ratio, 0.25);
  assert.equal(r.body.maxContextTokens, 2000);
  assert.equal(r.body.scoring, undefined, 'exact scoring is the default, left out of the request');
  const local = parse('build', ws, '--model', model, '--scoring', 'local');
  assert.ok(local.body?.type === 'build');
  assert.equal(local.body.scoring, 'local');
  const a = parse('ask', ws, 'q', '--model', model, '--ratio', '1', '--max-tokens', '7', '--debug');
  assert.ok(a.body?.type === 'ask');
  assert.equal(a.body.maxTokens, 7);
  assert.equal(a.debug, true);
});

test('a missing or non-folder workspace gets its own message, without the usage text', () => {
  for (const [path, message] of [
    [join(ws, 'missing'), `the workspace ${join(ws, 'missing')} does not exist`],
    [file, `the workspace ${file} is not a folder: give the repository's folder`],
  ] as const) {
    assert.throws(
      () => parse('build', path, '--model', model),
      (e: unknown) => e instanceof UsageError && e.message === message && !e.usage,
    );
  }
});

test("parseArgs' own errors become usage errors, each naming the command whose help to see", () => {
  const command = (argv: string[], message: string | RegExp, name: string | undefined) =>
    assert.throws(
      () => parse(...argv),
      (e: unknown) =>
        e instanceof UsageError &&
        (typeof message === 'string' ? e.message === message : message.test(e.message)) &&
        e.usage &&
        e.command === name,
      argv.join(' '),
    );
  command(['build', ws, '--model', model, '--no-such-flag'], '--no-such-flag is not a flag of build', 'build');
  command(['build', ws, '--model'], /^Option '--model <value>' argument missing$/, 'build');
  command(['ask', ws, '   ', '--model', model], 'QUESTION is required', 'ask');
  command(['ask', ws], 'QUESTION is required', 'ask');
  command(['ask'], 'WORKSPACE is required', 'ask');
  command(['biuld', ws], 'unknown command "biuld"; the commands are context, build, ask, generate, info, clear, setup-cuda', undefined);
});

test('each command takes its own flags and arguments; a flag of another command is named as not used', () => {
  // One list of flags for build and ask is common: what a command does not take is left out, not refused.
  const info = parse('info', '--ratio', '0.5', '--json');
  assert.deepEqual([info.body, info.ignored], [{ type: 'info', cacheDir: join(ws, 'cache') }, ['ratio']]);
  assert.deepEqual(parse('info', '--ratio', '2').ignored, ['ratio'], 'not checked either: it is not used');
  const build = parse('build', ws, '--model', model, '--max-tokens', '16', '--session', 's');
  assert.deepEqual(build.ignored, ['max-tokens', 'session']);
  assert.equal(parse('build', ws, '--model', model).ignored, undefined);
  refused(
    ['ask', ws, 'what', 'is', 'it', '--model', model],
    'unexpected argument "is": ask takes WORKSPACE "QUESTION"; quote a question of several words',
  );
  refused(['info', ws], 'unexpected argument "' + ws + '": info takes no arguments');
  // The defaults are the help's: generate's answer is shorter than ask's.
  const g = parse('generate', '--model', model, '--prompt', 'hi');
  assert.ok(g.body?.type === 'generate');
  assert.deepEqual([g.body.maxTokens, g.body.temperature, g.body.topP, g.body.device], [128, 0, 1, 'auto']);
  const a = parse('ask', ws, 'why?', '--model', model);
  assert.ok(a.body?.type === 'ask');
  assert.deepEqual([a.body.maxTokens, a.body.ratio, a.body.level], [256, 0.3, 'pair']);
  assert.equal(parse('build', '--help').help, true, '--help needs no workspace');
});
