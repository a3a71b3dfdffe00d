// First-token time of a follow-up that reads 3 earlier turns, against the first question of a conversation, on
// the random Qwen2.5-0.5B-shaped model, CPU, from one compressed cache (ratio 0.3), in one run.
//
//   node --import tsx bench/conversation.bench.ts [--context 2048] [--rounds 3]
//
// Three kinds of question, interleaved each round so the machine's noise falls on all of them alike:
// - first: a new conversation (no earlier turn);
// - follow-up, tail kept: the 4th question of a conversation in the same engine, whose last tail KV is still in
//   memory, so only the new question's tokens are fed (the extension's case);
// - follow-up, tail rebuilt: the same 3 turns given to an engine whose last tail was another conversation's, so
//   the turns are fed again before the question (the CLI's `ask --session` in a new process).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureRandomQwen, RESULTS_DIR } from './randomQwen.ts';
import { codeWorkspace } from './codeWorkspace.ts';
import { Engine } from '../src/engine/engine.ts';
import type { AskResult, CacheSettings, ConversationTurn } from '../src/engine/protocol.ts';

const argv = process.argv.slice(2);
const arg = (name: string, fallback: number) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : fallback);
const CONTEXT = arg('--context', 2048);
const ROUNDS = arg('--rounds', 3);
const ANSWER = 24;
const log = (s: string) => console.error(`[conversation] ${s}`);
const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const QUESTIONS = [
  'Where is the cache written?',
  'And who calls that function?',
  'What does it return when the file is missing?',
  'Show the line that checks the size.',
];

const { dir: model } = ensureRandomQwen(log);
const root = mkdtempSync(join(tmpdir(), 'kvzip-convo-bench-'));
const ws = join(root, 'ws');
const cacheDir = join(root, 'cache');
const engine = new Engine();
const m = await engine.model({ model, device: 'cpu', cacheDir });
codeWorkspace(ws, (t) => m.tokenizer.encode(t), CONTEXT);
const s: CacheSettings = { workspace: ws, model, cacheDir, device: 'cpu', ratio: 0.3, level: 'pair' };
const built = await engine.build(s);
log(`built: ${built.contextTokens} tokens in ${round(built.buildMs / 1000, 1)} s`);
const ask = (question: string, history: ConversationTurn[]): Promise<AskResult> =>
  engine.ask({ ...s, question, maxTokens: ANSWER, history }, () => {});
await ask('Warm-up: what is in this repository?', []);

const first: number[] = [];
const kept: number[] = [];
const rebuilt: number[] = [];
const fed: Record<string, number> = {};
for (let r = 0; r < ROUNDS; r++) {
  let history: ConversationTurn[] = [];
  for (const q of QUESTIONS.slice(0, 3)) history = [...history, (await ask(q, history)).turn];
  const follow = await ask(QUESTIONS[3]!, history);
  if (follow.turnsUsed !== 3) throw new Error(`the follow-up read ${follow.turnsUsed} turns, not 3`);
  kept.push(follow.ttftMs);
  const fresh = await ask(QUESTIONS[3]!, []);
  first.push(fresh.ttftMs);
  const again = await ask(QUESTIONS[3]!, history);
  rebuilt.push(again.ttftMs);
  fed.tailTokens = history.reduce((n, t) => n + t.answerIds.length, 0) + follow.questionTokens;
  fed.questionTokens = fresh.questionTokens;
  log(
    `round ${r + 1}: first ${round(fresh.ttftMs, 1)} ms, follow-up kept ${round(follow.ttftMs, 1)} ms, rebuilt ${round(again.ttftMs, 1)} ms`,
  );
}
rmSync(root, { recursive: true, force: true });

const out = {
  benchmark: 'conversation',
  model: 'Qwen2.5-0.5B shapes, random weights, fp32, CPU',
  contextTokens: built.contextTokens,
  ratio: 0.3,
  rounds: ROUNDS,
  answerTokens: ANSWER,
  firstQuestionTtftMs: round(median(first), 1),
  followUpTailKeptTtftMs: round(median(kept), 1),
  followUpTailRebuiltTtftMs: round(median(rebuilt), 1),
  tailKeptOverFirst: round(median(kept) / median(first)),
  tailRebuiltOverFirst: round(median(rebuilt) / median(first)),
  ...fed,
  all: { first: first.map((x) => round(x, 1)), kept: kept.map((x) => round(x, 1)), rebuilt: rebuilt.map((x) => round(x, 1)) },
};
writeFileSync(join(RESULTS_DIR, 'conversation.json'), JSON.stringify(out, null, 1) + '\n');
console.log(JSON.stringify(out, null, 1));
