// Opens a checkpoint folder the way the engine does (prepare → dense graph → onnxruntime CPU session), for
// tests that compare the ONNX path against the reference.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { buildGraph } from '../../src/graph/transformer.ts';
import { prepareModel, type PreparedModel } from '../../src/model/prepare.ts';
import { ropeFrequencies } from '../../src/model/rope.ts';
import { ForwardSession } from '../../src/runtime/decoder.ts';

export async function openDense(modelDir: string, root: string): Promise<{ pm: PreparedModel; fs: ForwardSession }> {
  const pm = prepareModel({ modelDir, dtype: 'fp32', root });
  const bytes = buildGraph({ spec: pm.spec, rope: ropeFrequencies(pm.spec), dtype: 'fp32', allLogits: true, weight: (n) => pm.weight(n) });
  const path = join(pm.dir, 'dense.onnx');
  writeFileSync(path, bytes);
  const session = await ort.InferenceSession.create(path, { executionProviders: ['cpu'], logSeverityLevel: 3 });
  return { pm, fs: new ForwardSession(session, pm.spec, 'fp32') };
}
