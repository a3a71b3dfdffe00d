// A model made ready for the engine: the model opened on its device, plus its tokenizer and the hash that keys
// cache entries to it.
import { join, resolve } from 'node:path';
import { PhaseTimes } from '../core/timings.ts';
import { loadModelSpec, type ModelSpec } from '../model/config.ts';
import { ModelError } from '../model/errors.ts';
import type { ModelTokenizer } from '../model/tokenizer.ts';
import { openModel, type DeviceModel, type OpenModelOptions } from '../runtime/open.ts';
import { modelTokenizer, tokenizerHash } from './tokenizers.ts';

export interface LoadedModel extends DeviceModel {
  /**
   * Loaded at first use: a new process answering from a cache finds the cache by the hash alone, and loads the
   * tokenizer while its answering session opens on its own thread (runtime/threadSession.ts).
   */
  readonly tokenizer: ModelTokenizer;
  /** Loads the tokenizer now unless it is loaded, timed in `times` (the request's) or else the opening's. */
  loadTokenizer(times?: PhaseTimes): ModelTokenizer;
  tokenizerHash: string;
}

export function loadModel(o: OpenModelOptions): LoadedModel {
  const dir = resolve(o.modelDir);
  const spec = loadModelSpec(dir);
  let tokenizer: ModelTokenizer | undefined;
  const load = (times = o.times ?? new PhaseTimes()) => (tokenizer ??= times.timeSync('tokenizer', () => checkedTokenizer(dir, spec)));
  // The tokenizer is checked against the config before weights are converted: that can take minutes.
  const model = openModel({ ...o, beforeConverting: () => load() });
  return Object.defineProperties(model, {
    tokenizer: { get: () => load(), enumerable: true },
    loadTokenizer: { value: load },
    tokenizerHash: { value: tokenizerHash(dir), enumerable: true, writable: true },
  }) as LoadedModel;
}

function checkedTokenizer(dir: string, spec: ModelSpec): ModelTokenizer {
  const tokenizer = modelTokenizer(dir, spec.eosTokenIds);
  if (tokenizer.idLimit > spec.vocabSize) {
    // An id past the embedding table fails inside onnxruntime, at the first text that encodes to one.
    throw new ModelError(
      join(dir, 'tokenizer.json'),
      `gives ids up to ${tokenizer.idLimit - 1}, but config.json's vocab_size is ${spec.vocabSize}, so the model has no embedding for ids from ${spec.vocabSize} up`,
      'The tokenizer files are not the ones this checkpoint was trained with: use the tokenizer.json and tokenizer_config.json that came with it',
    );
  }
  return tokenizer;
}
