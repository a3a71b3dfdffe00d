// Answer sources on WebGPU: the answering session is the dense one with the generation's KV as context inputs,
// whose graph sums the attention per file over the padded context (graph/sources.ts, its buckets uploaded with the
// KV). stories260K, built and asked on WebGPU and on the CPU: the same answer and the same sources.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { webgpuSkip } from '../support/webgpu.ts';
import { cliJson, skipWithoutStories, STORIES, storyWorkspace } from '../support/cli.ts';

interface Asked {
  answer: string;
  device: string;
  sources?: { path: string; share: number }[];
}

test('WebGPU lists the same sources as the CPU', { skip: webgpuSkip() || skipWithoutStories }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'kvzip-wg-sources-'));
  const ws = storyWorkspace();
  try {
    const ask = (device: string) =>
      cliJson<Asked>([
        'ask',
        ws,
        'His friend, a big dog named Max',
        '--model',
        STORIES,
        '--device',
        device,
        '--cache-dir',
        join(tmp, device),
        '--ratio',
        '0.5',
        '--max-tokens',
        '24',
      ]);
    const gpu = await ask('webgpu');
    const cpu = await ask('cpu');
    assert.equal(gpu.device, 'webgpu');
    assert.equal(gpu.answer, cpu.answer);
    assert.ok(cpu.sources?.length, JSON.stringify(cpu));
    assert.deepEqual(
      gpu.sources?.map((s) => s.path),
      cpu.sources!.map((s) => s.path),
    );
    gpu.sources!.forEach((s, i) =>
      assert.ok(Math.abs(s.share - cpu.sources![i].share) < 1e-3, `${s.path}: ${s.share} vs ${cpu.sources![i].share}`),
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(ws, { recursive: true, force: true });
  }
});
