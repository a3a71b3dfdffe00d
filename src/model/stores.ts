// Where the models already on this machine are, and which files a model setting names: a checkpoint folder, a
// .gguf file (a split one by its first shard), a model pulled by Ollama, one downloaded by LM Studio, or a Hub repo
// in the Hugging Face cache, used where it lies. It reads names, manifests and a file's first bytes, never weights,
// and downloads nothing: a preset that is nowhere on disk is left to the caller to download.
import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../core/errors.ts';
import { findPreset, HUB_PRESETS, type HubPreset } from './presets.ts';

/** A model setting that names nothing usable on this machine; the message says where it looked and what is there. */
export class ModelLocationError extends UserError {
  constructor(message: string) {
    super(message, 'model-location');
    this.name = 'ModelLocationError';
  }
}

export type ModelFormat = 'safetensors' | 'gguf';
/** Where a model was found: a path as given, or one of the stores. */
export type StoreKind = 'path' | 'ollama' | 'lmstudio' | 'huggingface';

export interface LocatedModel {
  /** A checkpoint folder (config.json), or a GGUF file: a split model's first shard. */
  path: string;
  format: ModelFormat;
  store: StoreKind;
  /** A GGUF model's files, first shard first (one for an unsplit file); empty for a folder. */
  files: string[];
}

/** A preset that is on no disk here: the caller downloads it. */
export interface PresetDownload {
  store: 'download';
  preset: HubPreset;
}

export type ModelLocation = LocatedModel | PresetDownload;

/** The stores' root folders, from the environment at the time of the call. */
export interface StoreRoots {
  ollama: string;
  lmstudio: string;
  huggingface: string;
}

const OLLAMA_HOST = 'registry.ollama.ai';
const OLLAMA_NAMESPACE = 'library';
const OLLAMA_MODEL_LAYER = 'application/vnd.ollama.image.model';
/** Where Ollama's Linux service (its install script's systemd unit) keeps models: named in errors, never read unasked. */
const OLLAMA_SERVICE_STORE = '/usr/share/ollama/.ollama/models';
const SHARD = /^(.*)-(\d+)-of-(\d+)\.gguf$/i;
const HUB_NAME = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

function expandHome(p: string, home = homedir()): string {
  return p === '~' ? home : p.startsWith('~/') ? join(home, p.slice(2)) : p;
}

/**
 * Ollama: OLLAMA_MODELS, else ~/.ollama/models. LM Studio: ~/.lmstudio/models. Hugging Face, as huggingface_hub
 * reads it: HF_HUB_CACHE (or the older HUGGINGFACE_HUB_CACHE), else $HF_HOME/hub, else
 * $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
 */
