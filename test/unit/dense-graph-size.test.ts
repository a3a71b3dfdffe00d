// The dense graph's size, which onnxruntime's session creation grows with: every build, `generate` and refresh
// opens it. Its scoring attention unrolled in 64 query blocks per layer made 48,000 nodes on the 0.5B shapes, and
// 11-19 s before the first prefill token (issue 27); one Loop per layer holds the blocks instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import onnxProto from 'onnx-proto';
import { parseModelSpec } from '../../src/model/config.ts';
import { ropeFrequencies } from '../../src/model/rope.ts';
import { buildGraph } from '../../src/graph/transformer.ts';
import { QWEN_CODER_1_5B_CONFIG } from '../support/qwenConfig.ts';

type Graph = onnxProto.onnx.IGraphProto;

/** Nodes of a graph and of every subgraph inside it (If branches, Loop bodies). */
function nodes(g: Graph): number {
  return (g.node ?? []).reduce((sum, n) => sum + 1 + (n.attribute ?? []).reduce((s, a) => s + (a.g ? nodes(a.g) : 0), 0), 0);
}

test('the dense graph holds under 200 nodes per layer, its scoring blocks included', () => {
  const spec = parseModelSpec(QWEN_CODER_1_5B_CONFIG);
  const bytes = buildGraph({
    spec,
    rope: ropeFrequencies(spec),
    dtype: 'fp32',
    weight: () => ({ location: 'weights.bin', offset: 0, length: 4 }),
  });
  const count = nodes(onnxProto.onnx.ModelProto.decode(bytes).graph!);
  assert.ok(count / spec.numLayers < 200, `${count} nodes for ${spec.numLayers} layers`);
});
