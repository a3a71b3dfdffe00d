// A model made ready for the engine: the model opened on its device, plus its tokenizer and the hash that keys
// cache entries to it.
import { join, resolve } from 'node:path';
import { PhaseTimes } from '../core/timings.ts';
import { loadModelSpec } from '../model/config.ts';
import { ModelError } from '../model/errors.ts';
import type { ModelTokenizer } from '../model/tokenizer.ts';
import { openModel, type DeviceModel, type OpenModelOptions } from '../runtime/open.ts';
import { modelTokenizer } from './tokenizers.ts';

export interface LoadedModel extends DeviceModel {
  tokenizer: ModelTokenizer;
  tokenizerHash: string;
}

export function loadModel(o: OpenModelOptions): LoadedModel {
  // The tokenizer is checked against the config before the weights are prepared: that can take minutes.
  const dir = resolve(o.modelDir);
  const spec = loadModelSpec(dir);
  const { tokenizer, hash: tokenizerHash } = (o.times ?? new PhaseTimes()).timeSync('tokenizer', () =>
    modelTokenizer(dir, spec.eosTokenIds),
  );
  if (tokenizer.idLimit > spec.vocabSize) {
    // An id past the embedding table fails inside onnxruntime, at the first text that encodes to one.
    throw new ModelError(
      join(dir, 'tokenizer.json'),
      `gives ids up to ${tokenizer.idLimit - 1}, but config.json's vocab_size is ${spec.vocabSize}, so the model has no embedding for ids from ${spec.vocabSize} up`,
      'The tokenizer files are not the ones this checkpoint was trained with: use the tokenizer.json and tokenizer_config.json that came with it',
    );
  }
  const model = openModel(o);
  return Object.assign(model, { tokenizer, tokenizerHash });
}
