// Opens a checkpoint folder on the CPU through the engine's own API (src/runtime/open.ts), with every
// position's logits, for engine tests: the dense session, and compressed sessions baked from a full KV and keep
// sets (the engine's path minus the cache store).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PreparedModel } from '../../src/model/prepare.ts';
import { openModel } from '../../src/runtime/open.ts';
import type { ForwardSession } from '../../src/runtime/decoder.ts';
import type { GraphDtype } from '../../src/graph/net.ts';
import type { KvCache } from '../../src/runtime/kv.ts';
import { writeCompacted, type CompactLayout } from '../../src/kvzip/compact.ts';
import type { KeepSets } from '../../src/kvzip/select.ts';

export interface CpuModel {
  prepared: PreparedModel;
  dense: ForwardSession;
  /** `storage` is the blob's element type: fp16 as the engine writes it, or fp32 to measure what fp16 costs. */
  compressed(
    full: KvCache,
    prefixLen: number,
    keep: KeepSets,
    storage?: GraphDtype,
  ): Promise<{ session: ForwardSession; layout: CompactLayout }>;
}

export async function openCpuModel(modelDir: string, root = mkdtempSync(join(tmpdir(), 'kvzip-prep-')), int4 = false): Promise<CpuModel> {
  const model = openModel({ modelDir, device: 'cpu', preparedRoot: root, int4, allLogits: true });
  return {
    prepared: model.prepared,
    dense: await model.dense(),
    async compressed(full, prefixLen, keep, storage = 'fp16') {
      const dir = mkdtempSync(join(root, 'entry-'));
      const layout = writeCompacted(join(dir, 'kv.bin'), full, prefixLen, keep, model.spec.headDim, storage);
      return { session: await model.compressed(dir, layout.baked, full.length, { use: 'prefill', bakedDtype: storage }), layout };
    },
  };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
