// The stores users keep models in, through the CLI in fresh processes, with no network (HF_ENDPOINT points at a
// closed port, HOME is empty): an Ollama store at OLLAMA_MODELS holding the real SmolLM2 GGUF as a blob, and a
// Hugging Face cache at HF_HUB_CACHE holding stories260K, both laid out by the test as those tools lay them out.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cli, skipWithoutStories, storyWorkspace, STORIES } from '../support/cli.ts';
import { REAL_MODELS, realModelOrSkip } from '../support/realModels.ts';

const tmp = mkdtempSync(join(tmpdir(), 'kvzip-stores-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const home = join(tmp, 'home');
mkdirSync(home);
const offline = { HOME: home, HF_ENDPOINT: 'http://127.0.0.1:9', XDG_CACHE_HOME: join(home, '.cache') };
const json = <T>(stdout: string) => JSON.parse(stdout) as T;

const smol = await realModelOrSkip('smollm2-135m-q4_1');

test('ollama:NAME:TAG runs the GGUF blob its manifest names', { skip: smol.skip }, async () => {
  const store = join(tmp, 'ollama');
  const hex = REAL_MODELS['smollm2-135m-q4_1'].sha256;
  mkdirSync(join(store, 'blobs'), { recursive: true });
  symlinkSync(smol.path!, join(store, 'blobs', `sha256-${hex}`));
  const manifests = join(store, 'manifests', 'registry.ollama.ai', 'library', 'smollm2');
  mkdirSync(manifests, { recursive: true });
  writeFileSync(
    join(manifests, '135m'),
    JSON.stringify({
      schemaVersion: 2,
      layers: [
        { mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${hex}`, size: REAL_MODELS['smollm2-135m-q4_1'].size },
        { mediaType: 'application/vnd.ollama.image.template', digest: `sha256:${'0'.repeat(64)}`, size: 1 },
      ],
    }),
  );
  const args = (model: string) => [
    'generate',
    '--model',
    model,
    '--prompt',
    'def square(x):',
    '--max-tokens',
    '8',
    '--device',
    'cpu',
    '--json',
  ];
  const env = { ...offline, OLLAMA_MODELS: store, KVZIP_CACHE_DIR: join(tmp, 'cache') };
  const viaStore = await cli(args('ollama:smollm2:135m'), env);
  assert.equal(viaStore.code, 0, viaStore.stderr);
  const direct = await cli(args(smol.path!), env);
  const r = json<{ ids: number[]; modelPath: string }>(viaStore.stdout);
  assert.deepEqual(r.ids, json<{ ids: number[] }>(direct.stdout).ids, 'the same tokens as the file itself');
  assert.equal(r.modelPath, join(store, 'blobs', `sha256-${hex}`));

  const missing = await cli(args('ollama:smollm2:1.7b'), env);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /tags are 135m/, 'names what the store holds');
});

test('a Hub name in the Hugging Face cache is used where it lies, and info names that folder', { skip: skipWithoutStories }, async () => {
  const hub = join(tmp, 'hf-hub');
  const repo = join(hub, 'models--kvzip--stories260K');
  const rev = '0123456789abcdef0123456789abcdef01234567';
  mkdirSync(join(repo, 'refs'), { recursive: true });
  writeFileSync(join(repo, 'refs', 'main'), rev);
  const snapshot = join(repo, 'snapshots', rev);
  mkdirSync(snapshot, { recursive: true });
  // The Hub cache's snapshots are symlinks into blobs/; these point at the shared model's files the same way.
  for (const f of readdirSync(STORIES)) symlinkSync(join(STORIES, f), join(snapshot, f));
  const env = { ...offline, HF_HUB_CACHE: hub };
  const cacheDir = join(tmp, 'hf-cache');
  const ws = storyWorkspace();
  const built = await cli(['build', ws, '--model', 'kvzip/stories260K', '--device', 'cpu', '--cache-dir', cacheDir, '--json'], env);
  assert.equal(built.code, 0, built.stderr);
  const info = await cli(['info', '--cache-dir', cacheDir, '--json'], env);
  assert.equal(info.code, 0, info.stderr);
  const entries = json<{ modelPath: string }[]>(info.stdout);
  assert.deepEqual(
    entries.map((e) => e.modelPath),
    [snapshot],
  );
  rmSync(ws, { recursive: true, force: true });
});
