// Hub download against real local HTTP servers that behave like the Hub (127.0.0.1) and its CDN (localhost).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { downloadFile, downloadModel, HubError, resolveUrl, type DownloadProgress } from '../../src/model/hub.ts';

const TOKEN = 'hf_secretTOKEN123';
const blob = randomBytes(256 * 1024);
const blobSha = createHash('sha256').update(blob).digest('hex');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface Seen {
  path: string;
  auth: string | undefined;
  range: string | undefined;
}
const hubSeen: Seen[] = [];
const cdnSeen: Seen[] = [];
let cutOnce = true;

function serve(seen: Seen[], handler: http.RequestListener): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    seen.push({ path: req.url ?? '', auth: req.headers.authorization, range: req.headers.range });
    handler(req, res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** Serves `data` honouring `Range: bytes=N-` with 206, like the Hub's CDN. */
function sendRanged(req: http.IncomingMessage, res: http.ServerResponse, data: Buffer, extra: Record<string, string> = {}) {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (m) {
    const start = Number(m[1]);
    if (start >= data.length) return res.writeHead(416, { 'content-range': `bytes */${data.length}` }).end();
    res.writeHead(206, {
      ...extra,
      'content-length': data.length - start,
      'content-range': `bytes ${start}-${data.length - 1}/${data.length}`,
    });
    return res.end(data.subarray(start));
  }
  res.writeHead(200, { ...extra, 'content-length': data.length });
  res.end(data);
}

let hub: http.Server;
let cdn: http.Server;
let endpoint: string;
let cdnBase: string;
let dir: string;

const shard1 = randomBytes(40_000);
const shard2 = randomBytes(30_000);
const modelFiles: Record<string, Buffer> = {
  'config.json': Buffer.from('{"model_type":"llama"}'),
  'tokenizer.json': Buffer.from('{"model":{}}'),
  'tokenizer_config.json': Buffer.from('{}'),
  'model.safetensors.index.json': Buffer.from(
    JSON.stringify({
      weight_map: { a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors', c: 'model-00001-of-00002.safetensors' },
    }),
  ),
  'model-00001-of-00002.safetensors': shard1,
  'model-00002-of-00002.safetensors': shard2,
};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hub-test-'));
  cdn = await serve(cdnSeen, (req, res) => {
    const path = req.url ?? '';
    if (path === '/blob') return sendRanged(req, res, blob);
    if (path === '/cut') {
      if (cutOnce && !req.headers.range) {
        cutOnce = false;
        res.writeHead(200, { 'content-length': blob.length });
        // Flush part of the body, then drop the connection, as a flaky network does.
        return res.write(blob.subarray(0, 100_000), () => res.socket?.destroy());
      }
      return sendRanged(req, res, blob);
    }
    if (path.startsWith('/lfs/')) return sendRanged(req, res, modelFiles[path.slice(5)]!);
    res.writeHead(404).end();
  });
  cdnBase = `http://localhost:${(cdn.address() as AddressInfo).port}`;
  hub = await serve(hubSeen, (req, res) => {
    const path = decodeURIComponent(req.url ?? '');
    const lfs = (target: string, data: Buffer, etag = sha(data)) =>
      res.writeHead(302, { location: `${cdnBase}${target}`, 'x-linked-etag': `"${etag}"`, 'x-linked-size': String(data.length) }).end();
    if (path === '/org/public/resolve/main/weights.bin') return lfs('/blob', blob);
    if (path === '/org/public/resolve/main/flaky.bin') return lfs('/cut', blob);
    if (path === '/org/public/resolve/main/corrupt.bin') return lfs('/blob', blob, 'a'.repeat(64));
    if (path === '/org/gated/resolve/main/weights.bin') {
      if (req.headers.authorization !== `Bearer ${TOKEN}`) {
        res.writeHead(401, { 'x-error-code': 'GatedRepo' });
        return res.end('Access to model org/gated is restricted');
      }
      return lfs('/blob', blob);
    }
    if (path === '/org/forbidden/resolve/main/weights.bin') return res.writeHead(403).end();
    const m = /^\/org\/model\/resolve\/main\/(.+)$/.exec(path);
    if (m && modelFiles[m[1]!]) {
      const data = modelFiles[m[1]!]!;
      // Small files come straight from the Hub with a git ETag; weights go through the CDN like LFS files.
      if (m[1]!.endsWith('.safetensors')) return lfs(`/lfs/${m[1]}`, data);
      res.writeHead(200, { etag: '"0123456789abcdef0123456789abcdef01234567"', 'content-length': data.length });
      return res.end(req.method === 'HEAD' ? undefined : data);
    }
    res.writeHead(404, { 'x-error-code': 'EntryNotFound' }).end();
  });
  endpoint = `http://127.0.0.1:${(hub.address() as AddressInfo).port}`;
});

