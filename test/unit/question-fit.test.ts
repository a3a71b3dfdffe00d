// A question must fit in what the cached context leaves of the window, with room for an answer: a quoted
// selection is cut by whole lines, anything else too long is refused with the numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ANSWER_FLOOR, fitQuestion } from '../../src/engine/question.ts';
import { UserError } from '../../src/core/errors.ts';

/** One token per character: the arithmetic is visible. */
const encode = (t: string) => Array.from(t, (c) => c.charCodeAt(0));
const room = { window: 512, used: 300, maxTokens: 256 };
const max = 512 - 300 - ANSWER_FLOOR;

test('a question that fits is encoded as it is', () => {
  assert.deepEqual(fitQuestion(encode, 'why?', undefined, room).ids, encode('why?'));
});

test('a question longer than the room is refused with the numbers', () => {
  assert.throws(
    () => fitQuestion(encode, 'x'.repeat(max + 1), undefined, room),
    (e: unknown) =>
      e instanceof UserError &&
      e.code === 'question-too-long' &&
      e.message ===
        `The question is ${max + 1} tokens, but only ${max} fit: this model attends over 512 positions, the context takes 300 and ${ANSWER_FLOOR} are kept for the answer. Shorten the question.`,
  );
  assert.equal(fitQuestion(encode, 'x'.repeat(max), undefined, room).ids.length, max);
});

test('a context that fills the window leaves no room, and says how to make some', () => {
  assert.throws(
    () => fitQuestion(encode, 'why?', undefined, { window: 512, used: 500, maxTokens: 256 }),
    /no room is left for a question and an answer\. Build with a smaller --max-context-tokens/,
  );
});

test('a quote is cut by whole lines to the most that fit, and says how many', () => {
  const lines = Array.from({ length: 40 }, (_, i) => `line ${String(i).padStart(2, '0')}`);
  const r = fitQuestion(encode, 'What is this?', { text: lines.join('\n'), language: 'ts' }, room);
  assert.ok(r.quoteLines, 'it was cut');
  assert.equal(r.quoteLines.total, 40);
  assert.ok(r.ids.length <= max, `${r.ids.length} <= ${max}`);
  const text = String.fromCharCode(...r.ids);
  assert.ok(text.startsWith('What is this?\n\n```ts\nline 00\n'), text);
  assert.ok(text.includes(`line ${String(r.quoteLines.kept - 1).padStart(2, '0')}\n\`\`\``), 'the last kept line closes the block');
  assert.ok(!text.includes(`line ${String(r.quoteLines.kept).padStart(2, '0')}`), 'no line past the cut');
  assert.ok(text.endsWith(`(${40 - r.quoteLines.kept} more lines left out to fit the model's window)`));
  // One more line would not have fit.
  const k = r.quoteLines.kept + 1;
  const oneMore = `What is this?\n\n\`\`\`ts\n${lines.slice(0, k).join('\n')}\n\`\`\`\n(${40 - k} more lines left out to fit the model's window)`;
  assert.ok(encode(oneMore).length > max, 'the cut is the last line that fits');
  const small = fitQuestion(encode, 'What is this?', { text: 'a\nb' }, room);
  assert.equal(small.quoteLines, undefined, 'a short quote stays whole');
});

test('maxTokens below the floor keeps only that much room for the answer', () => {
  assert.equal(fitQuestion(encode, 'x'.repeat(512 - 300 - 4), undefined, { ...room, maxTokens: 4 }).ids.length, 208);
});

test('a conversation budget the user set is the limit: the question must fit, the answer may stop at its end', () => {
  const tight = { ...room, budget: 12 };
  assert.equal(fitQuestion(encode, 'x'.repeat(11), undefined, tight).ids.length, 11);
  assert.throws(
    () => fitQuestion(encode, 'x'.repeat(12), undefined, tight),
    /^UserError: The question is 12 tokens, and the conversation budget after the context is 12\. Shorten the question or raise the budget\.$/,
  );
});
