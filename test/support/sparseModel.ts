// A checkpoint of any size that costs no disk: config.json, the tokenizer files, and a safetensors file whose
// header lists every tensor and whose data is a hole (sparse zeros). Zero weights are finite and convert like any
// others, so a model of hundreds of millions of parameters prepares and runs slowly for real, and one larger than
// the machine's memory is a real checkpoint that cannot fit.
import { closeSync, ftruncateSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parseModelSpec, type ModelSpec } from '../../src/model/config.ts';
import { requiredWeights } from '../../src/model/weights.ts';
import { tinyConfig, tinyTokenizerFiles, type TinyModelOptions } from './tinyModel.ts';

export function writeSparseModel(dir: string, o: TinyModelOptions = {}): { dir: string; spec: ModelSpec; fileBytes: number } {
  mkdirSync(dir, { recursive: true });
  const config = tinyConfig(o);
  const spec = parseModelSpec(config);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const w of requiredWeights(spec)) {
    const bytes = w.shape.reduce((a, b) => a * b, 1) * 2;
    header[w.name] = { dtype: 'BF16', shape: w.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header).padEnd(Math.ceil(JSON.stringify(header).length / 8) * 8, ' '));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const file = join(dir, 'model.safetensors');
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, length);
    writeSync(fd, json);
    ftruncateSync(fd, 8 + json.length + offset);
  } finally {
    closeSync(fd);
  }
  const tok = tinyTokenizerFiles(spec.vocabSize);
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tok.tokenizer));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(tok.tokenizerConfig));
  return { dir, spec, fileBytes: 8 + json.length + offset };
}