export function storeRoots(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): StoreRoots {
  const set = (v: string | undefined) => (v ? resolve(expandHome(v, home)) : undefined);
  const hfHome = set(env.HF_HOME) ?? join(set(env.XDG_CACHE_HOME) ?? join(home, '.cache'), 'huggingface');
  return {
    ollama: set(env.OLLAMA_MODELS) ?? join(home, '.ollama', 'models'),
    lmstudio: join(home, '.lmstudio', 'models'),
    huggingface: set(env.HF_HUB_CACHE) ?? set(env.HUGGINGFACE_HUB_CACHE) ?? join(hfHome, 'hub'),
  };
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** An entry of `dir` named `name`, or else the one whose name differs only in case. */
function entry(dir: string, name: string): string | undefined {
  if (existsSync(join(dir, name))) return name;
  const lower = name.toLowerCase();
  return list(dir).find((n) => n.toLowerCase() === lower);
}

/** The first items of a list, with how many more there are. */
function some(names: string[], max = 12): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`;
}

/** Whether the file starts with GGUF's magic (an Ollama blob has no .gguf extension). */
export function isGgufFile(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const b = Buffer.alloc(4);
    return readSync(fd, b, 0, 4, 0) === 4 && b.toString('latin1') === 'GGUF';
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * The files of a GGUF model, first shard first. A split model (`NAME-00002-of-00003.gguf`, any of its shards given)
 * must have every shard; a missing one is named. An unsplit file is its own list.
 */
export function ggufShards(file: string): string[] {
  const m = SHARD.exec(basename(file));
  if (!m) {
    if (!existsSync(file)) throw new ModelLocationError(`${file} does not exist`);
    return [file];
  }
  const [, prefix, n, total] = m as unknown as [string, string, string, string];
  const count = Number(total);
  if (count < 1 || Number(n) < 1 || Number(n) > count) {
    throw new ModelLocationError(`${file}: a split GGUF is numbered 1 to its count, but this is part ${Number(n)} of ${count}`);
  }
  const dir = dirname(file);
  const files = Array.from({ length: count }, (_, i) => join(dir, `${prefix}-${String(i + 1).padStart(n.length, '0')}-of-${total}.gguf`));
  const missing = files.filter((f) => !isFile(f)).map((f) => basename(f));
  if (missing.length) {
    throw new ModelLocationError(
      `${file}: this model is split into ${count} files and ${some(missing)} ${missing.length === 1 ? 'is' : 'are'} missing from ${dir}. Download the missing ${missing.length === 1 ? 'part' : 'parts'} next to the others`,
    );
  }
  return files;
}

/**
 * The GGUF models in a folder, each by its first file: unsplit files, and each split set once (by its first shard's
 * name, whether or not that shard is there). Vision projectors (`mmproj*`) are not models.
 */
export function ggufModelsIn(dir: string): string[] {
  const out = new Set<string>();
  for (const name of list(dir)) {
    if (!/\.gguf$/i.test(name) || /^mmproj/i.test(name) || !isFile(join(dir, name))) continue;
    const m = SHARD.exec(name);
    out.add(m ? join(dir, `${m[1]}-${'1'.padStart(m[2]!.length, '0')}-of-${m[3]}.gguf`) : join(dir, name));
  }
  return [...out];
}

function gguf(file: string, store: StoreKind): LocatedModel {
  const files = ggufShards(file);
  return { path: files[0]!, format: 'gguf', store, files };
}

function folder(path: string, store: StoreKind): LocatedModel {
  return { path, format: 'safetensors', store, files: [] };
}

/** What an existing path holds; undefined for a folder with neither config.json nor a GGUF model. */
function atPath(path: string, store: StoreKind): LocatedModel | undefined {
  if (!isDir(path)) {
    if (basename(path) === 'config.json') return folder(dirname(path), store);
    if (/\.gguf$/i.test(path) || isGgufFile(path)) return gguf(path, store);
    throw new ModelLocationError(`${path} is not a GGUF file (it does not start with "GGUF") nor a checkpoint folder`);
  }
  if (existsSync(join(path, 'config.json'))) return folder(path, store);
  const models = ggufModelsIn(path);
  if (models.length === 1) return gguf(models[0]!, store);
  if (models.length > 1) {
    throw new ModelLocationError(
      `${path} holds ${models.length} GGUF models (${some(models.map((f) => basename(f)))}): give the path of the one to use`,
    );
  }
  return undefined;
}

// ---- Ollama ----------------------------------------------------------------------------------------------------

interface OllamaName {
  host: string;
  namespace: string;
  model: string;
  tag: string;
}

/** `NAME[:TAG]`, NAME being `model`, `namespace/model` or `host/namespace/model`, as Ollama names models. */
export function parseOllamaName(ref: string): OllamaName {
  const colon = ref.lastIndexOf(':');
  const [name, tag] = colon > ref.lastIndexOf('/') ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, 'latest'];
  const parts = name.split('/');
  if (!tag || parts.some((p) => !p || p === '.' || p === '..') || parts.length > 3) {
    throw new ModelLocationError(`ollama:${ref} is not an Ollama model name: write ollama:NAME[:TAG], NAME being model or namespace/model`);
  }
  const [host, namespace, model] =
    parts.length === 3 ? parts : parts.length === 2 ? [OLLAMA_HOST, ...parts] : [OLLAMA_HOST, OLLAMA_NAMESPACE, parts[0]!];
  return { host: host!, namespace: namespace!, model: model!, tag };
}

/** How Ollama shows a name: `model:tag` in its own registry's library, with namespace and host otherwise. */
function ollamaDisplay(n: OllamaName): string {
  const name =
    n.host !== OLLAMA_HOST
      ? `${n.host}/${n.namespace}/${n.model}`
      : n.namespace !== OLLAMA_NAMESPACE
        ? `${n.namespace}/${n.model}`
        : n.model;
  return `${name}:${n.tag}`;
}

/** Every manifest in an Ollama store, as names. */
export function ollamaNames(root: string): { name: string; manifest: string }[] {
  const out: { name: string; manifest: string }[] = [];
  const manifests = join(root, 'manifests');
  for (const host of list(manifests))
    for (const namespace of list(join(manifests, host)))
      for (const model of list(join(manifests, host, namespace)))
        for (const tag of list(join(manifests, host, namespace, model))) {
          const manifest = join(manifests, host, namespace, model, tag);
          if (isFile(manifest)) out.push({ name: ollamaDisplay({ host, namespace, model, tag }), manifest });
        }
  return out;
}

function storeHint(root: string): string {
  return root !== OLLAMA_SERVICE_STORE && isDir(OLLAMA_SERVICE_STORE)
    ? ` Ollama's Linux service keeps its models in ${OLLAMA_SERVICE_STORE}: set OLLAMA_MODELS to that folder to read them.`
    : '';
}

