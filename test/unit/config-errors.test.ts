// Issue 2, bar 4 (config side): a bad checkpoint folder gives one ModelError whose message names the file at
// fault and says what to do, never a stack trace. Errors are raised through prepareModel, the path the CLI and
// the engine take.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { loadModelSpec, parseModelSpec } from '../../src/model/config.ts';
import { prepareModel } from '../../src/model/prepare.ts';
import { expectModelError } from '../support/modelError.ts';
import { writeSafetensors, writeShardedSafetensors } from '../support/safetensorsWriter.ts';
import { randomWeights, tinyConfig, writeTinyModel } from '../support/tinyModel.ts';

const tmp = mkdtempSync(join(tmpdir(), 'kvzip-config-errors-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = () => {
  const dir = join(tmp, `m${n++}`);
  mkdirSync(dir);
  return dir;
};
const prepare = (dir: string) => prepareModel({ modelDir: dir, dtype: 'fp32', root: join(tmp, 'prepared') });

const SMALL = { hiddenSize: 32, intermediateSize: 48, numHeads: 4, numKvHeads: 2, vocabSize: 64 } as const;

describe('config.json errors', () => {
  test('missing config.json', () => {
    const dir = fresh();
    expectModelError(() => prepare(dir), join(dir, 'config.json'), /not found/, /Point --model at a Hugging Face checkpoint folder/);
  });

  test('invalid JSON', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'config.json'), '{"architectures": ["LlamaForCausalLM"],');
    expectModelError(() => prepare(dir), join(dir, 'config.json'), /not valid JSON/, /Download the file again/);
  });

  test('JSON that is not an object', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'config.json'), '[1, 2]');
    expectModelError(() => loadModelSpec(dir), join(dir, 'config.json'), /not a JSON object/, /Download/);
  });

  test('unsupported architecture names it and the supported ones', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...tinyConfig(SMALL), architectures: ['GPT2LMHeadModel'] }));
    expectModelError(
      () => prepare(dir),
      join(dir, 'config.json'),
      /"GPT2LMHeadModel" is not supported/,
      /LlamaForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, MistralForCausalLM/,
    );
  });

  test('unsupported fields are named', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ hidden_act: 'gelu' }, /hidden_act "gelu" is not supported/],
      [{ quantization_config: { quant_method: 'awq' } }, /"quantization_config" is not supported/],
      [{ partial_rotary_factor: 0.5 }, /"partial_rotary_factor" is not supported/],
      [{ rope_scaling: { rope_type: 'dynamic', factor: 2 } }, /rope_scaling type "dynamic" is not supported/],
      [{ rope_scaling: { rope_type: 'linear' } }, /rope_scaling.factor must be a positive number/],
      [{ hidden_size: -4 }, /"hidden_size" must be a positive number/],
      [{ num_hidden_layers: 2.5 }, /"num_hidden_layers" must be an integer/],
      [{ vocab_size: undefined }, /"vocab_size" is missing/],
    ];
    for (const [fields, problem] of bad) {
      expectModelError(
        () => parseModelSpec(tinyConfig({ ...SMALL, config: fields }), '/m/config.json'),
        '/m/config.json',
        problem,
        /\. \S/,
      );
    }
  });
});

describe('weights that do not match config.json', () => {
  test('a missing tensor is named', () => {
    const dir = fresh();
    const { spec } = writeTinyModel(dir, SMALL);
    writeSafetensors(
      join(dir, 'model.safetensors'),
      randomWeights(spec, 1).filter((t) => t.name !== 'model.layers.1.mlp.up_proj.weight'),
    );
    expectModelError(
      () => prepare(dir),
      join(dir, 'model.safetensors'),
      /tensor "model.layers.1.mlp.up_proj.weight" is missing/,
      /does not match its config.json; download it again/,
    );
  });

  test('sharded: a missing tensor names the index, not a model.safetensors that does not exist', () => {
    const dir = fresh();
    const { spec } = writeTinyModel(dir, { ...SMALL, shards: 2 });
    rmSync(join(dir, 'model-00001-of-00002.safetensors'));
    rmSync(join(dir, 'model-00002-of-00002.safetensors'));
    writeShardedSafetensors(
      dir,
      randomWeights(spec, 1).filter((t) => t.name !== 'model.norm.weight'),
      2,
    );
    expectModelError(() => prepare(dir), join(dir, 'model.safetensors.index.json'), /"model.norm.weight" is missing/, /download it again/);
  });

  test('untied config over a tied checkpoint: lm_head.weight missing', () => {
    const dir = fresh();
    writeTinyModel(dir, { ...SMALL, tieWordEmbeddings: true });
    writeFileSync(join(dir, 'config.json'), JSON.stringify(tinyConfig({ ...SMALL, tieWordEmbeddings: false })));
    expectModelError(() => prepare(dir), join(dir, 'model.safetensors'), /"lm_head.weight" is missing/, /download it again/);
  });

  test('a wrong shape names both shapes', () => {
    const dir = fresh();
    const { spec } = writeTinyModel(dir, SMALL);
    const tensors = randomWeights(spec, 1).map((t) =>
      t.name === 'model.layers.0.self_attn.k_proj.weight' ? { ...t, shape: [...t.shape].reverse() } : t,
    );
    writeSafetensors(join(dir, 'model.safetensors'), tensors);
    expectModelError(
      () => prepare(dir),
      join(dir, 'model.safetensors'),
      /"model.layers.0.self_attn.k_proj.weight" has shape \[32,16\] but config.json implies \[16,32\]/,
      /download it again/,
    );
  });

  test('no weights at all', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'config.json'), JSON.stringify(tinyConfig(SMALL)));
    expectModelError(() => prepare(dir), join(dir, 'model.safetensors'), /not found/, /needs the checkpoint weights/);
  });
});
