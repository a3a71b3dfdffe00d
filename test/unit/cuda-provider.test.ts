// CUDA detection on fake driver files, and the provider fetch against a local NuGet-like server with a real .nupkg.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chooseDevice } from '../../src/runtime/session.ts';
import { cudaStatus, installCudaProvider, ortBinDir, ortVersion, PROVIDER_FILES } from '../../src/runtime/cudaProvider.ts';
import { extractZipEntry, readZipEntries } from '../../src/runtime/zip.ts';
import { startNugetFeed, type NugetFeed } from '../support/nugetFeed.ts';

let dir: string;
let feed: NugetFeed;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cuda-test-'));
  feed = await startNugetFeed();
});

after(async () => {
  await feed.close();
  rmSync(dir, { recursive: true, force: true });
});

function fakeDriver(): string {
  const f = join(dir, 'nvidia-version');
  writeFileSync(
    f,
    'NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\nGCC version:  gcc version 12.2.0\n',
  );
  return f;
}

describe('CUDA provider', () => {
  test('no driver: not usable, and says so', () => {
    const s = cudaStatus({ driverVersionFile: join(dir, 'absent'), nvidiaSmi: false });
    assert.equal(s.usable, false);
    assert.match(s.reason, /No NVIDIA driver found/);
  });

  test(
    'the session falls back to the CPU with the detection reason',
    { skip: existsSync('/proc/driver/nvidia/version') && 'this machine has an NVIDIA driver' },
    () => {
      const choice = chooseDevice('auto');
      assert.equal(choice.device, 'cpu');
      assert.match(choice.reason ?? '', /No NVIDIA (GPU )?driver found/);
    },
  );

  test('other platforms are refused with the platform named', () => {
    const s = cudaStatus({ platform: 'darwin', arch: 'arm64' });
    assert.equal(s.usable, false);
    assert.match(s.reason, /Linux x64 only \(this is darwin\/arm64\)/);
  });

  test('driver present, provider libraries missing: names them and the folder', () => {
    const bin = join(dir, 'bin-empty');
    mkdirSync(bin);
    const s = cudaStatus({ driverVersionFile: fakeDriver(), nvidiaSmi: false, binDir: bin });
    assert.equal(s.usable, false);
    assert.equal(s.driverVersion, '550.54.15');
    assert.match(s.reason, /CUDA provider libraries not installed/);
    assert.deepEqual(s.missingProviderFiles, ['libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_shared.so']);
  });

  test('the real onnxruntime-node folder is found and its version read', () => {
    assert.match(ortBinDir(), /onnxruntime-node[\\/]bin[\\/]napi-v\d+[\\/]linux[\\/]x64$/);
    assert.ok(existsSync(join(ortBinDir(), 'onnxruntime_binding.node')));
    assert.match(ortVersion(), /^\d+\.\d+\.\d+/);
  });

  test('installCudaProvider fetches the .nupkg through the NuGet v3 layout and extracts the libraries', async () => {
    const bin = join(dir, 'bin');
    const progress: number[] = [];
    const paths = await installCudaProvider({
      binDir: bin,
      version: '1.30.0',
      feedIndex: feed.index,
      cacheDir: join(dir, 'cache'),
      onProgress: (p) => progress.push(p.bytes),
    });
    assert.deepEqual(
      paths,
      PROVIDER_FILES.map((f) => join(bin, f)),
    );
    for (const f of PROVIDER_FILES) assert.deepEqual(readFileSync(join(bin, f)), feed.libs[f]);
    assert.equal(progress.at(-1), feed.nupkg.length);
    assert.ok(
      !existsSync(join(dir, 'cache', 'microsoft.ml.onnxruntime.gpu.linux.1.30.0.nupkg')),
      'the package is removed after extraction',
    );
    assert.deepEqual(feed.requests.slice(-3), [
      '/v3/index.json',
      '/flat/microsoft.ml.onnxruntime.gpu.linux/index.json',
      '/flat/microsoft.ml.onnxruntime.gpu.linux/1.30.0/microsoft.ml.onnxruntime.gpu.linux.1.30.0.nupkg',
    ]);
    // Provider libraries present; the verdict now depends on CUDA's own libraries.
    const without = cudaStatus({ driverVersionFile: fakeDriver(), nvidiaSmi: false, binDir: bin, libraryDirs: [] });
    assert.equal(without.usable, false);
    assert.match(without.reason, /CUDA 12 \/ cuDNN 9 libraries not found \(libcudart\.so\.12/);
    const s = cudaStatus({ driverVersionFile: fakeDriver(), nvidiaSmi: false, binDir: bin, libraryDirs: false });
    assert.equal(s.usable, true, s.reason);
    assert.match(s.reason, /driver 550\.54\.15/);
  });

  test('a version missing from the feed is a clear error', async () => {
    await assert.rejects(
      installCudaProvider({ binDir: join(dir, 'bin2'), version: '9.9.9', feedIndex: feed.index, cacheDir: join(dir, 'cache') }),
      /Gpu\.Linux 9\.9\.9 is not on/,
    );
    assert.ok(!existsSync(join(dir, 'bin2', 'libonnxruntime_providers_cuda.so')));
  });

  test('a corrupt entry is rejected by its CRC and leaves no library behind', async () => {
    const zipPath = join(dir, 'bad.nupkg');
    writeFileSync(zipPath, feed.nupkg);
    const e = (await readZipEntries(zipPath)).get('runtimes/linux-x64/native/libonnxruntime_providers_cuda.so')!;
    const out = join(dir, 'out.so');
    await assert.rejects(extractZipEntry(zipPath, { ...e, crc: (e.crc ^ 1) >>> 0 }, out), /CRC-32 mismatch/);
    assert.ok(!existsSync(out) && !existsSync(`${out}.part`));
  });
});
