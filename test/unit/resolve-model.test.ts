// A model setting resolves to a local folder as given, or to a preset downloaded from a (local) Hub once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { resolveModel } from '../../src/engine/resolveModel.ts';
import { findPreset } from '../../src/model/presets.ts';
import { UserError } from '../../src/core/errors.ts';

test('presets are found by id, repo and model name', () => {
  assert.equal(findPreset('qwen3-4b')?.id, 'qwen3-4b');
  assert.equal(findPreset('Qwen/Qwen2.5-Coder-7B-Instruct')?.id, 'qwen2.5-coder-7b');
  assert.equal(findPreset('Qwen2.5-Coder-1.5B-Instruct')?.id, 'qwen2.5-coder-1.5b');
  assert.equal(findPreset('no-such-model'), undefined);
});

test('a preset downloads once from the Hub into the cache folder; a folder is used as is', async (t) => {
  const files: Record<string, string> = {
    'config.json': '{"architectures":["Qwen2ForCausalLM"]}',
    'tokenizer.json': '{}',
    'tokenizer_config.json': '{}',
    'model.safetensors': 'weights',
  };
  let gets = 0;
  const server = createServer((req, res) => {
    const m = /^\/Qwen\/Qwen3-4B\/resolve\/main\/(.+)$/.exec(req.url ?? '');
    const body = m ? files[m[1]] : undefined;
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    if (req.method === 'GET') gets++;
    res.writeHead(200, {
      'content-length': Buffer.byteLength(body),
      'x-linked-etag': `"${createHash('sha256').update(body).digest('hex')}"`,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const cache = mkdtempSync(join(tmpdir(), 'kvzip-hub-'));
  const endpoint = process.env.HF_ENDPOINT;
  const hubCache = process.env.HF_HUB_CACHE;
  process.env.HF_ENDPOINT = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // A preset in the Hugging Face cache is used there: this machine's own cache must not answer for the server.
  process.env.HF_HUB_CACHE = join(cache, 'no-hf-cache');
  t.after(() => {
    server.close();
    rmSync(cache, { recursive: true, force: true });
    if (endpoint === undefined) delete process.env.HF_ENDPOINT;
    else process.env.HF_ENDPOINT = endpoint;
    if (hubCache === undefined) delete process.env.HF_HUB_CACHE;
    else process.env.HF_HUB_CACHE = hubCache;
  });

  const phases: string[] = [];
  const dir = await resolveModel('Qwen3-4B', cache, { progress: (p) => phases.push(p) });
  assert.equal(dir, join(cache, 'hub', 'Qwen--Qwen3-4B'));
  assert.equal(readFileSync(join(dir, 'model.safetensors'), 'utf8'), 'weights');
  assert.ok(phases.includes('download'));
  const before = gets;
  assert.equal(await resolveModel('qwen3-4b', cache), dir, 'the second time it is already there');
  assert.equal(gets, before);

  assert.equal(await resolveModel(cache, cache), cache, 'a path that is no preset is used as is');
  await assert.rejects(resolveModel('qwen3-8b', cache), (e) => e instanceof UserError && /not found|404/i.test(e.message));
  assert.ok(!existsSync(join(cache, 'hub', 'Qwen--Qwen3-8B', '.kvzip-complete')));
});
