// Issue 14, bar 1: a conversation over the compressed cache on stories260K. At ratio 1.0 a follow-up read with
// the previous turn as tail KV must give exactly the dense model's greedy answer over context + turn 1 + turn 2,
// a new conversation must give the bare cache's answer back, and the cache entry must not change.
import { test } from 'node:test';
import { spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Engine } from '../../src/engine/engine.ts';
import type { AskRequest, AskResult, CacheSettings } from '../../src/engine/protocol.ts';
import { generate } from '../../src/runtime/generate.ts';

const MODEL = fileURLToPath(new URL('../../../shared/models/stories260K', import.meta.url));
const skip = !existsSync(MODEL) && `${MODEL} not found: the shared stories260K model is needed`;
const MAX = 40;

function workspace(): string {
  const ws = mkdtempSync(join(tmpdir(), 'kvzip-convo-ws-'));
  writeFileSync(
    join(ws, 'cat.txt'),
    'Once upon a time, there was a little cat named Tom. Tom liked to play with his red ball in the garden. One day, the ball rolled into the pond. Tom was sad.\n',
  );
  writeFileSync(
    join(ws, 'dog.txt'),
    'His friend, a big dog named Max, jumped into the water and got the ball. Tom was very happy and said thank you to Max.\n',
  );
  return ws;
}

/** Every file under the cache entries with its bytes' hash: what "the cache on disk" is. */
function snapshot(cacheDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else out[p] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(join(cacheDir, 'entries'));
  return out;
}

