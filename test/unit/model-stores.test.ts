// --model finds the models users already have: GGUF files (split ones too), Ollama's store, LM Studio's folder and
// the Hugging Face cache, on store layouts generated under a temporary HOME, with small real GGUF files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GGMLQuantizationType } from '@huggingface/gguf';
import { locateModel, ModelLocationError, storeRoots, type StoreRoots } from '../../src/model/stores.ts';
import { resolveModel } from '../../src/engine/resolveModel.ts';
import { parseCommandLine, UsageError } from '../../src/cli/args.ts';
import { listLocalModels, inspectModel } from '../../src/model/localModels.ts';
import { checkPickedModel, modelChoices } from '../../src/extension/models.ts';
import { parameterCounts } from '../../src/model/presets.ts';
import { writeTinyModel } from '../support/tinyModel.ts';
import { parameterCount, tinyLlamaTensors, u32, writeGguf, type GgufValue } from '../support/writeGguf.ts';

const ENV_KEYS = ['HOME', 'OLLAMA_MODELS', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'HF_HOME', 'XDG_CACHE_HOME', 'HF_ENDPOINT'];

/** A fresh HOME with no store variables set; the environment comes back after the test. */
function freshHome(t: { after: (f: () => void) => void }): string {
  const home = mkdtempSync(join(tmpdir(), 'kvzip-stores-'));
  const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  for (const k of ENV_KEYS) delete process.env[k];
  process.env.HOME = home;
  // Nothing may be downloaded: a request would go to a closed port and fail.
  process.env.HF_ENDPOINT = 'http://127.0.0.1:9';
  t.after(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(home, { recursive: true, force: true });
  });
  return home;
}

function llamaMeta(o: { arch?: string; ctx?: number; fileType?: number; name?: string } = {}): Record<string, GgufValue> {
  const arch = o.arch ?? 'llama';
  const meta: Record<string, GgufValue> = {
    'general.architecture': arch,
    'general.name': o.name ?? 'Tiny Llama',
    [`${arch}.context_length`]: u32(o.ctx ?? 4096),
    [`${arch}.block_count`]: u32(1),
    'tokenizer.ggml.model': 'gpt2',
    'tokenizer.ggml.tokens': ['a', 'b', 'c'],
  };
  if (o.fileType !== undefined) meta['general.file_type'] = u32(o.fileType);
  return meta;
}

/** An Ollama store holding `name:tag` (library namespace unless NAME has one); returns the blob's path. */
function ollamaPull(root: string, name: string, tag: string, gguf: Buffer): string {
  const [ns, model] = name.includes('/') ? name.split('/') : ['library', name];
  const hex = createHash('sha256').update(gguf).digest('hex');
  const blobs = join(root, 'blobs');
  mkdirSync(blobs, { recursive: true });
  const blob = join(blobs, `sha256-${hex}`);
  writeFileSync(blob, gguf);
  const manifestDir = join(root, 'manifests', 'registry.ollama.ai', ns!, model!);
  mkdirSync(manifestDir, { recursive: true });
  writeFileSync(
    join(manifestDir, tag),
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 2 },
      layers: [
        { mediaType: 'application/vnd.ollama.image.model', digest: `sha256:${hex}`, size: gguf.length },
        { mediaType: 'application/vnd.ollama.image.template', digest: `sha256:${'1'.repeat(64)}`, size: 10 },
      ],
    }),
  );
  return blob;
}

/** A Hugging Face cache entry as huggingface_hub writes it: files in blobs/ by hash, the snapshot as links to them. */
function hfCacheEntry(root: string, repo: string, fill: (dir: string) => void, o: { refs?: boolean } = {}): string {
  const dir = join(root, `models--${repo.replace('/', '--')}`);
  const rev = createHash('sha1').update(repo).digest('hex');
  const snapshot = join(dir, 'snapshots', rev);
  const staging = mkdtempSync(join(tmpdir(), 'kvzip-hf-stage-'));
  fill(staging);
  mkdirSync(join(dir, 'blobs'), { recursive: true });
  mkdirSync(snapshot, { recursive: true });
  for (const f of readdirSync(staging)) {
    const hash = createHash('sha256').update(f).digest('hex');
    renameSync(join(staging, f), join(dir, 'blobs', hash));
    symlinkSync(join('..', '..', 'blobs', hash), join(snapshot, f));
  }
  rmSync(staging, { recursive: true, force: true });
  if (o.refs !== false) {
    mkdirSync(join(dir, 'refs'), { recursive: true });
    writeFileSync(join(dir, 'refs', 'main'), rev);
  }
  return snapshot;
}

