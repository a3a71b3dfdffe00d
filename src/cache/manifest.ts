// The manifest of one cache entry: everything needed to decide whether the entry may be trusted.
import { createHash } from 'node:crypto';
import type { Level, Scoring } from '../core/choices.ts';
import type { Fingerprint } from '../context/types.ts';
import type { BakedHead } from '../graph/attention.ts';

// 2: kv.bin holds fp16 (it held the compute dtype); older entries are rebuilt, never misread.
// 3: the manifest carries its own checksum, and the prepared weights' content hash.
// 4: KVzip's mass is summed directly; entries scored before could keep pairs on infinite scores.
// 5: decode.onnx outputs each step's attention per context file (answer sources); older graphs lack it.
export const FORMAT_VERSION = 5;

export interface Manifest {
  formatVersion: number;
  /** The entry key: workspace, model and every setting that changes the bytes. */
  key: string;
  workspace: string;
  model: {
    dir: string;
    weightsHash: string;
    /** The prepared weights' content and layout (decode.onnx points into them by offset). */
    weightsContent: string;
    tokenizerHash: string;
    dtype: 'fp32' | 'fp16';
    int4: boolean;
  };
  ratio: number;
  level: Level;
  /** How the context was scored; absent in entries built before local scoring existed (exact). */
  scoring?: Scoring;
  /** Lowest score kept by global pair selection; a refresh selects the new suffix against it. */
  threshold?: number;
  /** Tokens of the cached sequence (prefix + context); questions start at this position. */
  sequenceLength: number;
  prefixLength: number;
  /** The whole cached sequence, so a refresh can reuse the unchanged prefix of it. */
  fingerprint: Fingerprint;
  layout: BakedHead[][];
  files: Record<string, { bytes: number; sha256: string }>;
  stats: {
    kvBytesFull: number;
    kvBytesCompressed: number;
    keptPairs: number;
    totalPairs: number;
    buildMs: number;
    prefillMs: number;
    scoreMs: number;
    /** Set when this generation was refreshed from an earlier one: the tokens re-prefilled. */
    refreshedTokens?: number;
  };
  createdAt: string;
  /** sha256 of the manifest's JSON without this field: a flipped bit anywhere in it is caught. */
  checksum: string;
}

export function manifestChecksum(m: Omit<Manifest, 'checksum'>): string {
  return createHash('sha256')
    .update(JSON.stringify({ ...m, checksum: undefined }))
    .digest('hex');
}
