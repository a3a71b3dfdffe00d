// Issue 26, items 4 to 6: conversations kept with `ask --session` survive concurrent asks, a damaged session
// file, `clear` and the cache's size cap, through the real CLI (and the engine for the cap, which only the
// extension sets) on stories260K.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLock } from '../../src/core/jobLock.ts';
import { Engine } from '../../src/engine/engine.ts';
import type { CacheSettings } from '../../src/engine/protocol.ts';

import { CLI, cli, cliJson, skipWithoutStories as skip, STORIES, storyWorkspace, type AskJson } from '../support/cli.ts';

interface SessionAsk extends AskJson {
  turnsUsed: number;
  sessionUnreadable?: { reason: string; keptAs: string };
}

interface SessionFile {
  version: number;
  turns: { question: string }[];
}

/** The folder of the cache's only entry's sessions. */
function sessionsOf(cache: string): string {
  const [key, ...more] = readdirSync(join(cache, 'sessions'));
  assert.equal(more.length, 0, 'one entry, one sessions folder');
  return join(cache, 'sessions', key!);
}

const questionsIn = (file: string) => (JSON.parse(readFileSync(file, 'utf8')) as SessionFile).turns.map((t) => t.question);

test('sessions through the CLI', { skip, concurrency: false }, async (t) => {
  const ws = storyWorkspace();
  const cache = mkdtempSync(join(tmpdir(), 'kvzip-sessions-'));
  t.after(() => {
    rmSync(ws, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  });
  const common = ['--model', STORIES, '--cache-dir', cache, '--max-tokens', '16'];
  const askArgs = (q: string, session: string) => ['ask', ws, q, ...common, '--session', session];
  assert.equal((await cli(['build', ws, ...common])).code, 0);

  await t.test('two concurrent asks on one session keep both turns (5 rounds)', async () => {
    for (let round = 0; round < 5; round++) {
      const name = `race${round}`;
      const [a, b] = await Promise.all([cli(askArgs('Tom and Max', name)), cli(askArgs('The red ball', name))]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(b.code, 0, b.stderr);
      const questions = questionsIn(join(sessionsOf(cache), `${name}.json`));
      assert.deepEqual([...questions].sort(), ['The red ball', 'Tom and Max'], `round ${round}: both turns kept`);
    }
  });

  await t.test('an ask on a session in use waits, says for whom, then reads the turn saved meanwhile', async () => {
    const folder = sessionsOf(cache);
    const release = await acquireLock(join(folder, 'held.json.lock'));
    const child = spawn(process.execPath, [CLI, ...askArgs('The red ball', 'held'), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    const waiting = new RegExp(`session "held" is in use by another ask \\(process ${process.pid}\\); waiting for it to finish`);
    for (let waited = 0; !waiting.test(stderr); waited += 100) {
      assert.ok(waited < 60_000, `no wait message within a minute:\n${stderr}`);
      assert.equal(child.exitCode, null, `the ask ended without waiting:\n${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // What the holder saves before it lets go is what the waiting ask reads.
    const turn = { question: 'Tom and Max', answer: 'Max got the ball.', answerIds: [403, 407] };
    writeFileSync(join(folder, 'held.json'), JSON.stringify({ version: 1, turns: [turn] }));
    release();
    assert.equal(await exited, 0, stderr);
    assert.equal((JSON.parse(stdout) as SessionAsk).turnsUsed, 1);
    assert.deepEqual(questionsIn(join(folder, 'held.json')), ['Tom and Max', 'The red ball']);
  });

  for (const [what, bytes, why] of [
    ['not JSON', '{"version": 1, "turns": [', /not JSON/],
    ['another version', JSON.stringify({ version: 99, turns: [] }), /version 99/],
    ['a broken turn', JSON.stringify({ version: 1, turns: [{ question: 'q', answer: 'a', answerIds: [-1] }] }), /turn 1/],
  ] as const) {
    await t.test(`a session file holding ${what} is kept aside, and stderr and --json say so`, async () => {
      const file = join(sessionsOf(cache), 'damaged.json');
      writeFileSync(file, bytes);
      const r = await cli([...askArgs('Tom and Max', 'damaged'), '--json']);
      assert.equal(r.code, 0, r.stderr);
      const a = JSON.parse(r.stdout) as SessionAsk;
      assert.ok(a.sessionUnreadable, 'the --json result says the session could not be read');
      assert.match(a.sessionUnreadable.reason, why);
      assert.equal(readFileSync(a.sessionUnreadable.keptAs, 'utf8'), bytes, 'the unreadable file is kept, byte for byte');
      assert.match(r.stderr, /session "damaged" could not be read .*kept as .*damaged\.json\.unreadable-.*starts over/);
      assert.equal(a.turnsUsed, 0);
      assert.deepEqual(questionsIn(file), ['Tom and Max'], 'the new conversation is saved in its place');
      rmSync(a.sessionUnreadable.keptAs);
    });
  }

  await t.test('clear removes the conversations, and a rebuild does not bring them back', async () => {
    assert.equal((await cli(askArgs('Tom and Max', 'kept'))).code, 0);
    const sessions = sessionsOf(cache);
    // One left by a version that cleared entries without their conversations: its entry is gone.
    const orphan = join(cache, 'sessions', 'f'.repeat(24));
    mkdirSync(orphan);
    writeFileSync(join(orphan, 'old.json'), JSON.stringify({ version: 1, turns: [] }));
    const cleared = await cli(['clear', ws, '--cache-dir', cache]);
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.match(cleared.stdout, /^Removed 1 cache entry of .+ and \d+ conversations, freeing [\d.]+ MB\.\n$/, 'a sentence, not JSON');
    assert.ok(!existsSync(sessions), "the entry's conversations are gone");
    assert.ok(!existsSync(orphan), 'conversations whose entry is gone are removed too');
    assert.equal((await cli(['build', ws, ...common])).code, 0);
    const again = await cliJson<SessionAsk>(askArgs('The red ball', 'kept'));
    assert.equal(again.turnsUsed, 0, 'the rebuilt entry starts the session over');
  });
});

test('the size cap evicts an entry together with its conversations', { skip, concurrency: false }, async (t) => {
  const [ws1, ws2] = [storyWorkspace(), storyWorkspace()];
  const cacheDir = mkdtempSync(join(tmpdir(), 'kvzip-sessions-cap-'));
  t.after(() => {
    for (const d of [ws1, ws2, cacheDir]) rmSync(d, { recursive: true, force: true });
  });
  const engine = new Engine();
  const s: CacheSettings = { workspace: ws1, model: STORIES, cacheDir, device: 'cpu', ratio: 0.3, level: 'pair' };
  await engine.ask({ ...s, question: 'Tom and Max', maxTokens: 8, session: 'chat' }, () => {});
  const [key1] = readdirSync(join(cacheDir, 'entries'));
  assert.ok(existsSync(join(cacheDir, 'sessions', key1!, 'chat.json')));
  // A cap below one entry's size: building the second evicts the first.
  await engine.build({ ...s, workspace: ws2, cacheSizeCapMB: 0.001 });
  assert.ok(!existsSync(join(cacheDir, 'entries', key1!)), 'the first entry was evicted');
  assert.ok(!existsSync(join(cacheDir, 'sessions', key1!)), 'its conversations went with it');
});
