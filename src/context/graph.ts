// The import graph of a workspace, for ranking: every file in a supported language is read and parsed once,
// its imports resolved to workspace files. Parsing costs 0.5 to 2 MB/s here (TypeScript is the slowest grammar), so the bytes parsed are capped
// (source first, then tests, smallest first within each), and so is their number; past either cap files have no
// outgoing edges and the stats say how many. Only the edges are kept, never the text.
import { importsOf } from './imports.ts';
import { readStable } from './read.ts';
import { fileKind, KIND_TIER } from './kind.ts';
import { Resolver, readManifest, type Manifests } from './resolve.ts';
import { decode } from './sniff.ts';
import { languageOf, type Syntax } from './syntax.ts';
import type { GraphStats } from './types.ts';

export interface GraphItem {
  path: string;
  abs: string;
  bytes: number;
}

export interface ImportGraph {
  edges: Map<number, number[]>;
  /** Files a README at the top of a workspace folder names by path. */
  mentioned: Set<string>;
  stats: GraphStats;
}

export const DEFAULT_MAX_GRAPH_BYTES = 8 * 2 ** 20;
/** Reading and parsing cost about 0.7 ms per file whatever its size, so the file count is capped too. */
export const MAX_GRAPH_FILES = 20_000;
const BATCH = 32;
const README = /^readme(\.[a-z]+)?$/i;

/** The text of a file, read as carefully as the fill pass reads it (no FIFOs, no links); the fill reports failures. */
async function text(abs: string, maxBytes: number): Promise<string | undefined> {
  const r = await readStable(abs, maxBytes);
  if (!r.ok) return undefined;
  const d = decode(r.bytes);
  return d.binary ? undefined : d.text;
}

export async function importGraph(
  syntax: Syntax,
  items: readonly GraphItem[],
  /** Workspace-folder prefixes ('' for a single folder, `name/` for each of several). */
  prefixes: readonly string[],
  o: { maxBytes: number; signal?: AbortSignal | undefined; onProgress?: (done: number, total: number) => void },
): Promise<ImportGraph> {
  const t0 = performance.now();
  const index = new Map(items.map((it, i) => [it.path, i]));
  const manifests: Manifests = { goModules: [], crates: [] };
  const mentioned = new Set<string>();
  for (const it of items) {
    const name = it.path.slice(it.path.lastIndexOf('/') + 1);
    if (name === 'go.mod' || name === 'Cargo.toml') {
      const t = await text(it.abs, it.bytes + 4096);
      if (t !== undefined) readManifest(it.path, t, manifests);
    }
    const prefix = it.path.slice(0, it.path.length - name.length);
    if (README.test(name) && prefixes.includes(prefix)) {
      const t = await text(it.abs, it.bytes + 4096);
      if (t === undefined) continue;
      for (const other of items)
        if (other.path.startsWith(prefix) && t.includes(other.path.slice(prefix.length))) mentioned.add(other.path);
    }
  }

  const parseable = items.filter((it) => languageOf(it.path) !== undefined);
  parseable.sort((a, b) => KIND_TIER[fileKind(a.path)] - KIND_TIER[fileKind(b.path)] || a.bytes - b.bytes);
  let budget = o.maxBytes;
  const chosen: GraphItem[] = [];
  for (const it of parseable) {
    if (it.bytes > budget || chosen.length === MAX_GRAPH_FILES) break;
    budget -= it.bytes;
    chosen.push(it);
  }

  const resolver = new Resolver(
    items.map((it) => it.path),
    manifests,
  );
  const edges = new Map<number, number[]>();
  let count = 0;
  let parsedBytes = 0;
  for (let i = 0; i < chosen.length; i += BATCH) {
    o.signal?.throwIfAborted();
    const batch = chosen.slice(i, i + BATCH);
    const texts = await Promise.all(batch.map((it) => text(it.abs, it.bytes + 4096)));
    for (let j = 0; j < batch.length; j++) {
      const t = texts[j];
      const it = batch[j]!;
      if (t === undefined) continue;
      parsedBytes += it.bytes;
      const targets = new Set<number>();
      for (const spec of importsOf(syntax, it.path, t) ?? []) {
        for (const hit of resolver.resolve(spec, it.path)) targets.add(index.get(hit)!);
      }
      if (targets.size > 0) {
        edges.set(index.get(it.path)!, [...targets]);
        count += targets.size;
      }
    }
    o.onProgress?.(Math.min(i + BATCH, chosen.length), chosen.length);
  }
  return {
    edges,
    mentioned,
    stats: {
      parseable: parseable.length,
      parsed: chosen.length,
      parsedBytes,
      capped: parseable.length - chosen.length,
      edges: count,
      ms: Math.round(performance.now() - t0),
    },
  };
}
