// The models on this machine with what a user chooses by: architecture, parameters, quantization, file size and
// window, read from GGUF headers (@huggingface/gguf reads the header only) or from config.json and the
// safetensors headers, never from weights. Each says whether this product runs it, and if not, why.
import { statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { GGMLFileQuantizationType, GGMLQuantizationType, gguf, type GGUFParseOutput, type MetadataValue } from '@huggingface/gguf';
import { parseModelSpec } from './config.ts';
import { GGML, ggmlTypeName, QUANT_FORMATS } from './gguf/quants.ts';
import { readModelJson } from './errors.ts';
import { listTensors } from './safetensors.ts';
import {
  findStoredModels,
  locateModel,
  realPath,
  storeRoots,
  type LocatedModel,
  type StoreKind,
  type StoreRoots,
  type StoredModel,
} from './stores.ts';

/** GGUF architectures (general.architecture) the importer reads. */
/** GGML types the import reads: floats, and the block formats it repacks. */
const READABLE_TYPES = new Set<number>([GGML.F32, GGML.F16, GGML.BF16, ...Object.keys(QUANT_FORMATS).map(Number)]);

export const GGUF_ARCHITECTURES = ['llama', 'qwen2', 'qwen3', 'mistral'] as const;

export interface ModelFacts {
  format: 'gguf' | 'safetensors';
  /** general.architecture, or config.json's architectures[0]. */
  architecture?: string;
  /** general.name of a GGUF file. */
  title?: string;
  /** Elements in every tensor (all shards). */
  params?: number;
  /** general.size_label of a GGUF file ("1.5B"). */
  sizeLabel?: string;
  /** GGUF general.file_type's name (Q4_K_M), else its tensors' most common type; a checkpoint's torch_dtype. */
  quantization?: string;
  /** Bytes of its files (every shard, or the checkpoint's weights). */
  bytes: number;
  /** `<arch>.context_length`, or max_position_embeddings. */
  contextWindow?: number;
  supported: boolean;
  /** Why it is not supported, or cannot be read. */
  reason?: string;
}

export interface LocalModel extends ModelFacts {
  /** What the model setting is set to to use it. */
  setting: string;
  name: string;
  store: StoreKind;
  /** The folder, or the GGUF file (a split model's first shard). */
  path: string;
}

const num = (v: MetadataValue | undefined): number | undefined =>
  typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;
const str = (v: MetadataValue | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

function sizeOf(files: string[]): number {
  return files.reduce((n, f) => n + statSync(f).size, 0);
}

/** A GGUF model's facts from its shards' headers. */
export async function ggufFacts(files: string[]): Promise<ModelFacts> {
  const bytes = sizeOf(files);
  const headers: GGUFParseOutput<{ strict: false }>[] = [];
  try {
    for (const f of files) {
      const h = (await gguf(f, { allowLocalFile: true })) as GGUFParseOutput<{ strict: false }>;
      // The reader pads a short file with zeros rather than failing.
      if (Number(h.tensorDataOffset) > statSync(f).size) throw new Error(`${f} ends inside its own header: it is truncated`);
      headers.push(h);
    }
  } catch (e) {
    return { format: 'gguf', bytes, supported: false, reason: `its GGUF header cannot be read (${(e as Error).message})` };
  }
  const md = headers[0]!.metadata;
  const architecture = str(md['general.architecture']);
  const infos = headers.flatMap((h) => h.tensorInfos);
  const elements = (shape: bigint[]) => shape.reduce((a, b) => a * Number(b), 1);
  const fileType = num(md['general.file_type']);
  let quantization = fileType !== undefined ? GGMLFileQuantizationType[fileType] : undefined;
  if (!quantization) {
    // The type most of the matrices' elements have.
    const byType = new Map<number, number>();
    for (const t of infos) if (t.shape.length >= 2) byType.set(t.dtype, (byType.get(t.dtype) ?? 0) + elements(t.shape));
    const top = [...byType].sort((a, b) => b[1] - a[1])[0];
    quantization = top && GGMLQuantizationType[top[0]];
  }
  const knownArchitecture = GGUF_ARCHITECTURES.includes(architecture as (typeof GGUF_ARCHITECTURES)[number]);
  // The import refuses a tensor type it cannot read (model/gguf/quants.ts): say so here, before it is picked.
  const unreadable = [...new Set(infos.filter((t) => !READABLE_TYPES.has(t.dtype)).map((t) => ggmlTypeName(t.dtype)))];
  const supported = knownArchitecture && unreadable.length === 0;
  return {
    format: 'gguf',
    architecture,
    title: str(md['general.name']),
    params: infos.reduce((n, t) => n + elements(t.shape), 0),
    sizeLabel: str(md['general.size_label']),
    quantization,
    bytes,
    contextWindow: architecture ? num(md[`${architecture}.context_length`]) : undefined,
    supported,
    ...(supported
      ? {}
      : {
          reason: !architecture
            ? 'the file declares no general.architecture'
            : !knownArchitecture
              ? `architecture "${architecture}" is not supported (${GGUF_ARCHITECTURES.join(', ')} are)`
              : `it holds ${unreadable.join(', ')} tensors, which KVzip Code cannot read`,
        }),
  };
}

/** A checkpoint folder's facts from config.json and its safetensors headers. */
export function checkpointFacts(dir: string): ModelFacts {
  let raw: unknown;
  try {
    raw = readModelJson(join(dir, 'config.json'), 'A checkpoint folder holds config.json');
  } catch (e) {
    return { format: 'safetensors', bytes: 0, supported: false, reason: (e as Error).message };
  }
  const c = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const architecture = Array.isArray(c.architectures) && typeof c.architectures[0] === 'string' ? c.architectures[0] : undefined;
  const dtype = c.torch_dtype ?? c.dtype;
  const quantized = c.quantization_config as { quant_method?: unknown } | undefined;
  const facts: ModelFacts = {
    format: 'safetensors',
    architecture,
    quantization: quantized ? String(quantized.quant_method ?? 'quantized') : typeof dtype === 'string' ? dtype : undefined,
    bytes: 0,
    contextWindow: typeof c.max_position_embeddings === 'number' ? c.max_position_embeddings : undefined,
    supported: true,
  };
  try {
    parseModelSpec(raw, join(dir, 'config.json'));
  } catch (e) {
    facts.supported = false;
    facts.reason = (e as Error).message;
  }
  try {
    const tensors = [...listTensors(dir).values()];
    facts.params = tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
    facts.bytes = sizeOf([...new Set(tensors.map((t) => t.file))]);
  } catch (e) {
    if (facts.supported) {
      facts.supported = false;
      facts.reason = (e as Error).message;
    }
  }
  return facts;
}

export async function modelFacts(m: LocatedModel): Promise<ModelFacts> {
  return m.format === 'gguf' ? ggufFacts(m.files) : checkpointFacts(m.path);
}

/** Runs `f` over `items`, `limit` at a time, in order. */
async function mapLimited<T, R>(items: T[], limit: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Every model in the Ollama store, LM Studio's folder and the Hugging Face cache, plus the local models that
 * `extra` settings name (the current setting, say), each once (by real path), with its facts. A model that
 * cannot be used is listed with the reason.
 */
export async function listLocalModels(o: { roots?: StoreRoots; extra?: string[] } = {}): Promise<LocalModel[]> {
  const roots = o.roots ?? storeRoots();
  const found: StoredModel[] = findStoredModels(roots);
  const seen = new Set(found.flatMap((f) => ('path' in f.located ? [realPath(f.located.path)] : [])));
  for (const setting of o.extra ?? []) {
    let located;
    try {
      located = locateModel(setting, roots);
    } catch {
      continue;
    }
    if (located.store === 'download' || seen.has(realPath(located.path))) continue;
    seen.add(realPath(located.path));
    found.push({ setting, name: basename(located.path), store: located.store, located });
  }
  return mapLimited(found, 4, async (f): Promise<LocalModel> => {
    if (!('path' in f.located)) {
      return {
        setting: f.setting,
        name: f.name,
        store: f.store,
        path: '',
        format: 'gguf',
        bytes: 0,
        supported: false,
        reason: f.located.problem,
      };
    }
    return { setting: f.setting, name: f.name, store: f.store, path: f.located.path, ...(await modelFacts(f.located)) };
  });
}

/**
 * A model a user picked (a file or folder, or any setting), checked before it is accepted: it must be found, be
 * readable and have a supported architecture. Throws the location error when it names nothing here.
 */
export async function inspectModel(setting: string, roots: StoreRoots = storeRoots()): Promise<LocalModel | undefined> {
  const located = locateModel(setting, roots);
  if (located.store === 'download') return undefined;
  return { setting, name: basename(located.path), store: located.store, path: located.path, ...(await modelFacts(located)) };
}

/** "1.5B", "135M": a parameter count as people write it. */
export function formatParams(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(1)}B` : n >= 1e6 ? `${Math.round(n / 1e6)}M` : n >= 1e3 ? `${Math.round(n / 1e3)}K` : String(n);
}

/** "1.2 GB", "870 MB". */
export function formatBytes(n: number): string {
  return n >= 1e9
    ? `${(n / 1e9).toFixed(1)} GB`
    : n >= 1e6
      ? `${Math.round(n / 1e6)} MB`
      : n >= 1e3
        ? `${Math.round(n / 1e3)} KB`
        : `${n} B`;
}

/** One line of facts: architecture, parameters, quantization, size, window. */
export function factsLine(m: ModelFacts): string {
  return [
    m.architecture,
    m.sizeLabel ?? (m.params ? formatParams(m.params) : undefined),
    m.quantization,
    m.bytes ? formatBytes(m.bytes) : undefined,
    m.contextWindow ? `${m.contextWindow >= 1024 ? `${Math.round(m.contextWindow / 1024)}K` : m.contextWindow} window` : undefined,
  ]
    .filter(Boolean)
    .join(' · ');
}
