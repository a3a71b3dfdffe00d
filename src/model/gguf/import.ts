// A GGUF file becomes a model folder like a Hugging Face checkpoint's: config.json, tokenizer.json and
// tokenizer_config.json made from its metadata, plus gguf.json, which says where each tensor's bytes lie in the
// GGUF. The weights stay in the GGUF; nothing is copied. One folder per file identity (path, size, mtime),
// written once and reused, so opening a GGUF again costs one stat per shard.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ModelError } from '../errors.ts';
import { checkReadable, readGguf, shardFiles } from './file.ts';
import { ggufArchitecture, ggufConfig, PERMUTED_ARCHITECTURES } from './config.ts';
import { ggufTensorRefs, type GgufTensorRef } from './tensors.ts';
import { ggufTokenizer } from './tokenizer.ts';
import { isGgufFile } from '../stores.ts';

export const GGUF_INDEX = 'gguf.json';
// 1: first layout.
const IMPORT_VERSION = 1;

export interface GgufIndex {
  version: number;
  /** The GGUF's shards as imported: a changed file is imported again. */
  files: { path: string; size: number; mtimeMs: number }[];
  architecture: string;
  tensors: Record<string, GgufTensorRef>;
}

const identity = (files: string[]) =>
  files.map((f) => {
    const st = statSync(f);
    return { path: f, size: st.size, mtimeMs: st.mtimeMs };
  });

/** The model folder for `file` under `root`, imported now if it is missing or the file changed. */
export async function importGguf(file: string, root: string): Promise<string> {
  const files = shardFiles(resolve(file));
  for (const f of files) {
    if (!existsSync(f)) throw new ModelError(f, 'is missing', 'Check the path; a split GGUF needs every shard beside the first');
  }
  const id = identity(files);
  const key = createHash('sha256').update(JSON.stringify(id)).digest('hex').slice(0, 16);
  const dir = join(root, key);
  const current = readIndex(dir);
  if (current && current.version === IMPORT_VERSION && JSON.stringify(current.files) === JSON.stringify(id)) return dir;

  const model = await readGguf(files[0]!);
  const arch = ggufArchitecture(model);
  const config = ggufConfig(model);
  const { tokenizerJson, tokenizerConfig } = ggufTokenizer(model);
  for (const t of model.tensors.values()) checkReadable(t);
  const heads = { q: config.num_attention_heads as number, kv: config.num_key_value_heads as number };
  const index: GgufIndex = {
    version: IMPORT_VERSION,
    files: id,
    architecture: arch,
    tensors: ggufTensorRefs(model, heads, PERMUTED_ARCHITECTURES.has(arch)),
  };
  // Written into a fresh folder, then renamed into place: a crash leaves either the old folder or none.
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const tmp = `${dir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { mode: 0o700 });
  try {
    const put = (name: string, value: object) => writeFileSync(join(tmp, name), JSON.stringify(value), { mode: 0o600 });
    put('config.json', config);
    put('tokenizer.json', tokenizerJson);
    put('tokenizer_config.json', tokenizerConfig);
    put(GGUF_INDEX, index);
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return dir;
}

export function readIndex(dir: string): GgufIndex | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, GGUF_INDEX), 'utf8')) as GgufIndex;
  } catch {
    return undefined;
  }
}

/** A model's path as a model folder: GGUF files (by content: Ollama's blobs have no extension) are imported under `cacheDir`, folders pass through. */
export async function modelFolder(path: string, cacheDir: string): Promise<string> {
  return isGgufFile(path) ? importGguf(path, join(cacheDir, 'gguf')) : path;
}
