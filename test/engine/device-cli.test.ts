// The device as the CLI shows it: --device is checked, `auto` on a machine whose only WebGPU adapter is
// SwiftShader (and no NVIDIA driver) runs on the CPU and says why, in --json and in the plain output.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const MODEL = fileURLToPath(new URL('../../../shared/models/stories260K', import.meta.url));
const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
const skip = !existsSync(CLI) ? 'dist/cli.js missing: run npm run build' : !existsSync(MODEL) ? `${MODEL} not found` : false;
const onlySoftware =
  !existsSync(SWIFTSHADER_ICD) || existsSync('/proc/driver/nvidia/version')
    ? 'needs SwiftShader as the only adapter and no NVIDIA driver'
    : false;

const cacheDir = mkdtempSync(join(tmpdir(), 'kvzip-device-'));
after(() => rmSync(cacheDir, { recursive: true, force: true }));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args, '--cache-dir', cacheDir],
      { timeout: 120_000, env: { ...process.env, VK_ICD_FILENAMES: SWIFTSHADER_ICD } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('--device in the CLI', { skip }, () => {
  test('an unknown device is a usage error that lists the four', async () => {
    const r = await cli(['generate', '--model', MODEL, '--prompt-ids', '1', '--device', 'gpu']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--device must be auto, cuda, webgpu or cpu, got "gpu"/);
  });

  test(
    'auto passes over SwiftShader: the CPU, with the software adapter named in --json and in the plain output',
    { skip: onlySoftware },
    async () => {
      const r = await cli(['generate', '--model', MODEL, '--prompt-ids', '1', '--max-tokens', '4', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const g = JSON.parse(r.stdout) as { device: string; deviceReason?: string; adapter?: string };
      assert.equal(g.device, 'cpu');
      assert.equal(g.adapter, undefined);
      assert.match(g.deviceReason ?? '', /No NVIDIA driver found.*software adapter, google swiftshader.*auto never picks/);

      const plain = await cli(['generate', '--model', MODEL, '--prompt-ids', '1', '--max-tokens', '4']);
      assert.equal(plain.code, 0, plain.stderr);
      assert.match(plain.stderr, /^on cpu \(No NVIDIA driver found.*swiftshader.*\)$/m);
    },
  );
});
