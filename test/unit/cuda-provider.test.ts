// CUDA detection on fake driver files, and the provider fetch against a local NuGet-like server with a real .nupkg.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { crc32, deflateRawSync } from 'node:zlib';
import { chooseDevice } from '../../src/runtime/session.ts';
import { cudaStatus, installCudaProvider, ortBinDir, ortVersion, PROVIDER_FILES } from '../../src/runtime/cudaProvider.ts';
import { extractZipEntry, readZipEntries } from '../../src/runtime/zip.ts';

/** A minimal but real zip writer (deflate), enough to build a .nupkg like NuGet's. */
function makeZip(files: Record<string, Buffer>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of Object.entries(files)) {
    const nameBuf = Buffer.from(name);
    const comp = deflateRawSync(data);
    const crc = crc32(data);
    const lfh = Buffer.alloc(30);
    lfh.writeUInt32LE(0x04034b50, 0);
    lfh.writeUInt16LE(20, 4);
    lfh.writeUInt16LE(8, 8);
    lfh.writeUInt32LE(crc, 14);
    lfh.writeUInt32LE(comp.length, 18);
    lfh.writeUInt32LE(data.length, 22);
    lfh.writeUInt16LE(nameBuf.length, 26);
    const cdh = Buffer.alloc(46);
    cdh.writeUInt32LE(0x02014b50, 0);
    cdh.writeUInt16LE(20, 4);
    cdh.writeUInt16LE(20, 6);
    cdh.writeUInt16LE(8, 10);
    cdh.writeUInt32LE(crc, 16);
    cdh.writeUInt32LE(comp.length, 20);
    cdh.writeUInt32LE(data.length, 24);
    cdh.writeUInt16LE(nameBuf.length, 28);
    cdh.writeUInt32LE(offset, 42);
    locals.push(lfh, nameBuf, comp);
    centrals.push(cdh, nameBuf);
    offset += 30 + nameBuf.length + comp.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(Object.keys(files).length, 8);
  eocd.writeUInt16LE(Object.keys(files).length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

let dir: string;
let server: http.Server;
let feed: string;
const libs = Object.fromEntries(PROVIDER_FILES.map((f) => [f, Buffer.concat([Buffer.from(`ELF ${f}`), randomBytes(50_000), Buffer.alloc(50_000)])]));
const nupkg = makeZip({
  '[Content_Types].xml': Buffer.from('<Types/>'),
  ...Object.fromEntries(Object.entries(libs).map(([f, d]) => [`runtimes/linux-x64/native/${f}`, d])),
  'runtimes/win-x64/native/onnxruntime_providers_cuda.dll': Buffer.from('not for linux'),
});
const requests: string[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'cuda-test-'));
  server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const json = (v: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(v));
    if (req.url === '/v3/index.json') return json({ version: '3.0.0', resources: [{ '@id': `${base}/flat/`, '@type': 'PackageBaseAddress/3.0.0' }] });
    if (req.url === '/flat/microsoft.ml.onnxruntime.gpu.linux/index.json') return json({ versions: ['1.29.0', '1.30.0'] });
    if (req.url === '/flat/microsoft.ml.onnxruntime.gpu.linux/1.30.0/microsoft.ml.onnxruntime.gpu.linux.1.30.0.nupkg') {
      return res.writeHead(200, { 'content-length': nupkg.length }).end(nupkg);
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  feed = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v3/index.json`;
});

after(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

function fakeDriver(): string {
  const f = join(dir, 'nvidia-version');
  writeFileSync(f, 'NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\nGCC version:  gcc version 12.2.0\n');
  return f;
}

describe('CUDA provider', () => {
  test('no driver: not usable, and says so', () => {
    const s = cudaStatus({ driverVersionFile: join(dir, 'absent'), nvidiaSmi: false });
    assert.equal(s.usable, false);
    assert.match(s.reason, /No NVIDIA driver found/);
  });

  test('the session falls back to the CPU with the detection reason', { skip: existsSync('/proc/driver/nvidia/version') && 'this machine has an NVIDIA driver' }, () => {
    const choice = chooseDevice('auto');
    assert.equal(choice.device, 'cpu');
    assert.match(choice.reason ?? '', /No NVIDIA (GPU )?driver found/);
  });

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
    const paths = await installCudaProvider({ binDir: bin, version: '1.30.0', feedIndex: feed, cacheDir: join(dir, 'cache'), onProgress: (p) => progress.push(p.bytes) });
    assert.deepEqual(paths, PROVIDER_FILES.map((f) => join(bin, f)));
    for (const f of PROVIDER_FILES) assert.deepEqual(readFileSync(join(bin, f)), libs[f]);
    assert.equal(progress.at(-1), nupkg.length);
    assert.ok(!existsSync(join(dir, 'cache', 'microsoft.ml.onnxruntime.gpu.linux.1.30.0.nupkg')), 'the package is removed after extraction');
    assert.deepEqual(requests.slice(-3), [
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
    await assert.rejects(installCudaProvider({ binDir: join(dir, 'bin2'), version: '9.9.9', feedIndex: feed, cacheDir: join(dir, 'cache') }), /Gpu\.Linux 9\.9\.9 is not on/);
    assert.ok(!existsSync(join(dir, 'bin2', 'libonnxruntime_providers_cuda.so')));
  });

  test('a corrupt entry is rejected by its CRC and leaves no library behind', async () => {
    const zipPath = join(dir, 'bad.nupkg');
    writeFileSync(zipPath, nupkg);
    const e = (await readZipEntries(zipPath)).get('runtimes/linux-x64/native/libonnxruntime_providers_cuda.so')!;
    const out = join(dir, 'out.so');
    await assert.rejects(extractZipEntry(zipPath, { ...e, crc: (e.crc ^ 1) >>> 0 }, out), /CRC-32 mismatch/);
    assert.ok(!existsSync(out) && !existsSync(`${out}.part`));
  });
});
