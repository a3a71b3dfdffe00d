// A model made ready for the engine: the model opened on its device, plus its tokenizer and the hash that keys
// cache entries to it.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModelTokenizer } from '../model/tokenizer.ts';
import { openModel, type DeviceModel, type OpenModelOptions } from '../runtime/open.ts';

export interface LoadedModel extends DeviceModel {
  tokenizer: ModelTokenizer;
  tokenizerHash: string;
}

export function loadModel(o: OpenModelOptions): LoadedModel {
  const model = openModel(o);
  const tokenizer = ModelTokenizer.load(model.dir, model.spec.eosTokenIds);
  const tokenizerHash = createHash('sha256')
    .update(readFileSync(join(model.dir, 'tokenizer.json')))
    .update(readFileSync(join(model.dir, 'tokenizer_config.json')))
    .digest('hex')
    .slice(0, 16);
  return Object.assign(model, { tokenizer, tokenizerHash });
}