/** The GGUF blob of a pulled Ollama model: its manifest's model layer. */
export function ollamaModel(ref: string, root: string): LocatedModel {
  const n = parseOllamaName(ref);
  const shown = `ollama:${ollamaDisplay(n)}`;
  if (!isDir(join(root, 'manifests'))) {
    throw new ModelLocationError(
      `${shown}: there is no Ollama store at ${root} (it is OLLAMA_MODELS, else ~/.ollama/models). Pull the model with \`ollama pull ${ollamaDisplay(n)}\`, or set OLLAMA_MODELS to the store's folder.${storeHint(root)}`,
    );
  }
  const held = ollamaNames(root)
    .map((m) => m.name)
    .sort();
  const holds = held.length ? `It holds ${some(held)}.` : 'It holds no models.';
  let dir = join(root, 'manifests');
  for (const part of [n.host, n.namespace, n.model]) {
    const e = entry(dir, part);
    if (!e) {
      throw new ModelLocationError(
        `${shown} is not in the Ollama store at ${root} (no manifest ${join('manifests', n.host, n.namespace, n.model, n.tag)}). ${holds}${storeHint(root)}`,
      );
    }
    dir = join(dir, e);
  }
  const tag = entry(dir, n.tag);
  if (!tag || !isFile(join(dir, tag))) {
    const tags = list(dir).filter((t) => isFile(join(dir, t)));
    throw new ModelLocationError(
      `${shown}: the Ollama store at ${root} has ${n.model} but not its tag "${n.tag}"${tags.length ? `; its tags are ${some(tags)}` : ''}. Pull it with \`ollama pull ${ollamaDisplay(n)}\``,
    );
  }
  const manifest = join(dir, tag);
  let layers: unknown;
  try {
    layers = (JSON.parse(readFileSync(manifest, 'utf8')) as { layers?: unknown }).layers;
  } catch (e) {
    throw new ModelLocationError(`${shown}: the manifest ${manifest} is not valid JSON (${(e as Error).message}). Pull the model again`);
  }
  const layer = Array.isArray(layers)
    ? (layers as { mediaType?: unknown; digest?: unknown }[]).find((l) => l?.mediaType === OLLAMA_MODEL_LAYER)
    : undefined;
  if (!layer)
    throw new ModelLocationError(`${shown}: the manifest ${manifest} has no ${OLLAMA_MODEL_LAYER} layer, so it holds no model weights`);
  const digest = typeof layer.digest === 'string' ? /^sha256[:-]([0-9a-f]{64})$/.exec(layer.digest) : null;
  if (!digest)
    throw new ModelLocationError(
      `${shown}: the manifest ${manifest} gives the model layer's digest as ${JSON.stringify(layer.digest)}, not sha256:<64 hex digits>`,
    );
  const blob = join(root, 'blobs', `sha256-${digest[1]}`);
  if (!isFile(blob)) {
    throw new ModelLocationError(
      `${shown}: its model blob ${blob} is missing from the store. Pull it again with \`ollama pull ${ollamaDisplay(n)}\``,
    );
  }
  if (!isGgufFile(blob)) throw new ModelLocationError(`${shown}: its model blob ${blob} is not a GGUF file`);
  return { path: blob, format: 'gguf', store: 'ollama', files: [blob] };
}

