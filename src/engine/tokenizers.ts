// A model's tokenizer, loaded once per engine process while its files are unchanged: the extension's context
// preview and the build it confirms run in one engine, and a Qwen tokenizer takes about a second to load.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ModelTokenizer } from '../model/tokenizer.ts';

const FILES = ['tokenizer.json', 'tokenizer_config.json'];

export interface LoadedTokenizer {
  tokenizer: ModelTokenizer;
  /** Identifies the tokenizer files' content: cache entries are keyed to it. */
  hash: string;
}

const loaded = new Map<string, { stamp: string; value: LoadedTokenizer }>();

export function modelTokenizer(dir: string, configEos: number[]): LoadedTokenizer {
  const key = `${dir}\0${configEos.join(',')}`;
  const stamp = FILES.map((f) => identity(join(dir, f))).join('|');
  const hit = loaded.get(key);
  if (hit && hit.stamp === stamp) return hit.value;
  const tokenizer = ModelTokenizer.load(dir, configEos);
  const h = createHash('sha256');
  for (const f of FILES) h.update(readFileSync(join(dir, f)));
  const value = { tokenizer, hash: h.digest('hex').slice(0, 16) };
  loaded.set(key, { stamp, value });
  return value;
}

/** A file's identity: a replaced or edited file has another. A missing one is left to the load to report. */
function identity(file: string): string {
  try {
    const st = statSync(file);
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  } catch {
    return 'missing';
  }
}
