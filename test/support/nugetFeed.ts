// A local NuGet v3 feed serving a real .nupkg (a zip written here) with fake provider libraries, for the CUDA
// provider fetch: the same three requests onnxruntime-node's installer makes.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { crc32, deflateRawSync } from 'node:zlib';
import { PROVIDER_FILES } from '../../src/runtime/cudaProvider.ts';

/** A minimal but real zip writer (deflate), enough to build a .nupkg like NuGet's. */
export function makeZip(files: Record<string, Buffer>): Buffer {
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

export interface NugetFeed {
  /** The v3 service index URL. */
  index: string;
  /** The provider libraries' contents, by file name. */
  libs: Record<string, Buffer>;
  nupkg: Buffer;
  /** Request paths in arrival order. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Serves Microsoft.ML.OnnxRuntime.Gpu.Linux at `versions` (the package itself for the last one), on 127.0.0.1.
 * `stall` sends the package's first half and then holds the connection open, for cancellation tests.
 */
export async function startNugetFeed(versions = ['1.29.0', '1.30.0'], opts: { stall?: boolean } = {}): Promise<NugetFeed> {
  const libs = Object.fromEntries(
    PROVIDER_FILES.map((f) => [f, Buffer.concat([Buffer.from(`ELF ${f}`), randomBytes(50_000), Buffer.alloc(50_000)])]),
  );
  const nupkg = makeZip({
    '[Content_Types].xml': Buffer.from('<Types/>'),
    ...Object.fromEntries(Object.entries(libs).map(([f, d]) => [`runtimes/linux-x64/native/${f}`, d])),
    'runtimes/win-x64/native/onnxruntime_providers_cuda.dll': Buffer.from('not for linux'),
  });
  const version = versions.at(-1)!;
  const requests: string[] = [];
  const held: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const json = (v: unknown) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(v));
    if (req.url === '/v3/index.json')
      return json({ version: '3.0.0', resources: [{ '@id': `${base}/flat/`, '@type': 'PackageBaseAddress/3.0.0' }] });
    if (req.url === '/flat/microsoft.ml.onnxruntime.gpu.linux/index.json') return json({ versions });
    if (req.url === `/flat/microsoft.ml.onnxruntime.gpu.linux/${version}/microsoft.ml.onnxruntime.gpu.linux.${version}.nupkg`) {
      res.writeHead(200, { 'content-length': nupkg.length });
      if (!opts.stall) return res.end(nupkg);
      res.write(nupkg.subarray(0, nupkg.length >> 1));
      held.push(res);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    index: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v3/index.json`,
    libs,
    nupkg,
    requests,
    close: () =>
      new Promise<void>((r) => {
        for (const res of held) res.destroy();
        server.close(() => r());
      }),
  };
}
