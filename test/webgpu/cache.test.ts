// Builds on WebGPU with stories260K: the persisted cache answers in a new process on WebGPU as the CPU's does,
// and a build's host ↔ device traffic grows linearly with the context (the KV stays on the device across prefill
// chunks and scoring passes, and is read back once).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { webgpuSkip } from '../support/webgpu.ts';
import { Engine } from '../../src/engine/engine.ts';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const MODEL = fileURLToPath(new URL('../../../shared/models/stories260K', import.meta.url));
const skip = webgpuSkip() || (!existsSync(MODEL) && `${MODEL} not found`) || (!existsSync(CLI) && 'dist/cli.js missing: run npm run build');

const SENTENCES = [
  'Once upon a time, there was a little cat named Tom.',
  'Tom liked to play with his red ball in the garden.',
  'One day, the ball rolled into the pond and Tom was sad.',
  'His friend, a big dog named Max, jumped into the water and got the ball.',
  'Tom was very happy and said thank you to Max.',
  'From that day on, Tom and Max were best friends.',
  'They played in the park every morning and ate cake in the sun.',
  'Lily, the girl next door, watched them and smiled.',
];

/** A workspace of `files` short stories (about 130 tokens each). */
function workspace(root: string, name: string, files: number): string {
  const ws = join(root, name);
  mkdirSync(ws, { recursive: true });
  for (let i = 0; i < files; i++) {
    const text = Array.from({ length: 5 }, (_, j) => SENTENCES[(i * 3 + j) % SENTENCES.length]).join(' ');
    writeFileSync(join(ws, `story${i}.txt`), `${text}\n`);
  }
  return ws;
}

function cli(args: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) =>
    execFile(process.execPath, [CLI, ...args, '--json'], { timeout: 280_000 }, (err, out, stderr) =>
      err
        ? reject(new Error(`kvzip-code ${args.join(' ')}: ${err.message}\n${stderr}`))
        : resolve(JSON.parse(out) as Record<string, unknown>),
    ),
  );
}

/** Builds and asks on the CPU, then on WebGPU, each device with a cache folder of its own; their asks' results. */
async function buildThenAsk(root: string, extra: string[]): Promise<Record<'cpu' | 'webgpu', Record<string, unknown>>> {
  const ws = workspace(root, 'ws', 2);
  const answers: Record<string, Record<string, unknown>> = {};
  for (const device of ['cpu', 'webgpu']) {
    const common = ['--model', MODEL, '--device', device, ...extra, '--cache-dir', join(root, `cache-${device}`)];
    const built = await cli(['build', ws, ...common]);
    assert.deepEqual([built.device, built.fromCache], [device, false]);
    answers[device] = { ...(await cli(['ask', ws, 'Tom and Max', '--max-tokens', '40', ...common])), scoring: built.scoring };
  }
  return answers as Record<'cpu' | 'webgpu', Record<string, unknown>>;
}

test('build → ask from the persisted cache in a new process on WebGPU answers as the CPU does', { skip, timeout: 600_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kvzip-webgpu-cache-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const answers = await buildThenAsk(root, []);
  const gpu = answers.webgpu;
  assert.equal(gpu.device, 'webgpu');
  assert.equal(gpu.fromCache, true);
  assert.equal(gpu.prefillTokens, 0, 'no prefill of the context in the new process');
  assert.equal(gpu.answer, answers.cpu.answer, 'the same greedy answer as the CPU');
  assert.equal(answers.cpu.hostDeviceBytes, 0);
  assert.ok((gpu.hostDeviceBytes as number) > 0, "the compressed KV and each step's ids and top logits crossed");
});

test(
  "local scoring on WebGPU: built from the KV read back once, it answers as the CPU's build does",
  { skip, timeout: 600_000 },
  async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'kvzip-webgpu-local-'));
    t.after(() => rmSync(root, { recursive: true, force: true }));
    const answers = await buildThenAsk(root, ['--scoring', 'local']);
    assert.deepEqual([answers.cpu.scoring, answers.webgpu.scoring], ['local', 'local']);
    assert.equal(answers.webgpu.fromCache, true);
    assert.equal(answers.webgpu.answer, answers.cpu.answer, 'the same greedy answer as the CPU');
  },
);

test('a context twice as long moves at most 1.25 × twice the host ↔ device bytes', { skip, timeout: 600_000 }, async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kvzip-webgpu-traffic-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const engine = new Engine();
  const build = (files: number) =>
    engine.build({
      workspace: workspace(root, `ws${files}`, files),
      model: MODEL,
      cacheDir: join(root, 'cache'),
      device: 'webgpu',
      ratio: 0.3,
      level: 'pair',
    });
  const short = await build(1);
  const long = await build(2);
  assert.equal(long.device, 'webgpu');
  const kv = (b: { kvBytesFull: number }) => b.kvBytesFull;
  const [a, b] = [short.hostDeviceBytes!, long.hostDeviceBytes!];
  t.diagnostic(
    `${short.contextTokens} tokens: ${a} bytes (${(a / kv(short)).toFixed(2)} × the full KV); ` +
      `${long.contextTokens} tokens: ${b} bytes (${(b / kv(long)).toFixed(2)} × the full KV); ratio ${(b / a).toFixed(3)} for ${(long.contextTokens / short.contextTokens).toFixed(3)}× the tokens`,
  );
  const growth = long.contextTokens / short.contextTokens;
  assert.ok(growth > 1.8, `the second context is about twice as long (${growth.toFixed(2)}×)`);
  assert.ok(
    b <= 1.25 * growth * a,
    `traffic grew ${(b / a).toFixed(3)}× for ${growth.toFixed(2)}× the tokens (bar: ≤ ${(1.25 * growth).toFixed(2)})`,
  );
  // Reading the full KV back once is the floor; the rest is ids, top logits and scores.
  assert.ok(b >= kv(long) && b < 2 * kv(long), `about one full KV crossed (${(b / kv(long)).toFixed(2)} ×)`);
});