test('conversation over the compressed cache', { skip, concurrency: false }, async (t) => {
  const ws = workspace();
  const cacheDir = mkdtempSync(join(tmpdir(), 'kvzip-convo-cache-'));
  t.after(() => {
    rmSync(ws, { recursive: true, force: true });
    rmSync(cacheDir, { recursive: true, force: true });
  });
  const engine = new Engine();
  const s: CacheSettings = { workspace: ws, model: MODEL, cacheDir, device: 'cpu', ratio: 1, level: 'pair' };
  const built = await engine.build(s);
  const m = await engine.model(s);
  const dense = await m.dense();
  const tok = m.tokenizer;
  const layout = tok.layout();
  const context = [...tok.prefixIds(layout), ...built.context.tokenIds];
  const greedy = async (ids: number[]) =>
    generate(dense, ids, dense.empty(), { maxTokens: MAX, stopIds: tok.eosIds }, { decode: (x) => tok.decode(x) });
  const ask = (q: string, extra: Partial<AskRequest> = {}): Promise<AskResult> =>
    engine.ask({ ...s, question: q, maxTokens: MAX, ...extra }, () => {});
  const before = snapshot(cacheDir);

  const q1 = 'Tom and Max';
  const q2 = 'The ball';
  const first = await ask(q1, { session: 'chat' });
  const second = await ask(q2, { session: 'chat' });

  await t.test('the first answer is the dense answer over the context', async () => {
    const d1 = await greedy([...context, ...tok.questionIds(layout, q1)]);
    assert.equal(first.answer, d1.text);
    assert.deepEqual(first.turn.answerIds, d1.ids);
    assert.equal(first.turnsUsed, 0);
  });

  await t.test('the follow-up equals the dense answer over context + turn 1 + turn 2 (exact greedy)', async () => {
    const d1 = await greedy([...context, ...tok.questionIds(layout, q1)]);
    const d2 = await greedy([...context, ...tok.questionIds(layout, q1), ...d1.ids, ...tok.followUpIds(layout, q2)]);
    assert.equal(second.turnsUsed, 1);
    assert.equal(second.turnsDropped, 0);
    assert.ok(second.answerTokens > 0);
    assert.equal(second.answer, d2.text);
    // Reading the turn changed the answer: the bare cache says something else to the same question.
    const bare = await greedy([...context, ...tok.questionIds(layout, q2)]);
    assert.notEqual(second.answer, bare.text);
  });

  await t.test('a new conversation gives back the bare-cache answer exactly', async () => {
    const bare = await ask(q2);
    const fresh = await ask(q2, { session: 'chat', newConversation: true });
    assert.equal(fresh.turnsUsed, 0);
    assert.equal(fresh.answer, bare.answer);
    assert.equal(bare.answer, (await greedy([...context, ...tok.questionIds(layout, q2)])).text);
  });

  await t.test('turns held by the client work the same as a named session', async () => {
    const viaHistory = await ask(q2, { history: [first.turn] });
    assert.equal(viaHistory.turnsUsed, 1);
    assert.equal(viaHistory.answer, second.answer);
  });

  await t.test('the oldest turns drop when the budget is full, and the answer is the bare one', async () => {
    const history = [first.turn];
    const budget = first.questionTokens + MAX + 1;
    const r = await ask(q2, { history, conversationBudget: budget });
    assert.equal(r.turnsUsed, 0);
    assert.equal(r.turnsDropped, 1);
    assert.equal(r.answer, (await ask(q2)).answer);
  });

  await t.test('an answer that outgrows the budget stops visibly', async () => {
    const full = await ask(q1);
    assert.ok(full.answerTokens > 8, `the unbounded answer has ${full.answerTokens} tokens`);
    const r = await ask(q1, { conversationBudget: full.questionTokens + 5 });
    assert.equal(r.stopped, 'conversation-budget');
    assert.equal(r.answerTokens, 5, 'the question and the answer fill the budget');
    assert.ok(full.answer.startsWith(r.answer), 'the cut answer is the start of the full one');
    assert.equal(full.stopped, undefined);
  });

  await t.test('an answer that reaches the end of the window says the window is full, not a budget', async () => {
    const r = await ask(q1, { maxTokens: 100_000 });
    assert.equal(r.stopReason, 'context-full', `the story ran to the end of the window (${r.answerTokens} tokens)`);
    assert.equal(r.stopped, 'window');
    // A budget the user set at or past the window is the window too.
    assert.equal((await ask(q1, { maxTokens: 100_000, conversationBudget: 1_000_000 })).stopped, 'window');
  });

  await t.test('a question longer than the budget is refused with the numbers', async () => {
    await assert.rejects(ask(q1, { conversationBudget: 2 }), /question is \d+ tokens.*budget after the context is 2/);
  });

  await t.test('the session lives under the cache folder, and the cache entry is unchanged', () => {
    assert.deepEqual(snapshot(cacheDir), before);
    const sessions = join(cacheDir, 'sessions');
    const [entry] = readdirSync(sessions);
    assert.deepEqual(readdirSync(join(sessions, entry!)), ['chat.json']);
    assert.deepEqual(readdirSync(ws).sort(), ['cat.txt', 'dog.txt']);
  });

  await t.test("a file's current text goes with the question when the cache lacks it, and says why", async () => {
    const cat = readFileSync(join(ws, 'cat.txt'), 'utf8');
    const same = await ask('Explain cat.txt', { quote: { path: 'cat.txt', text: cat } });
    assert.equal(same.added, undefined, 'the cache holds cat.txt as it is');
    assert.equal(same.turn.question, 'Explain cat.txt');

    const edited = cat.replace('red ball', 'blue kite');
    const changed = await ask('Explain cat.txt', { quote: { path: 'cat.txt', text: edited } });
    assert.deepEqual(changed.added, { path: 'cat.txt', reason: 'changed since the build' });
    assert.match(changed.turn.question, /^Explain cat\.txt\n\nThe current text of cat\.txt:\n\n```\n.*blue kite/s);
    assert.notEqual(changed.answer, same.answer, 'the model read the added text');

    const outside = await ask('Explain new.txt', { quote: { path: 'new.txt', text: 'Lily had a dog.\n' } });
    assert.equal(outside.added?.reason, 'outside the context');

    const selection = await ask('What is this?', { quote: { path: 'cat.txt', text: 'Tom was sad.', lines: [1, 1], whole: cat } });
    assert.equal(selection.added?.reason, 'selected', 'a selection always goes with its question');
    assert.match(selection.turn.question, /The current text of cat\.txt:1-1:/);
  });

  await t.test('added text is cut by whole lines to fit the conversation budget', async () => {
    const long = Array.from({ length: 60 }, (_, i) => `Line ${i} of the story.`).join('\n');
    const r = await ask('Explain long.txt', { quote: { path: 'long.txt', text: long }, maxTokens: 8, conversationBudget: 120 });
    assert.equal(r.added?.reason, 'outside the context');
    assert.equal(r.quoteLines?.total, 60);
    assert.ok(r.quoteLines!.kept > 0 && r.quoteLines!.kept < 60, `kept ${r.quoteLines!.kept} of 60 lines`);
    assert.ok(r.questionTokens < 120);
  });

  await t.test('a bad session name is refused with what to use', async () => {
    await assert.rejects(ask(q1, { session: '../x' }), /Session name "..\/x" is not allowed: use 1 to 64 letters/);
  });
});

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

test(
  'CLI: ask --session keeps the conversation across processes, --new starts it over',
  { skip: skip || (!existsSync(CLI) && 'dist/cli.js missing: run npm run build') },
  async (t) => {
    const ws = workspace();
    const cacheDir = mkdtempSync(join(tmpdir(), 'kvzip-convo-cli-'));
    t.after(() => {
      rmSync(ws, { recursive: true, force: true });
      rmSync(cacheDir, { recursive: true, force: true });
    });
    const ask = async (q: string, ...extra: string[]): Promise<AskResult> => {
      const r = spawnSync(
        process.execPath,
        [CLI, 'ask', ws, q, '--model', MODEL, '--cache-dir', cacheDir, '--max-tokens', '24', '--json', ...extra],
        {
          encoding: 'utf8',
          timeout: 120_000,
        },
      );
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as AskResult;
    };
    const first = await ask('Tom and Max', '--session', 'work');
    const follow = await ask('The ball', '--session', 'work');
    assert.equal(first.turnsUsed, 0);
    assert.equal(follow.turnsUsed, 1, '--json says one earlier turn was read');
    const restarted = await ask('The ball', '--session', 'work', '--new');
    assert.equal(restarted.turnsUsed, 0);
    assert.equal(restarted.answer, (await ask('The ball')).answer, 'a new session answers as the bare cache does');
    const budget = spawnSync(
      process.execPath,
      [CLI, 'ask', ws, 'Tom and Max', '--model', MODEL, '--cache-dir', cacheDir, '--conversation-budget', String(first.questionTokens + 3)],
      { encoding: 'utf8' },
    );
    assert.equal(budget.status, 0, budget.stderr);
    assert.match(budget.stderr, /^Stopped: the conversation budget \(--conversation-budget\) is full\.$/m);
  },
);
