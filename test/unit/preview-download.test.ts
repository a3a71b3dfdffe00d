// The context preview of a preset that is not downloaded yet: it fetches the config and tokenizer files from the
// (local) Hub, never a weight, previews the workspace with them, and says how much the build will download.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { previewContext } from '../../src/engine/preview.ts';
import { presetDownloadBytes } from '../../src/engine/estimate.ts';
import { presetFolder } from '../../src/engine/resolveModel.ts';
import { findPreset } from '../../src/model/presets.ts';
import { QWEN_CODER_1_5B_CONFIG, QWEN_TOKENIZER_DIR } from '../support/qwenConfig.ts';

test('the preview of a preset not downloaded fetches only its config and tokenizer, and names the download', async (t) => {
  const files: Record<string, Buffer> = {
    'config.json': Buffer.from(JSON.stringify(QWEN_CODER_1_5B_CONFIG)),
    'tokenizer.json': readFileSync(join(QWEN_TOKENIZER_DIR, 'tokenizer.json')),
    'tokenizer_config.json': readFileSync(join(QWEN_TOKENIZER_DIR, 'tokenizer_config.json')),
  };
  const asked: string[] = [];
  const server = createServer((req, res) => {
    asked.push(`${req.method} ${req.url}`);
    const m = /^\/Qwen\/Qwen2\.5-Coder-1\.5B-Instruct\/resolve\/main\/(.+)$/.exec(req.url ?? '');
    const body = m ? files[m[1]!] : undefined;
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': body.length, 'x-linked-etag': `"${createHash('sha256').update(body).digest('hex')}"` });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const root = mkdtempSync(join(tmpdir(), 'kvzip-preview-hub-'));
  const saved = { endpoint: process.env.HF_ENDPOINT, hub: process.env.HF_HUB_CACHE };
  process.env.HF_ENDPOINT = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // This machine's own Hugging Face cache must not answer for the server.
  process.env.HF_HUB_CACHE = join(root, 'no-hf-cache');
  t.after(() => {
    server.close();
    rmSync(root, { recursive: true, force: true });
    for (const [k, v] of [
      ['HF_ENDPOINT', saved.endpoint],
      ['HF_HUB_CACHE', saved.hub],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  const ws = join(root, 'ws');
  mkdirSync(ws);
  writeFileSync(join(ws, 'a.ts'), 'export const answer = 42;\n');
  writeFileSync(join(ws, 'b.md'), '# Notes\nThe answer is in a.ts.\n');
  const cacheDir = join(root, 'cache');
  const settings = { workspace: ws, model: 'Qwen2.5-Coder-1.5B-Instruct', cacheDir, device: 'cpu', ratio: 0.3, level: 'pair' } as const;

  const p = await previewContext(settings);
  const preset = findPreset('qwen2.5-coder-1.5b')!;
  assert.deepEqual(p.download, { model: preset.label, repo: preset.repo, bytes: presetDownloadBytes(preset) });
  assert.deepEqual(p.report.included.map((f) => f.path).sort(), ['a.ts', 'b.md']);
  assert.deepEqual(p.shape, preset.shape, "the config's shape is the preset's");
  assert.ok(p.estimate.buildSeconds! > 0 && p.estimate.memory.weightsBytes > 5e9);
  assert.ok(
    asked.every((a) => /\/(config|tokenizer|tokenizer_config)\.json$/.test(a)),
    `only the config and tokenizer were asked for: ${asked.join(', ')}`,
  );

  // They are kept where the build's download continues: a second preview asks nothing.
  const before = asked.length;
  await previewContext(settings);
  assert.equal(asked.length, before);
  // Once the build's download finished, there is nothing to download.
  writeFileSync(join(presetFolder(cacheDir, preset), '.kvzip-complete'), preset.repo);
  assert.equal((await previewContext(settings)).download, undefined);
});

test('offline, the preview of a preset not downloaded says what it could not fetch', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'kvzip-preview-offline-'));
  const saved = { endpoint: process.env.HF_ENDPOINT, hub: process.env.HF_HUB_CACHE };
  process.env.HF_ENDPOINT = 'http://127.0.0.1:9';
  process.env.HF_HUB_CACHE = join(root, 'no-hf-cache');
  t.after(() => {
    rmSync(root, { recursive: true, force: true });
    if (saved.endpoint === undefined) delete process.env.HF_ENDPOINT;
    else process.env.HF_ENDPOINT = saved.endpoint;
    if (saved.hub === undefined) delete process.env.HF_HUB_CACHE;
    else process.env.HF_HUB_CACHE = saved.hub;
  });
  mkdirSync(join(root, 'ws'));
  await assert.rejects(
    previewContext({
      workspace: join(root, 'ws'),
      model: 'qwen3-4b',
      cacheDir: join(root, 'cache'),
      device: 'cpu',
      ratio: 0.3,
      level: 'pair',
    }),
    (e: Error & { code?: string }) =>
      e.code === 'download-offline' &&
      /^Qwen3 4B is not downloaded yet, and its config\.json and tokenizer files, which the preview reads, could not be fetched: /.test(
        e.message,
      ),
  );
});