after(() => {
  hub.close();
  cdn.close();
  rmSync(dir, { recursive: true, force: true });
});

async function rejects(p: Promise<unknown>, code: string): Promise<HubError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof HubError, `expected HubError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.ok(!err.message.includes(TOKEN), 'the token must never appear in a message');
    return err;
  }
  assert.fail(`expected a ${code} error`);
}

function noFile(dest: string) {
  assert.ok(!existsSync(dest), 'no file at the destination');
}

describe('hub download', () => {
  test('follows a 302 to another host, verifies the LFS sha256, and keeps the token on the Hub', async () => {
    const dest = join(dir, 'gated', 'weights.bin');
    const events: DownloadProgress[] = [];
    cdnSeen.length = 0;
    const r = await downloadFile(resolveUrl('org/gated', 'weights.bin', 'main', endpoint), dest, {
      token: TOKEN,
      onProgress: (p) => events.push(p),
    });
    assert.equal(r.sha256, blobSha);
    assert.deepEqual(readFileSync(dest), blob);
    assert.ok(!existsSync(`${dest}.part`));
    assert.equal(cdnSeen.length, 1);
    assert.equal(cdnSeen[0]!.auth, undefined, 'Authorization must not be forwarded to another host');
    const last = events.at(-1)!;
    assert.equal(last.bytes, blob.length);
    assert.equal(last.total, blob.length);
    assert.ok(last.bytesPerSecond > 0);
  });

  test('401 without a token says to accept the license and set a token; a wrong token says it was rejected', async () => {
    const dest = join(dir, 'gated2', 'weights.bin');
    const url = resolveUrl('org/gated', 'weights.bin', 'main', endpoint);
    const e1 = await rejects(downloadFile(url, dest, { context: { repo: 'org/gated', endpoint } }), 'unauthorized');
    assert.equal(e1.status, 401);
    assert.match(e1.message, /license at http:\/\/127\.0\.0\.1:\d+\/org\/gated/);
    assert.match(e1.message, /access token/);
    const e2 = await rejects(downloadFile(url, dest, { token: 'hf_wrong_secret' }), 'unauthorized');
    assert.match(e2.message, /token was rejected/);
    assert.ok(!e2.message.includes('hf_wrong_secret'));
    noFile(dest);
    assert.ok(!existsSync(`${dest}.part`));
  });

  test('403 tells to accept the license; 404 tells to check the id', async () => {
    const e403 = await rejects(
      downloadFile(resolveUrl('org/forbidden', 'weights.bin', 'main', endpoint), join(dir, 'f.bin'), { token: TOKEN }),
      'forbidden',
    );
    assert.match(e403.message, /Accept the model's license/);
    const dest = join(dir, 'missing.bin');
    const e404 = await rejects(downloadFile(resolveUrl('org/public', 'nope.bin', 'main', endpoint), dest), 'not-found');
    assert.equal(e404.status, 404);
    assert.match(e404.message, /Check the model id and revision/);
    noFile(dest);
  });

  test('no network: a closed port is "offline" with advice', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const dest = join(dir, 'offline.bin');
    const e = await rejects(
      downloadFile(resolveUrl('org/public', 'weights.bin', 'main', `http://127.0.0.1:${port}`), dest, { token: TOKEN }),
      'offline',
    );
    assert.match(e.message, /cannot reach .*ECONNREFUSED.*HF_ENDPOINT/);
    noFile(dest);
  });

  test('a wrong sha256 deletes the download and never produces the file', async () => {
    const dest = join(dir, 'corrupt.bin');
    const e = await rejects(downloadFile(resolveUrl('org/public', 'corrupt.bin', 'main', endpoint), dest), 'integrity');
    assert.match(e.message, /sha256 mismatch/);
    noFile(dest);
    assert.ok(!existsSync(`${dest}.part`), 'the corrupt part is not kept for a resume');
  });

  test('a connection cut halfway leaves only a .part; the next call resumes it with Range', async () => {
    const dest = join(dir, 'flaky.bin');
    const url = resolveUrl('org/public', 'flaky.bin', 'main', endpoint);
    cutOnce = true;
    cdnSeen.length = 0;
    const e = await rejects(downloadFile(url, dest, { retries: 0 }), 'network');
    assert.match(e.message, /resumes where it stopped/);
    noFile(dest);
    const partSize = statSync(`${dest}.part`).size;
    assert.ok(partSize > 0 && partSize < blob.length, `part holds ${partSize} bytes`);
    const r = await downloadFile(url, dest);
    assert.equal(r.resumedFrom, partSize);
    assert.equal(cdnSeen.at(-1)!.range, `bytes=${partSize}-`);
    assert.equal(r.sha256, blobSha);
    assert.deepEqual(readFileSync(dest), blob);
    assert.ok(!existsSync(`${dest}.part`));
  });

  test('within one call a cut is retried automatically with Range', async () => {
    const dest = join(dir, 'flaky2.bin');
    cutOnce = true;
    cdnSeen.length = 0;
    const r = await downloadFile(resolveUrl('org/public', 'flaky.bin', 'main', endpoint), dest);
    assert.ok(r.resumedFrom > 0);
    assert.equal(cdnSeen.length, 2);
    assert.match(cdnSeen[1]!.range ?? '', /^bytes=\d+-$/);
    assert.deepEqual(readFileSync(dest), blob);
  });

  test('a stale .part that is not a prefix of the file fails verification and is discarded', async () => {
    const dest = join(dir, 'stale.bin');
    writeFileSync(`${dest}.part`, randomBytes(1000));
    await rejects(downloadFile(resolveUrl('org/public', 'weights.bin', 'main', endpoint), dest), 'integrity');
    noFile(dest);
    assert.ok(!existsSync(`${dest}.part`));
    const r = await downloadFile(resolveUrl('org/public', 'weights.bin', 'main', endpoint), dest);
    assert.equal(r.resumedFrom, 0);
    assert.equal(r.sha256, blobSha);
  });

  test('cancellation with an AbortSignal', async () => {
    const ac = new AbortController();
    ac.abort();
    const dest = join(dir, 'aborted.bin');
    await rejects(downloadFile(resolveUrl('org/public', 'weights.bin', 'main', endpoint), dest, { signal: ac.signal }), 'aborted');
    noFile(dest);
  });

  test('downloadModel fetches config, tokenizer, shard index and shards; skips a missing generation_config', async () => {
    const target = join(dir, 'model');
    let sawOverall = 0;
    const { files } = await downloadModel('org/model', target, {
      endpoint,
      onProgress: (p) => (sawOverall = Math.max(sawOverall, p.overallBytes)),
    });
    assert.deepEqual(files.sort(), Object.keys(modelFiles).sort());
    for (const [name, data] of Object.entries(modelFiles)) assert.deepEqual(readFileSync(join(target, name)), data, name);
    assert.ok(!existsSync(join(target, 'generation_config.json')));
    const total = Object.values(modelFiles).reduce((a, b) => a + b.length, 0) - modelFiles['model.safetensors.index.json']!.length;
    assert.ok(sawOverall > 0 && sawOverall <= total + modelFiles['model.safetensors.index.json']!.length);
    // A second call finds every file complete and downloads nothing.
    const before = cdnSeen.length;
    await downloadModel('org/model', target, { endpoint });
    assert.equal(cdnSeen.length, before);
  });
});
