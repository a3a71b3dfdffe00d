// The trained stories260K through the real CLI on WebGPU: 255 greedy tokens equal its known output.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { webgpuSkip } from '../support/webgpu.ts';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const MODEL = fileURLToPath(new URL('../../../shared/models/stories260K', import.meta.url));
const skip = webgpuSkip() || (!existsSync(MODEL) && `${MODEL} not found`) || (!existsSync(CLI) && 'dist/cli.js missing: run npm run build');

test('generate --device webgpu reproduces stories260K expected-greedy.json', { skip, timeout: 300_000 }, async (t) => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'kvzip-webgpu-gen-'));
  t.after(() => rmSync(cacheDir, { recursive: true, force: true }));
  const args = [
    'generate',
    '--model',
    MODEL,
    '--prompt-ids',
    '1',
    '--max-tokens',
    '255',
    '--device',
    'webgpu',
    '--json',
    '--cache-dir',
    cacheDir,
  ];
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [CLI, ...args], { timeout: 280_000 }, (err, out, stderr) =>
      err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(out),
    ),
  );
  const r = JSON.parse(stdout) as { ids: number[]; device: string; adapter?: string; decodeMsPerToken: number };
  const expected = JSON.parse(readFileSync(join(MODEL, 'expected-greedy.json'), 'utf8')) as { greedy_ids: number[] };
  assert.equal(r.device, 'webgpu');
  assert.ok(r.adapter, 'the adapter is named');
  assert.equal(r.ids.length, 256);
  assert.deepEqual(r.ids, expected.greedy_ids);
  t.diagnostic(`adapter ${r.adapter}: ${r.decodeMsPerToken.toFixed(1)} ms/token`);
});
