// One weights copy on WebGPU: in one engine process, a build, answers from it (a follow-up over the kept tail KV
// included), a rebuild into a new generation, answers from that, a refresh after an edit and an answer from it
// open exactly one session holding the weights (the dense one, which takes each generation's compressed KV as
// device-resident context inputs), and every greedy answer, and the refresh's selection, equal the CPU's, where
// answering and refreshing open a baked compressed session per generation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { webgpuSkip } from '../support/webgpu.ts';
import { Engine } from '../../src/engine/engine.ts';
import { weightSessionsCreated } from '../../src/runtime/session.ts';
import type { ConversationTurn } from '../../src/engine/protocol.ts';

const MODEL = fileURLToPath(new URL('../../../shared/models/stories260K', import.meta.url));
const skip = webgpuSkip() || (!existsSync(MODEL) && `${MODEL} not found`);

const STORIES = [
  'Once upon a time, there was a little cat named Tom. Tom liked to play with his red ball in the garden.',
  'One day, the ball rolled into the pond and Tom was sad. His friend, a big dog named Max, got the ball.',
  'Lily, the girl next door, had a blue kite. She flew it in the park every morning with her mom.',
];

interface Run {
  answers: string[];
  /** Sessions holding the weights that the whole run created. */
  sessions: number;
  devices: string[];
  /** The refresh: tokens it prefilled of the context's, and the share of pairs it kept. */
  refresh: { prefillTokens: number; contextTokens: number; keptShare: number };
}

async function run(root: string, device: 'cpu' | 'webgpu'): Promise<Run> {
  const ws = join(root, `ws-${device}`);
  mkdirSync(ws, { recursive: true });
  writeFileSync(join(ws, 'a.txt'), `${STORIES[0]}\n`);
  writeFileSync(join(ws, 'b.txt'), `${STORIES[1]}\n`);
  const s = { workspace: ws, model: MODEL, cacheDir: join(root, `cache-${device}`), device, ratio: 0.5, level: 'pair' as const };
  const engine = new Engine();
  const before = weightSessionsCreated();
  const answers: string[] = [];
  const devices: string[] = [];
  const ask = async (question: string, history?: ConversationTurn[]) => {
    const r = await engine.ask({ ...s, question, maxTokens: 24, history }, () => {});
    answers.push(r.answer);
    devices.push(r.device);
    return r;
  };
  await engine.build({ ...s, force: true });
  const first = await ask('Tom and Max');
  await ask('What did Max do?', [first.turn]);
  // A new generation (another context) built and answered in the same process.
  writeFileSync(join(ws, 'c.txt'), `${STORIES[2]}\n`);
  await engine.build({ ...s, force: true });
  await ask('Lily and the kite');
  await ask('Tom and Max');
  // An edit to the last file: a refresh re-prefills and re-scores its suffix over the compressed prefix.
  writeFileSync(join(ws, 'c.txt'), `${STORIES[2]} The kite was red.\n`);
  const refreshed = await engine.build(s);
  await ask('What colour was the kite?');
  const { prefillTokens, contextTokens, keptShare } = refreshed;
  return { answers, sessions: weightSessionsCreated() - before, devices, refresh: { prefillTokens, contextTokens, keptShare } };
}

test(
  'build → ask → rebuild → ask → refresh → ask on WebGPU: one session holds the weights, answers equal the CPU',
  { skip, timeout: 600_000 },
  async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'kvzip-webgpu-one-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const cpu = await run(root, 'cpu');
    const gpu = await run(root, 'webgpu');
    t.diagnostic(`sessions holding the weights: cpu ${cpu.sessions}, webgpu ${gpu.sessions}`);
    assert.deepEqual(gpu.devices, ['webgpu', 'webgpu', 'webgpu', 'webgpu', 'webgpu']);
    assert.ok(gpu.refresh.prefillTokens > 0 && gpu.refresh.prefillTokens < gpu.refresh.contextTokens, 'the third build refreshed');
    assert.deepEqual(gpu.refresh, cpu.refresh, "the refresh prefilled and kept what the CPU's did");
    assert.equal(gpu.sessions, 1, 'one session over the weights on WebGPU, across three generations and a refresh');
    assert.ok(cpu.sessions >= 3, 'the CPU opens a baked session per generation beside its dense one');
    assert.deepEqual(gpu.answers, cpu.answers, 'the same greedy answers as the CPU');
  },
);