function rejects(f: () => unknown, pattern: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof ModelLocationError, `a ModelLocationError, not ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

test('store roots: OLLAMA_MODELS, HF_HUB_CACHE, HF_HOME and XDG_CACHE_HOME, else folders under HOME', (t) => {
  const home = freshHome(t);
  assert.deepEqual(storeRoots(), {
    ollama: join(home, '.ollama', 'models'),
    lmstudio: join(home, '.lmstudio', 'models'),
    huggingface: join(home, '.cache', 'huggingface', 'hub'),
  });
  process.env.XDG_CACHE_HOME = join(home, 'xdg');
  assert.equal(storeRoots().huggingface, join(home, 'xdg', 'huggingface', 'hub'));
  process.env.HF_HOME = join(home, 'hf');
  assert.equal(storeRoots().huggingface, join(home, 'hf', 'hub'));
  process.env.HF_HUB_CACHE = join(home, 'hub-cache');
  process.env.OLLAMA_MODELS = join(home, 'ollama-store');
  assert.deepEqual(storeRoots(), {
    ollama: join(home, 'ollama-store'),
    lmstudio: join(home, '.lmstudio', 'models'),
    huggingface: join(home, 'hub-cache'),
  });
});

test('a .gguf path, and split files by any shard: the first shard, every shard checked', (t) => {
  const home = freshHome(t);
  const single = join(home, 'one.gguf');
  writeGguf(single, llamaMeta(), tinyLlamaTensors());
  assert.deepEqual(locateModel(single), { path: single, format: 'gguf', store: 'path', files: [single] });

  const dir = join(home, 'split');
  mkdirSync(dir);
  const shards = [1, 2, 3].map((i) => join(dir, `tiny-0000${i}-of-00003.gguf`));
  const tensors = tinyLlamaTensors();
  const parts = [tensors.slice(0, 4), tensors.slice(4, 8), tensors.slice(8)];
  shards.forEach((f, i) => writeGguf(f, i === 0 ? { ...llamaMeta(), 'split.count': u32(3) } : { 'split.no': u32(i) }, parts[i]));
  for (const given of shards) {
    const m = locateModel(given);
    assert.ok(m.store === 'path');
    assert.equal(m.path, shards[0], `given ${given}`);
    assert.deepEqual(m.files, shards);
  }
  // A folder holding one model is that model.
  assert.equal((locateModel(dir) as { path: string }).path, shards[0]);

  rmSync(shards[1]!);
  rejects(() => locateModel(shards[2]!), /split into 3 files and tiny-00002-of-00003\.gguf is missing from .*split/);
  rmSync(shards[0]!);
  rejects(() => locateModel(shards[2]!), /tiny-00001-of-00003\.gguf, tiny-00002-of-00003\.gguf are missing/);
  rejects(() => locateModel(join(home, 'nothing.gguf')), /nothing\.gguf does not exist/);
});

test('ollama:NAME[:TAG] reads the manifest and names the model blob; unknown names list what the store holds', async (t) => {
  const home = freshHome(t);
  const store = join(home, '.ollama', 'models');
  const bytes = writeGguf(join(home, 'src.gguf'), llamaMeta({ fileType: 7 }), tinyLlamaTensors());
  const latest = ollamaPull(store, 'tiny', 'latest', bytes);
  const other = writeGguf(join(home, 'src2.gguf'), llamaMeta({ name: 'Other' }), tinyLlamaTensors({ hidden: 32 }));
  const tagged = ollamaPull(store, 'tiny', '1b', other);
  const namespaced = ollamaPull(store, 'someone/coder', 'q4', bytes);

  assert.deepEqual(
    locateModel('ollama:tiny'),
    { path: latest, format: 'gguf', store: 'ollama', files: [latest] },
    'TAG defaults to latest',
  );
  assert.equal((locateModel('ollama:tiny:1b') as { path: string }).path, tagged);
  assert.equal((locateModel('ollama:someone/coder:q4') as { path: string }).path, namespaced);
  assert.equal(await resolveModel('ollama:tiny:1b', join(home, 'cache')), tagged, 'resolveModel returns the blob (a GGUF file)');

  rejects(() => locateModel('ollama:tiny:7b'), /has tiny but not its tag "7b"; its tags are 1b, latest/);
  rejects(
    () => locateModel('ollama:nope'),
    new RegExp(`ollama:nope:latest is not in the Ollama store at ${store}.*It holds someone/coder:q4, tiny:1b, tiny:latest`),
  );

  // OLLAMA_MODELS moves the store.
  const moved = join(home, 'elsewhere');
  const blob = ollamaPull(moved, 'tiny', 'latest', other);
  process.env.OLLAMA_MODELS = moved;
  assert.equal((locateModel('ollama:tiny') as { path: string }).path, blob);
  rmSync(blob);
  rejects(() => locateModel('ollama:tiny'), /its model blob .*sha256-[0-9a-f]{64} is missing from the store/);
  process.env.OLLAMA_MODELS = join(home, 'no-store');
  rejects(() => locateModel('ollama:tiny'), /there is no Ollama store at .*no-store/);
});

test('LM Studio: one GGUF in a model folder is chosen; several ask for the file', (t) => {
  const home = freshHome(t);
  const folder = join(home, '.lmstudio', 'models', 'pub', 'tiny-GGUF');
  mkdirSync(folder, { recursive: true });
  const q8 = join(folder, 'tiny-Q8_0.gguf');
  writeGguf(q8, llamaMeta({ fileType: 7 }), tinyLlamaTensors());
  writeGguf(join(folder, 'mmproj-tiny-f16.gguf'), { 'general.architecture': 'clip' });
  assert.deepEqual(
    locateModel('lmstudio:pub/tiny-GGUF'),
    { path: q8, format: 'gguf', store: 'lmstudio', files: [q8] },
    'a projector is no model',
  );
  assert.equal((locateModel('lmstudio:tiny-GGUF') as { path: string }).path, q8, 'the model folder alone, when one publisher has it');
  assert.equal((locateModel(folder) as { path: string }).path, q8, 'the folder as a path');

  const q4 = join(folder, 'tiny-Q4_0.gguf');
  writeGguf(q4, llamaMeta({ fileType: 2 }), tinyLlamaTensors({ type: GGMLQuantizationType.Q4_0 }));
  rejects(
    () => locateModel('lmstudio:pub/tiny-GGUF'),
    /holds 2 GGUF models; choose one by its file, e\.g\. lmstudio:pub\/tiny-GGUF\/tiny-Q4_0\.gguf/,
  );
  assert.equal((locateModel('lmstudio:pub/tiny-GGUF/tiny-Q4_0.gguf') as { path: string }).path, q4);
  rejects(() => locateModel('lmstudio:pub/other'), /not in LM Studio's models folder .* It holds pub\/tiny-GGUF/);
});

test('a Hub name resolves from the Hugging Face cache where it lies; a preset too, with no download', async (t) => {
  const home = freshHome(t);
  const hub = join(home, 'hub');
  process.env.HF_HUB_CACHE = hub;
  const snapshot = hfCacheEntry(hub, 'someone/tiny-llama', (d) => writeTinyModel(d));
  assert.deepEqual(locateModel('someone/tiny-llama'), { path: snapshot, format: 'safetensors', store: 'huggingface', files: [] });

  // A preset whose repo is in the cache is used there: HF_ENDPOINT is a closed port, so a download would fail.
  const preset = hfCacheEntry(hub, 'Qwen/Qwen2.5-Coder-1.5B-Instruct', (d) => writeTinyModel(d, { architecture: 'Qwen2ForCausalLM' }));
  const cache = join(home, 'kvzip-cache');
  for (const name of ['qwen2.5-coder-1.5b', 'Qwen2.5-Coder-1.5B-Instruct', 'Qwen/Qwen2.5-Coder-1.5B-Instruct']) {
    assert.equal(await resolveModel(name, cache), preset, name);
  }
  // HF_HOME/hub when HF_HUB_CACHE is not set.
  delete process.env.HF_HUB_CACHE;
  process.env.HF_HOME = home;
  assert.equal((locateModel('someone/tiny-llama') as { path: string }).path, snapshot);

  const broken = hfCacheEntry(hub, 'someone/no-ref', (d) => writeTinyModel(d), { refs: false });
  assert.ok(broken);
  rejects(
    () => locateModel('someone/no-ref'),
    /models--someone--no-ref has no refs\/main, so which of its snapshots is current is unknown/,
  );
  rejects(
    () => locateModel('someone/absent'),
    /someone\/absent is not in the Hugging Face cache at .*hub \(it holds Qwen\/Qwen2\.5-Coder-1\.5B-Instruct, someone\/no-ref, someone\/tiny-llama\)/,
  );
  // An unfinished download: the link into blobs/ is there, the blob is not.
  const partial = hfCacheEntry(hub, 'someone/partial', (d) => writeTinyModel(d));
  rmSync(join(partial, 'model.safetensors'));
  symlinkSync(join('..', '..', 'blobs', 'never-arrived'), join(partial, 'model.safetensors'));
  rejects(() => locateModel('someone/partial'), /lacks model\.safetensors: the download did not finish/);
});

test('--model: paths are checked and made absolute, other forms pass to the engine as written', (t) => {
  const home = freshHome(t);
  const ws = join(home, 'ws');
  mkdirSync(ws);
  const file = join(home, 'm.gguf');
  writeGguf(file, llamaMeta(), tinyLlamaTensors());
  ollamaPull(join(home, '.ollama', 'models'), 'tiny', 'latest', writeGguf(join(home, 'x.gguf'), llamaMeta(), tinyLlamaTensors()));
  process.env.HF_HUB_CACHE = join(home, 'hub');
  hfCacheEntry(join(home, 'hub'), 'someone/tiny-llama', (d) => writeTinyModel(d));
  const model = (m: string) => {
    const r = parseCommandLine(['build', ws, '--model', m], () => join(home, 'cache'));
    assert.ok(r.body?.type === 'build');
    return r.body.model;
  };
  assert.equal(model('ollama:tiny'), 'ollama:tiny');
  assert.equal(model('someone/tiny-llama'), 'someone/tiny-llama');
  assert.equal(model('qwen3-4b'), 'qwen3-4b', 'a preset not on disk goes to the engine, which downloads it');
  assert.equal(model(file), file);
  for (const [m, message] of [
    [join(home, 'missing.gguf'), /missing\.gguf does not exist/],
    [join(home, 'no-model'), /no-model does not exist\. The model is a checkpoint folder, a \.gguf file, ollama:NAME\[:TAG\]/],
    ['ollama:absent', /ollama:absent:latest is not in the Ollama store/],
    ['someone/absent', /someone\/absent is not in the Hugging Face cache/],
    // A bare word was meant as a preset: the presets are listed, and how to point at a model on this machine.
    [
      'qwen9',
      /^"qwen9" is not a preset \(qwen2\.5-coder-1\.5b, qwen2\.5-coder-7b, qwen3-4b, qwen3-8b, llama-3\.1-8b\), nor a file or folder here\. For a model on this machine give a \.gguf file, a checkpoint folder, ollama:NAME\[:TAG\] or lmstudio:PUBLISHER\/MODEL$/,
    ],
    ['qwen2.5-coder-9b', /^"qwen2\.5-coder-9b" is not a preset \(/],
  ] as const) {
    assert.throws(
      () => model(m),
      (e: unknown) => e instanceof UsageError && message.test(e.message) && !e.usage,
      m,
    );
  }
});

test('the listing reads architecture, parameters, quantization, size and window from each store', async (t) => {
  const home = freshHome(t);
  const roots: StoreRoots = storeRoots();
  const tensors = tinyLlamaTensors();
  const q8 = writeGguf(join(home, 'q8.gguf'), { ...llamaMeta({ fileType: 7, ctx: 8192 }), 'general.size_label': '135M' }, tensors);
  ollamaPull(roots.ollama, 'tiny', 'latest', q8);
  // No general.file_type: the matrices' most common type names the quantization.
  const lm = join(roots.lmstudio, 'pub', 'tiny-GGUF');
  mkdirSync(lm, { recursive: true });
  const q4Tensors = tinyLlamaTensors({ type: GGMLQuantizationType.Q4_K, hidden: 256, ffn: 512 });
  writeGguf(join(lm, 'tiny-Q4_K.gguf'), llamaMeta({ arch: 'qwen2', ctx: 32768 }), q4Tensors);
  const gemma = join(roots.lmstudio, 'pub', 'gemma-GGUF');
  mkdirSync(gemma, { recursive: true });
  writeGguf(join(gemma, 'gemma.gguf'), llamaMeta({ arch: 'gemma2' }), tensors);
  let spec!: ReturnType<typeof writeTinyModel>['spec'];
  const snapshot = hfCacheEntry(roots.huggingface, 'someone/tiny-llama', (d) => (spec = writeTinyModel(d).spec));
  hfCacheEntry(roots.huggingface, 'someone/tokenizer-only', (d) => writeFileSync(join(d, 'tokenizer.json'), '{}'));
  // A split GGUF given by the current setting: its parameters and bytes count every shard.
  const split = [1, 2].map((i) => join(home, `big-0000${i}-of-00002.gguf`));
  writeGguf(split[0]!, llamaMeta({ fileType: 7 }), tensors.slice(0, 5));
  writeGguf(split[1]!, {}, tensors.slice(5));

  const list = await listLocalModels({ roots, extra: [split[1]!, 'qwen3-4b', join(home, 'absent')] });
  const by = new Map(list.map((m) => [m.setting, m]));
  assert.deepEqual(
    [...by.keys()].sort(),
    ['lmstudio:pub/gemma-GGUF', 'lmstudio:pub/tiny-GGUF', 'ollama:tiny:latest', 'someone/tiny-llama', split[1]!].sort(),
  );

  const o = by.get('ollama:tiny:latest')!;
  assert.equal(o.store, 'ollama');
  assert.deepEqual(
    [o.architecture, o.params, o.sizeLabel, o.quantization, o.contextWindow, o.bytes, o.supported],
    ['llama', parameterCount(tensors), '135M', 'Q8_0', 8192, q8.length, true],
  );
  const q = by.get('lmstudio:pub/tiny-GGUF')!;
  assert.deepEqual(
    [q.architecture, q.params, q.quantization, q.contextWindow, q.supported],
    ['qwen2', parameterCount(q4Tensors), 'Q4_K', 32768, true],
  );
  const g = by.get('lmstudio:pub/gemma-GGUF')!;
  assert.equal(g.supported, false);
  assert.match(g.reason!, /architecture "gemma2" is not supported \(llama, qwen2, qwen3, mistral are\)/);
  const h = by.get('someone/tiny-llama')!;
  assert.deepEqual(
    [h.store, h.format, h.architecture, h.params, h.quantization, h.contextWindow, h.supported],
    ['huggingface', 'safetensors', 'LlamaForCausalLM', parameterCounts(spec).total, 'float32', 256, true],
  );
  assert.equal(h.bytes, statSync(join(snapshot, 'model.safetensors')).size, 'the weights file, through its link into blobs/');
  const s = by.get(split[1]!)!;
  assert.deepEqual([s.path, s.params, s.quantization, s.store], [split[0], parameterCount(tensors), 'Q8_0', 'path']);

  // An HF checkpoint of an architecture we do not run says why.
  hfCacheEntry(roots.huggingface, 'someone/gemma', (d) => {
    const { config } = writeTinyModel(d);
    writeFileSync(join(d, 'config.json'), JSON.stringify({ ...config, architectures: ['Gemma2ForCausalLM'] }));
  });
  const gm = (await listLocalModels({ roots })).find((m) => m.setting === 'someone/gemma')!;
  assert.equal(gm.supported, false);
  assert.match(gm.reason!, /architecture "Gemma2ForCausalLM" is not supported/);
});

test('Choose Model marks the current model by resolved path and checks a picked file or folder', async (t) => {
  const home = freshHome(t);
  const roots = storeRoots();
  const snapshot = hfCacheEntry(roots.huggingface, 'Qwen/Qwen2.5-Coder-1.5B-Instruct', (d) =>
    writeTinyModel(d, { architecture: 'Qwen2ForCausalLM' }),
  );
  const file = join(home, 'tiny.gguf');
  writeGguf(file, llamaMeta(), tinyLlamaTensors());
  ollamaPull(roots.ollama, 'tiny', 'latest', writeGguf(join(home, 'o.gguf'), llamaMeta({ name: 'O' }), tinyLlamaTensors({ hidden: 32 })));
  const local = await listLocalModels({ roots, extra: [file] });
  const current = (setting: string) =>
    modelChoices(setting, local, roots)
      .filter((c) => c.current)
      .map((c) => c.setting)
      .sort();

  // The setting's default spelling, the preset id and the snapshot's path are one model: the preset and the cache entry.
  const qwen = ['Qwen/Qwen2.5-Coder-1.5B-Instruct', 'qwen2.5-coder-1.5b'];
  assert.deepEqual(current('Qwen2.5-Coder-1.5B-Instruct'), qwen);
  assert.deepEqual(current(snapshot), qwen);
  // A link to a file is the file.
  const link = join(home, 'link.gguf');
  symlinkSync(file, link);
  assert.deepEqual(current(link), [file]);
  assert.deepEqual(current('ollama:tiny:latest'), ['ollama:tiny:latest']);
  assert.deepEqual(current('qwen3-8b'), ['qwen3-8b'], 'a preset to download');
  const preset = modelChoices('qwen3-8b', local, roots).find((c) => c.setting === 'qwen2.5-coder-1.5b')!;
  assert.match(preset.description, /in the Hugging Face cache/);

  assert.equal(await checkPickedModel(file, roots), undefined);
  assert.equal(await checkPickedModel(snapshot, roots), undefined);
  const gemma = join(home, 'gemma.gguf');
  writeGguf(gemma, llamaMeta({ arch: 'gemma2' }), tinyLlamaTensors());
  assert.match((await checkPickedModel(gemma, roots))!, /gemma\.gguf cannot be used: architecture "gemma2" is not supported/);
  const notGguf = join(home, 'notes.txt');
  writeFileSync(notGguf, 'hello');
  assert.match((await checkPickedModel(notGguf, roots))!, /is not a GGUF file/);
  const damaged = join(home, 'damaged.gguf');
  writeFileSync(damaged, 'GGUF\x03\x00\x00\x00');
  assert.match(
    (await checkPickedModel(damaged, roots))!,
    /its GGUF header cannot be read \(.*damaged\.gguf ends inside its own header: it is truncated\)/,
  );
  const empty = join(home, 'empty');
  mkdirSync(empty);
  assert.match((await checkPickedModel(empty, roots))!, /config\.json: not found/);
  const m = await inspectModel(file, roots);
  assert.equal(m?.architecture, 'llama');
});

test('a GGUF holding a tensor type the import cannot read is listed as not supported, naming the type', async () => {
  const home = mkdtempSync(join(tmpdir(), 'kvzip-iq-'));
  try {
    const file = join(home, 'iq.gguf');
    writeGguf(file, llamaMeta(), tinyLlamaTensors({ type: GGMLQuantizationType.IQ4_NL }));
    const m = (await inspectModel(file))!;
    assert.equal(m.supported, false);
    assert.match(m.reason!, /holds IQ4_NL tensors, which KVzip Code cannot read/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});