// ---- LM Studio -------------------------------------------------------------------------------------------------

/** LM Studio's model folders, as `publisher/model`. */
export function lmstudioFolders(root: string): string[] {
  const out: string[] = [];
  for (const publisher of list(root))
    for (const model of list(join(root, publisher))) if (isDir(join(root, publisher, model))) out.push(`${publisher}/${model}`);
  return out;
}

/** `publisher/model`, `publisher/model/FILE.gguf`, or a model folder's name alone when one publisher has it. */
export function lmstudioModel(ref: string, root: string): LocatedModel {
  const parts = ref.split('/').filter(Boolean);
  const shown = `lmstudio:${ref}`;
  if (!parts.length || parts.some((p) => p === '.' || p === '..')) {
    throw new ModelLocationError(
      `${shown} is not an LM Studio model: write lmstudio:PUBLISHER/MODEL or lmstudio:PUBLISHER/MODEL/FILE.gguf`,
    );
  }
  if (!isDir(root)) throw new ModelLocationError(`${shown}: there is no LM Studio models folder at ${root}`);
  const folders = lmstudioFolders(root);
  const holds = folders.length ? `It holds ${some(folders)}.` : 'It holds no models.';
  if (parts.length === 1) {
    const matches = folders.filter((f) => f.split('/')[1]!.toLowerCase() === parts[0]!.toLowerCase());
    if (matches.length !== 1) {
      throw new ModelLocationError(
        matches.length
          ? `${shown}: several publishers have a model of that name (${matches.join(', ')}): write lmstudio:PUBLISHER/MODEL`
          : `${shown} is not in LM Studio's models folder ${root}. ${holds}`,
      );
    }
    parts.unshift(matches[0]!.split('/')[0]!);
  }
  let dir = root;
  for (const part of parts.slice(0, 2)) {
    const e = entry(dir, part);
    if (!e || !isDir(join(dir, e))) throw new ModelLocationError(`${shown} is not in LM Studio's models folder ${root}. ${holds}`);
    dir = join(dir, e);
  }
  if (parts.length > 2) return gguf(join(dir, ...parts.slice(2)), 'lmstudio');
  const models = ggufModelsIn(dir);
  if (models.length === 1) return gguf(models[0]!, 'lmstudio');
  const [publisher, model] = [basename(dirname(dir)), basename(dir)];
  if (!models.length) throw new ModelLocationError(`${shown}: ${dir} holds no .gguf file`);
  throw new ModelLocationError(
    `${shown}: ${dir} holds ${models.length} GGUF models; choose one by its file, e.g. lmstudio:${publisher}/${model}/${basename(models[0]!)} (the others: ${some(models.slice(1).map((f) => basename(f)))})`,
  );
}

// ---- Hugging Face cache ----------------------------------------------------------------------------------------

/** The Hub repos in a Hugging Face cache, as `org/name`. */
export function huggingfaceRepos(root: string): string[] {
  return list(root)
    .filter((n) => n.startsWith('models--') && isDir(join(root, n)))
    .map((n) => n.slice('models--'.length).replace('--', '/'));
}

