// Memory of one engine process on WebGPU that builds a cache, answers from it, rebuilds, answers again, refreshes
// after an edit and answers from that: the resident size after each step against the weights and KV bytes, and
// how many sessions holding the weights the process created. On SwiftShader the "device" memory is the process's
// own, so the resident size shows the GPU side too; on a real GPU it shows only the host side.
// Writes bench/results/webgpu-memory-<adapter>.json. Skips (and says why) where Dawn finds no adapter.
//
//   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json node --import tsx bench/webgpuMemory.bench.ts
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { writeTinyModel } from '../test/support/tinyModel.ts';
import { Engine } from '../src/engine/engine.ts';
import { DeviceTransfer } from '../src/runtime/deviceTransfer.ts';
import { adapterName, probeWebGpu } from '../src/runtime/webgpu.ts';
import { WEIGHTS_FILE } from '../src/model/prepare.ts';
import { weightSessionsCreated } from '../src/runtime/session.ts';
import { MANIFEST } from '../src/cache/store.ts';
import type { Manifest } from '../src/cache/manifest.ts';
import { RESULTS_DIR } from './randomQwen.ts';
import { estimateMemory } from '../src/model/memory.ts';

const probe = probeWebGpu();
if (!probe.adapter) {
  console.log(`webgpuMemory: skipped, no WebGPU adapter (${probe.reason})`);
  process.exit(0);
}
const MiB = 2 ** 20;
const root = mkdtempSync(join(tmpdir(), 'kvzip-webgpu-mem-'));
try {
  // A random model whose weights (78 MiB fp32) dwarf its KV, so a second copy of them would show.
  const model = join(root, 'model');
  writeTinyModel(model, {
    hiddenSize: 512,
    intermediateSize: 1536,
    numLayers: 4,
    numHeads: 8,
    numKvHeads: 2,
    vocabSize: 8192,
    maxPositions: 1024,
    seed: 3,
  });
  const ws = join(root, 'ws');
  mkdirSync(ws);
  writeFileSync(join(ws, 'a.txt'), 'abcdefghij klmnop qrstuv wxyz '.repeat(10));
  const rss = () => process.memoryUsage().rss / MiB;
  // Each step's own peak: Linux resets the high-water mark (VmHWM, and maxRSS with it) to the current resident
  // size when 5 is written to clear_refs, so a warm step's peak shows apart from the driver's first-time work.
  const hwm = () => {
    try {
      return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
    } catch {
      return undefined;
    }
  };
  const resetHwm = () => {
    try {
      writeFileSync('/proc/self/clear_refs', '5');
    } catch {
      // Not Linux: the step peaks stay unknown.
    }
  };
  const rows: (string | number)[][] = [];
  let before = rss();
  const mark = (step: string) => {
    const top = hwm();
    const peaks = top === undefined ? ['n/a', 'n/a'] : [Math.round(top), Math.round(top - before)];
    rows.push([step, Math.round(rss()), ...peaks]);
    before = rss();
    resetHwm();
  };

  // The WebGPU device started as any session starts it, so the baseline holds Dawn and the driver.
  const t = new DeviceTransfer('fp32');
  await t.toHost(await t.toDevice(new ort.Tensor('float32', new Float32Array(4), [1, 1, 2, 2])));
  mark('WebGPU device started');
  const engine = new Engine();
  const sessionsBefore = weightSessionsCreated();
  const s = { workspace: ws, model, cacheDir: join(root, 'cache'), device: 'webgpu' as const, ratio: 0.3, level: 'pair' as const };
  // The session opened and run once before any work, so the build's own working set shows apart from the
  // session's first run (pipelines compiled, buffers allocated).
  const dense = await (await engine.model(s)).dense();
  mark('dense session opened');
  dense.release((await dense.forward([5], dense.empty())).present);
  mark('first run (one token)');
  const built = await engine.build({ ...s, force: true });
  mark('build');
  // The padding the context inputs carry: every head padded to its layer's largest (read now: a rebuild
  // replaces this generation).
  const layout = (JSON.parse(readFileSync(join(built.entry, MANIFEST), 'utf8')) as Manifest).layout;
  const kept = layout.flat().reduce((a, b) => a + b.count, 0);
  const padded = layout.reduce((a, heads) => a + heads.length * Math.max(1, ...heads.map((h) => h.count)), 0);
  const asked = await engine.ask({ ...s, question: 'abc', maxTokens: 16 }, () => {});
  mark('ask (the KV uploaded as context inputs of the dense session)');
  await engine.ask({ ...s, question: 'abcd', maxTokens: 16 }, () => {});
  mark('ask again (same session, same KV)');
  await engine.build({ ...s, force: true });
  mark('rebuild (the KV freed, same session)');
  await engine.ask({ ...s, question: 'abc', maxTokens: 16 }, () => {});
  mark('ask the new generation (its KV uploaded, same session)');
  // A file added after the first: a refresh re-prefills and re-scores only it, over the compressed prefix.
  writeFileSync(join(ws, 'b.txt'), 'the end of the alphabet: wxyz\n');
  const refreshed = await engine.build(s);
  mark('refresh after an edit (same session)');
  await engine.ask({ ...s, question: 'abc', maxTokens: 16 }, () => {});
  mark('ask the refreshed generation (same session)');
  const sessions = weightSessionsCreated() - sessionsBefore;

  const m = await engine.model(s);
  const weightsMiB = statSync(join(m.prepared.dir, WEIGHTS_FILE)).size / MiB;
  // The build's working set as the memory estimate counts it in fp32 (the explicit attention WebGPU runs
  // materialises the same [heads, tokens, keys] probabilities the CPU's does): KV plus the larger phase's activations.
  const est = estimateMemory({ shape: m.spec, device: 'cpu', weights: 'fp32', contextTokens: built.contextTokens });
  const workingMiB = (est.kvBytes + est.activationBytes) / MiB;
  const stepPeak = (step: string) => rows.find((r) => r[0] === step)?.[3];
  const warmBuild = stepPeak('rebuild (the KV freed, same session)');
  const firstRun = stepPeak('first run (one token)');
  const result = {
    adapter: adapterName(probe.adapter),
    device: built.device,
    weightsMiB: Math.round(weightsMiB * 10) / 10,
    kvFullMiB: Math.round((built.kvBytesFull / MiB) * 100) / 100,
    contextTokens: built.contextTokens,
    refresh: { prefillTokens: refreshed.prefillTokens, contextTokens: refreshed.contextTokens },
    weightSessions: sessions,
    estimatedWorkingSetMiB: Math.round(workingMiB * 10) / 10,
    warmBuildPeakOverStartMiB: warmBuild,
    firstRunPeakOverStartMiB: firstRun,
    firstAskHostDeviceBytes: asked.hostDeviceBytes,
    contextPaddingShare: Math.round((1 - kept / padded) * 1000) / 1000,
    tables: [
      {
        title: `One engine process on WebGPU (${adapterName(probe.adapter)}): resident MiB after each step (weights ${weightsMiB.toFixed(1)} MiB, full KV ${(built.kvBytesFull / MiB).toFixed(2)} MiB)`,
        columns: ['step', 'resident MiB after it', 'peak resident MiB in it', 'its peak over the resident size it started from, MiB'],
        rows,
        notes: [
          `A warm build (the rebuild) peaks ${warmBuild} MiB over the resident size it starts from, against ${workingMiB.toFixed(1)} MiB of KV and activations in the memory estimate; the weights are already resident then. The first run, the first build and the first ask of each kind rise far more (the first run ${firstRun} MiB): work done once per shape, not broken down here. ${sessions} session(s) holding the weights created in all: the dense one builds, answers every generation (its compressed KV uploaded once as context inputs, padded per head to its layer's largest: ${((1 - kept / padded) * 100).toFixed(1)}% padding) and refreshes.`,
        ],
      },
    ],
  };
  const name = probe.adapter.software ? probe.adapter.architecture || 'software' : 'gpu';
  writeFileSync(join(RESULTS_DIR, `webgpu-memory-${name}.json`), JSON.stringify(result, null, 2) + '\n');
  console.log(JSON.stringify(result, null, 2));
} finally {
  rmSync(root, { recursive: true, force: true });
}
