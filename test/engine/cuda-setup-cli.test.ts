// `kvzip-code setup-cuda`: the real CLI and engine process fetch onnxruntime's CUDA provider from a local
// NuGet-style feed into onnxruntime-node's own native folder. The CLI runs from a copy of dist/ beside a
// hard-linked copy of onnxruntime-node, so the libraries it installs land there and not in this checkout.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { ortBinDir, ortPackageRoot, PROVIDER_FILES } from '../../src/runtime/cudaProvider.ts';
import { startNugetFeed, type NugetFeed } from '../support/nugetFeed.ts';

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));
const hasDriver = existsSync('/proc/driver/nvidia/version');
const skip = !existsSync(join(DIST, 'cli.js')) ? 'dist/cli.js missing: run npm run build' : false;

let app: string;
let feed: NugetFeed;

/** dist/ plus node_modules/onnxruntime-node (hard links: new files in its bin folder stay in the copy). */
function makeApp(): string {
  const root = mkdtempSync(join(tmpdir(), 'kvzip-cuda-app-'));
  mkdirSync(join(root, 'dist'));
  for (const f of ['cli.js', 'engine.js']) copyFileSync(join(DIST, f), join(root, 'dist', f));
  const ort = ortPackageRoot();
  mkdirSync(join(root, 'node_modules'));
  cpSync(ort, join(root, 'node_modules', 'onnxruntime-node'), { recursive: true });
  symlinkSync(join(ort, '..', 'onnxruntime-common'), join(root, 'node_modules', 'onnxruntime-common'));
  return root;
}

function binOf(root: string): string {
  return ortBinDir(join(root, 'node_modules', 'onnxruntime-node'));
}

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // Its own TMPDIR: the package is downloaded there, and a partial one would be resumed by the next run.
    execFile(
      process.execPath,
      [join(app, 'dist', 'cli.js'), ...args],
      { timeout: 60_000, env: { ...process.env, TMPDIR: app, ...env } },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('kvzip-code setup-cuda', { skip }, () => {
  before(async () => {
    app = makeApp();
    feed = await startNugetFeed();
  });
  after(async () => {
    await feed?.close();
    if (app) rmSync(app, { recursive: true, force: true });
  });

  test(
    'without an NVIDIA driver it refuses, says what the GPU path needs, and installs nothing',
    { skip: hasDriver && 'this machine has an NVIDIA driver' },
    async () => {
      const r = await cli(['setup-cuda'], { KVZIP_NUGET_INDEX: feed.index });
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^kvzip-code: Cannot set up CUDA: No NVIDIA driver found .*CUDA 12 and cuDNN 9 .*pass --force\.\n$/);
      assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
      assert.ok(!existsSync(join(binOf(app), PROVIDER_FILES[0]!)));
      assert.equal(feed.requests.length, 0);
    },
  );

  test('--force fetches the package with progress and installs the libraries next to the onnxruntime binding', async () => {
    const r = await cli(['setup-cuda', '--force', '--json'], { KVZIP_NUGET_INDEX: feed.index });
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as {
      installed: string[];
      usable: boolean;
      providerMissing: boolean;
      reason: string;
      needs: string;
    };
    const bin = binOf(app);
    assert.deepEqual(
      result.installed,
      PROVIDER_FILES.map((f) => join(bin, f)),
    );
    for (const f of PROVIDER_FILES) assert.deepEqual(readFileSync(join(bin, f)), feed.libs[f]);
    assert.match(r.stderr, /^Downloading onnxruntime's CUDA provider \([\d.]+ of [\d.]+ [kMG]B(, [^)]+ left)?\)$/m);
    assert.match(result.needs, /CUDA 12 and cuDNN 9/);
    if (!hasDriver) {
      assert.equal(result.usable, false);
      assert.match(result.reason, /No NVIDIA driver found/);
    }
    // This checkout's own onnxruntime-node is untouched.
    assert.ok(!existsSync(join(ortBinDir(), PROVIDER_FILES[0]!)));

    const again = await cli(['setup-cuda', '--force'], { KVZIP_NUGET_INDEX: feed.index });
    assert.equal(again.code, 0, again.stderr);
    assert.match(
      again.stdout,
      /^onnxruntime's CUDA provider is already installed\.\nCUDA is not usable yet: .*\nThe GPU path needs an NVIDIA driver, CUDA 12 and cuDNN 9/,
    );
  });

  test('Ctrl-C during the download cancels it and leaves no library behind', async () => {
    const fresh = makeApp();
    const stalled = await startNugetFeed(['1.30.0'], { stall: true });
    try {
      const child = spawn(process.execPath, [join(fresh, 'dist', 'cli.js'), 'setup-cuda', '--force'], {
        env: { ...process.env, KVZIP_NUGET_INDEX: stalled.index, TMPDIR: fresh },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      let interrupted = false;
      child.stderr.on('data', (d: Buffer) => {
        stderr += d;
        if (!interrupted && /^Downloading/m.test(stderr)) interrupted = child.kill('SIGINT');
      });
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      // A cancel exits 130, as every command's Ctrl-C does (128 + SIGINT).
      assert.equal(code, 130);
      assert.match(stderr, /kvzip-code: Cancelled/);
      for (const f of PROVIDER_FILES) assert.ok(!existsSync(join(binOf(fresh), f)), f);
    } finally {
      await stalled.close();
      rmSync(fresh, { recursive: true, force: true });
    }
  });
});