/** A Hub repo's snapshot in the Hugging Face cache, or why it cannot be used (absent, or an unfinished download). */
export function huggingfaceModel(repo: string, root: string, revision = 'main'): LocatedModel | { problem: string } {
  const name = entry(root, `models--${repo.replace('/', '--')}`);
  if (!name) {
    const repos = huggingfaceRepos(root);
    return {
      problem: `${repo} is not in the Hugging Face cache at ${root}${repos.length ? ` (it holds ${some(repos)})` : isDir(root) ? ' (it holds no models)' : ' (there is no such folder)'}`,
    };
  }
  const dir = join(root, name);
  const ref = join(dir, 'refs', revision);
  if (!isFile(ref)) {
    const snapshots = list(join(dir, 'snapshots'));
    return {
      problem: `${dir} has no refs/${revision}, so which of its snapshots is current is unknown${snapshots.length ? ` (it has ${some(snapshots)})` : ''}; download the model again`,
    };
  }
  const rev = readFileSync(ref, 'utf8').trim();
  const snapshot = join(dir, 'snapshots', rev);
  if (!rev || !isDir(snapshot))
    return { problem: `${dir}: refs/${revision} names the snapshot "${rev}", which is not in snapshots/; download the model again` };
  if (!existsSync(join(snapshot, 'config.json'))) {
    const models = ggufModelsIn(snapshot);
    if (models.length === 1) return gguf(models[0]!, 'huggingface');
    if (models.length > 1)
      return {
        problem: `${snapshot} holds ${models.length} GGUF models (${some(models.map((f) => basename(f)))}): give the path of the one to use`,
      };
    return { problem: `${snapshot} has no config.json (a checkpoint) and no .gguf file` };
  }
  const index = join(snapshot, 'model.safetensors.index.json');
  let weights: string[];
  if (existsSync(index)) {
    try {
      const map = (JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: Record<string, string> }).weight_map ?? {};
      weights = [...new Set(Object.values(map))];
    } catch {
      return { problem: `${index} is not valid JSON; download the model again` };
    }
  } else weights = list(snapshot).filter((f) => f.endsWith('.safetensors'));
  // A link into blobs/ whose blob never arrived is listed but does not exist.
  const present = weights.filter((f) => isFile(join(snapshot, f)));
  if (!weights.length) return { problem: `${snapshot} has no *.safetensors weights (only safetensors checkpoints load)` };
  if (present.length < weights.length) {
    const missing = weights.filter((f) => !present.includes(f));
    return { problem: `${snapshot} lacks ${some(missing)}: the download did not finish; download the model again` };
  }
  return folder(snapshot, 'huggingface');
}

// ---- A model setting -------------------------------------------------------------------------------------------

export const MODEL_FORMS =
  'a checkpoint folder, a .gguf file, ollama:NAME[:TAG], lmstudio:PUBLISHER/MODEL, a Hub name (org/name) in the Hugging Face cache, or a preset id';

/**
 * What a model setting names on this machine. In order: `ollama:` and `lmstudio:` names; an existing file or
 * folder (a folder holding one GGUF model is that model); a preset, from the Hugging Face cache when a finished
 * download of its repo is there, else to be downloaded; a Hub name `org/name` in the Hugging Face cache.
 */
export function locateModel(model: string, roots: StoreRoots = storeRoots()): ModelLocation {
  const m = model.trim();
  if (/^ollama:/i.test(m)) return ollamaModel(m.slice('ollama:'.length), roots.ollama);
  if (/^lmstudio:/i.test(m)) return lmstudioModel(m.slice('lmstudio:'.length), roots.lmstudio);
  const path = resolve(expandHome(m));
  const preset = findPreset(m);
  if (existsSync(path)) {
    // A folder with neither config.json nor a GGUF file goes to the loader, which names what it lacks; unless it
    // is only a folder that happens to bear a preset's name.
    const found = atPath(path, 'path');
    if (found) return found;
    if (!preset) return folder(path, 'path');
  } else if (SHARD.test(basename(path))) {
    return gguf(path, 'path'); // names the missing shards
  } else if (/\.gguf$/i.test(m)) {
    throw new ModelLocationError(`${path} does not exist`);
  }
  if (preset) {
    const cached = huggingfaceModel(preset.repo, roots.huggingface, preset.revision);
    return 'path' in cached ? cached : { store: 'download', preset };
  }
  if (HUB_NAME.test(m)) {
    const cached = huggingfaceModel(m, roots.huggingface);
    if ('path' in cached) return cached;
    throw new ModelLocationError(
      `${cached.problem}. Nothing is downloaded for a Hub name that is not a preset: download it with \`huggingface-cli download ${m}\`, or give ${MODEL_FORMS}`,
    );
  }
  // A bare word (no folder, no extension) was meant as a preset: say which there are.
  if (!/[\\/.~]/.test(m.replace(/\.\d/g, ''))) {
    throw new ModelLocationError(
      `"${m}" is not a preset (${HUB_PRESETS.map((p) => p.id).join(', ')}), nor a file or folder here. For a model on this machine give a .gguf file, a checkpoint folder, ollama:NAME[:TAG] or lmstudio:PUBLISHER/MODEL`,
    );
  }
  throw new ModelLocationError(`${path} does not exist. The model is ${MODEL_FORMS}`);
}

