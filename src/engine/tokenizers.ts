// A model's tokenizer, loaded once per engine process while its files are unchanged: the extension's context
// preview and the build it confirms run in one engine, and a Qwen tokenizer takes about half a second to load.
// Its hash (what keys cache entries) costs a read of the files, so a cache can be found before it is loaded.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ModelTokenizer } from '../model/tokenizer.ts';

const FILES = ['tokenizer.json', 'tokenizer_config.json'];

const hashes = new Map<string, { stamp: string; hash: string }>();
const loaded = new Map<string, { stamp: string; tokenizer: ModelTokenizer }>();

/** Identifies the tokenizer files' content: cache entries are keyed to it. A missing file is left to the load. */
export function tokenizerHash(dir: string): string {
  const stamp = stampOf(dir);
  const hit = hashes.get(dir);
  if (hit && hit.stamp === stamp) return hit.hash;
  const h = createHash('sha256');
  for (const f of FILES) {
    try {
      h.update(readFileSync(join(dir, f)));
    } catch {
      h.update('missing');
    }
  }
  const hash = h.digest('hex').slice(0, 16);
  hashes.set(dir, { stamp, hash });
  return hash;
}

export function modelTokenizer(dir: string, configEos: number[]): ModelTokenizer {
  const key = `${dir}\0${configEos.join(',')}`;
  const stamp = stampOf(dir);
  const hit = loaded.get(key);
  if (hit && hit.stamp === stamp) return hit.tokenizer;
  const tokenizer = ModelTokenizer.load(dir, configEos);
  loaded.set(key, { stamp, tokenizer });
  return tokenizer;
}

/** The files' identities: a replaced or edited file has another. */
function stampOf(dir: string): string {
  return FILES.map((f) => identity(join(dir, f))).join('|');
}

function identity(file: string): string {
  try {
    const st = statSync(file);
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  } catch {
    return 'missing';
  }
}
