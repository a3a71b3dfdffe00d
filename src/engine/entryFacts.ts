// What a result says about a cache entry and the device that made it, and whether an entry can be trusted for a
// loaded model.
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Manifest } from '../cache/manifest.ts';
import { readIndex } from '../model/gguf/import.ts';
import { adapterName } from '../runtime/webgpu.ts';
import type { LoadedModel } from './model.ts';
import type { BuildResult } from './protocol.ts';

/** The real path (symlinks resolved), so a workspace reached through a link maps to the same entry. */
export function canonicalPath(p: string): string {
  try {
    return realpathSync.native(resolve(p));
  } catch {
    return resolve(p);
  }
}

/**
 * The model a loaded folder came from: a GGUF's first file for a folder imported from one (src/model/gguf/
 * import.ts), else the folder itself, as the setting resolved to it.
 */
export function modelSource(dir: string): string {
  return readIndex(dir)?.files[0]?.path ?? dir;
}

/** The device a result reports: its name, the adapter's on WebGPU, and why, when it is the CPU. */
export function deviceOf(m: LoadedModel): { device: string; deviceReason?: string; adapter?: string } {
  return { device: m.device, deviceReason: m.deviceReason, ...(m.adapter ? { adapter: adapterName(m.adapter) } : {}) };
}

/** Compressed bytes held: the KV blob (no padding) plus the per-head counts that describe it. */
export function compressedBytes(m: Manifest): number {
  return m.stats?.kvBytesCompressed ?? 0;
}

export function trustedFor(manifest: Manifest, m: LoadedModel): boolean {
  return (
    manifest.model?.weightsHash === m.prepared.weightsHash &&
    manifest.model?.weightsContent === m.prepared.contentHash &&
    manifest.model?.tokenizerHash === m.tokenizerHash &&
    manifest.model?.dtype === m.prepared.dtype &&
    manifest.model?.int4 === m.prepared.int4
  );
}

/** A build's result for an entry, new or found up to date. */
export function buildSummary(
  manifest: Manifest,
  entry: string,
  m: LoadedModel,
  fromCache: boolean,
  prefillTokens: number,
  ms: number,
): Omit<BuildResult, 'report' | 'timings'> {
  return {
    entry,
    modelPath: modelSource(m.dir),
    fromCache,
    contextTokens: manifest.sequenceLength,
    prefillTokens,
    kvBytesFull: manifest.stats.kvBytesFull,
    kvBytesCompressed: compressedBytes(manifest),
    keptShare: manifest.stats.keptPairs / manifest.stats.totalPairs,
    ratio: manifest.ratio,
    level: manifest.level,
    scoring: manifest.scoring ?? 'exact',
    ...deviceOf(m),
    buildMs: ms,
    peakRssBytes: process.resourceUsage().maxRSS * 1024,
  };
}
