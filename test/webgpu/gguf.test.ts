// GGUF blocks on WebGPU against the CPU: tiny models of each format (test/support/tinyGguf.ts), the graph in
// fp32 (SwiftShader has no shader-f16), logits after a 40-token prefill and at decode steps, against the CPU's
// exact fp32 multiplication: a GPU's MatMulNBits runs with accuracy_level 0 (the engine's choice there), so it
// must agree to fp32 rounding, where the CPU's int8 activations would not (1.15 apart on these random weights).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { GGMLQuantizationType as T } from '@huggingface/gguf';
import { importGguf } from '../../src/model/gguf/import.ts';
import { openModel } from '../../src/runtime/open.ts';
import { writeTinyGguf } from '../support/tinyGguf.ts';
import { maxDiff, webgpuSkip } from '../support/webgpu.ts';

const skip = webgpuSkip();
const root = mkdtempSync(join(tmpdir(), 'kvzip-webgpu-gguf-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('GGUF blocks on WebGPU match the CPU', { skip }, () => {
  const cases: [string, string, T, T][] = [
    ['llama Q4_1 (min term), Q8_0 table', 'llama', T.Q4_1, T.Q8_0],
    ['qwen2 Q4_K, Q6_K table', 'qwen2', T.Q4_K, T.Q6_K],
    ['llama Q5_0, Q4_0 table', 'llama', T.Q5_0, T.Q4_0],
  ];
  for (const [name, arch, type, table] of cases) {
    test(name, async () => {
      const file = join(root, `${name.replace(/\W+/g, '-')}.gguf`);
      writeTinyGguf(file, arch, type, table);
      const dir = await importGguf(file, join(root, 'import'));
      // The CPU side multiplies in fp32 (accuracy_level 0): the exact reference (test/unit/gguf-import.test.ts).
      const open = (device: 'cpu' | 'webgpu', accuracyLevel?: number) =>
        openModel({ modelDir: dir, device, preparedRoot: join(root, 'prepared'), allLogits: true, accuracyLevel });
      const cpu = await open('cpu', 0).dense();
      const m = open('webgpu');
      assert.equal(m.device, 'webgpu', m.deviceReason);
      const gpu = await m.dense();
      const ids = Array.from({ length: 40 }, (_, i) => 3 + ((i * 7) % 45));
      let [kc, kg] = [cpu.empty(), gpu.empty()];
      const c = await cpu.forward(ids, kc, { allLogits: true });
      const g = await gpu.forward(ids, kg, { allLogits: true });
      const scale = Math.max(1, ...Array.from(c.logitsAll!, Math.abs));
      const d = maxDiff(c.logitsAll!, g.logitsAll!);
      assert.ok(d <= 1e-4 * scale, `prefill: max logit diff ${d} at logits up to ${scale}`);
      [kc, kg] = [c.present, g.present];
      let [nc, ng] = [c.candidates.ids[0]!, g.candidates.ids[0]!];
      assert.equal(ng, nc, 'the same next token');
      for (let step = 0; step < 3; step++) {
        const a = await cpu.forward([nc], kc);
        const b = await gpu.forward([ng], kg);
        [kc, kg, nc, ng] = [a.present, b.present, a.candidates.ids[0]!, b.candidates.ids[0]!];
        assert.equal(ng, nc, `decode step ${step}: the same token`);
      }
      await cpu.close();
      await gpu.close();
    });
  }
});
