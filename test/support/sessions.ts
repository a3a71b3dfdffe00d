// Opens real onnxruntime sessions over a checkpoint folder for engine tests: the dense graph, and compressed
// graphs baked from a full KV and keep sets (the same path the engine takes, minus the cache store).
import { linkSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { prepareModel, WEIGHTS_FILE, type PreparedModel } from '../../src/model/prepare.ts';
import { ropeFrequencies } from '../../src/model/rope.ts';
import { buildGraph, type GraphDtype } from '../../src/graph/transformer.ts';
import { ForwardSession } from '../../src/runtime/decoder.ts';
import type { KvCache } from '../../src/runtime/kv.ts';
import { writeCompacted, type CompactLayout } from '../../src/kvzip/compact.ts';
import type { KeepSets } from '../../src/kvzip/select.ts';

export interface Opened {
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

export async function openModel(modelDir: string, root = mkdtempSync(join(tmpdir(), 'kvzip-prep-')), int4 = false): Promise<Opened> {
  const prepared = prepareModel({ modelDir, dtype: 'fp32', int4, root });
  const spec = prepared.spec;
  const rope = ropeFrequencies(spec);
  const densePath = join(prepared.dir, 'dense.onnx');
  writeFileSync(densePath, buildGraph({ spec, rope, dtype: 'fp32', int4, allLogits: true, weight: (n) => prepared.weight(n) }));
  const dense = new ForwardSession(await ort.InferenceSession.create(densePath), spec, 'fp32');
  return {
    prepared,
    dense,
    async compressed(full, prefixLen, keep, storage = 'fp16') {
      const dir = mkdtempSync(join(root, 'entry-'));
      const layout = writeCompacted(join(dir, 'kv.bin'), full, prefixLen, keep, spec.headDim, storage);
      linkSync(join(prepared.dir, WEIGHTS_FILE), join(dir, WEIGHTS_FILE));
      writeFileSync(
        join(dir, 'decode.onnx'),
        buildGraph({ spec, rope, dtype: 'fp32', int4, allLogits: true, weight: (n) => prepared.weight(n), baked: layout.baked, bakedDtype: storage }),
      );
      const session = new ForwardSession(await ort.InferenceSession.create(join(dir, 'decode.onnx')), spec, 'fp32', full.length);
      return { session, layout };
    },
  };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