/**
 * The setting as the engine should get it from a command line: a path made absolute (against this process's
 * folder), every other form as written.
 */
export function modelArgument(model: string): string {
  const m = model.trim();
  if (/^(ollama|lmstudio):/i.test(m)) return m;
  const path = resolve(expandHome(m));
  if (existsSync(path) || !(findPreset(m) || HUB_NAME.test(m))) return path;
  return m;
}

/** The real path (links resolved), so two names for one file compare equal. */
export function realPath(p: string): string {
  try {
    return realpathSync.native(p);
  } catch {
    return resolve(p);
  }
}

/**
 * What a setting resolves to, for comparing two settings: the real path of the model's folder or first file, or
 * the preset it would download; undefined when it names nothing usable.
 */
export function modelKey(model: string, roots: StoreRoots = storeRoots()): string | undefined {
  try {
    const l = locateModel(model, roots);
    return l.store === 'download' ? `preset:${l.preset.id}` : realPath(l.path);
  } catch {
    return undefined;
  }
}

// ---- Every model on this machine -------------------------------------------------------------------------------

export interface StoredModel {
  /** What the model setting is set to to use it. */
  setting: string;
  /** Its name in its store. */
  name: string;
  store: StoreKind;
  /** Where it is, or why it cannot be used (a missing blob or shard, an unfinished download). */
  located: LocatedModel | { problem: string };
}

function attempt(f: () => LocatedModel): LocatedModel | { problem: string } {
  try {
    return f();
  } catch (e) {
    if (e instanceof ModelLocationError) return { problem: e.message };
    throw e;
  }
}

/**
 * The models in the Ollama store, LM Studio's folder and the Hugging Face cache (repos with a config.json or GGUF
 * files; datasets and tokenizer-only downloads are not models), by names only: nothing is parsed here.
 */
export function findStoredModels(roots: StoreRoots = storeRoots()): StoredModel[] {
  const out: StoredModel[] = [];
  for (const { name } of ollamaNames(roots.ollama)) {
    out.push({ setting: `ollama:${name}`, name, store: 'ollama', located: attempt(() => ollamaModel(name, roots.ollama)) });
  }
  for (const f of lmstudioFolders(roots.lmstudio)) {
    const models = ggufModelsIn(join(roots.lmstudio, f));
    for (const file of models) {
      const name = models.length === 1 ? f : `${f}/${basename(file)}`;
      out.push({ setting: `lmstudio:${name}`, name, store: 'lmstudio', located: attempt(() => gguf(file, 'lmstudio')) });
    }
  }
  for (const repo of huggingfaceRepos(roots.huggingface)) {
    const dir = join(roots.huggingface, `models--${repo.replace('/', '--')}`);
    const rev = isFile(join(dir, 'refs', 'main')) ? readFileSync(join(dir, 'refs', 'main'), 'utf8').trim() : undefined;
    const snapshot = rev ? join(dir, 'snapshots', rev) : undefined;
    if (!snapshot || !isDir(snapshot)) continue;
    if (existsSync(join(snapshot, 'config.json'))) {
      out.push({ setting: repo, name: repo, store: 'huggingface', located: huggingfaceModel(repo, roots.huggingface) });
      continue;
    }
    const models = ggufModelsIn(snapshot);
    for (const file of models) {
      const name = models.length === 1 ? repo : `${repo}/${basename(file)}`;
      out.push({
        setting: models.length === 1 ? repo : file,
        name,
        store: 'huggingface',
        located: attempt(() => gguf(file, 'huggingface')),
      });
    }
  }
  return out;
}
