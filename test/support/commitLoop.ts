// A builder process for the cache store race test: commits `count` generations of one entry as fast as it can.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CacheStore } from '../../src/cache/store.ts';
import type { Manifest } from '../../src/cache/manifest.ts';

const [root, key, count] = [process.argv[2]!, process.argv[3]!, Number(process.argv[4])];
const store = new CacheStore(root);
for (let i = 0; i < count; i++) {
  const gen = store.begin(key);
  writeFileSync(join(gen, 'kv.bin'), randomBytes(4096 + Math.floor(Math.random() * 4096)));
  const manifest = { key, workspace: root, createdAt: new Date().toISOString() } as unknown as Omit<Manifest, 'files' | 'formatVersion'>;
  await store.commit(gen, manifest, ['kv.bin']);
}
