// kvzip-code: the headless CLI over the engine process (the same engine the extension uses).
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { findPreset } from '../model/presets.ts';
import { EngineClient, EngineError, type RequestBody } from '../engine/client.ts';
import type { AskResult, BuildResult, CudaSetupResult, Event } from '../engine/protocol.ts';
import { DEVICES, isDevice, spelled, type Level } from '../core/choices.ts';
import { defaultCacheDir } from './paths.ts';

const USAGE = `kvzip-code — ask questions about a repository to a local model, from a KVzip-compressed KV cache

  kvzip-code generate --model DIR (--prompt TEXT | --prompt-ids 1,2,3) [--max-tokens N] [--temperature T] [--top-p P] [--stop STR] [--device auto|cuda|webgpu|cpu] [--int4] [--json]
  kvzip-code build WORKSPACE --model DIR [--ratio 0.3] [--level pair|pair-uniform|head] [--force] [--int4] [--max-context-tokens N] [--cache-dir D] [--device D] [--json]
  kvzip-code ask WORKSPACE "QUESTION" --model DIR [--session NAME [--new]] [--conversation-budget N] [--ratio R] [--level L] [--max-tokens N] [--int4] [--cache-dir D] [--device D] [--json]
  kvzip-code info [--cache-dir D] [--json]
  kvzip-code clear [WORKSPACE] [--cache-dir D]
  kvzip-code setup-cuda [--force] [--json]

--model is a Hugging Face checkpoint folder or a preset id (qwen2.5-coder-1.5b, qwen2.5-coder-7b, qwen3-4b,
qwen3-8b, llama-3.1-8b), downloaded once. Progress goes to stderr; answers stream to stdout.
ask --session NAME keeps a conversation: each answer reads the session's earlier turns after the cached context
(kept under the cache folder; --new starts it over). Oldest turns drop when the conversation budget is full.
setup-cuda fetches onnxruntime's CUDA provider libraries where an NVIDIA driver is present; CUDA 12 and cuDNN 9
must be installed on the system (--force installs without a driver, for a GPU machine later).
--device auto takes CUDA when its provider libraries load, then WebGPU on a hardware adapter, then the CPU (and
says why); --device webgpu also takes a software adapter such as SwiftShader.`;

class UsageError extends Error {}

const options = {
  model: { type: 'string' },
  prompt: { type: 'string' },
  'prompt-ids': { type: 'string' },
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-p': { type: 'string' },
  stop: { type: 'string', multiple: true },
  device: { type: 'string', default: 'auto' },
  ratio: { type: 'string', default: '0.3' },
  level: { type: 'string', default: 'pair' },
  'cache-dir': { type: 'string' },
  'max-context-tokens': { type: 'string' },
  session: { type: 'string' },
  new: { type: 'boolean', default: false },
  'conversation-budget': { type: 'string' },
  force: { type: 'boolean', default: false },
  int4: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${v}"`);
  return n;
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined || v === '') throw new UsageError(`${what} is required`);
  return v;
}

async function main(argv: string[]): Promise<number> {
  const { values: o, positionals } = parseArgs({ args: argv, options, allowPositionals: true });
  const [command, ...rest] = positionals;
  if (o.help || !command) {
    console.log(USAGE);
    return command || o.help ? 0 : 2;
  }
  const device = o.device;
  if (!isDevice(device)) throw new UsageError(`--device must be ${spelled(DEVICES)}, got "${o.device}"`);
  const cacheDir = resolve(o['cache-dir'] ?? defaultCacheDir());
  // A preset id goes to the engine as is (it downloads the model); anything else is a folder.
  const model = () => {
    const m = need(o.model, '--model DIR');
    return findPreset(m) && !existsSync(m) ? m : resolve(m);
  };
  const settings = () => ({
    workspace: resolve(need(rest[0], 'WORKSPACE')),
    model: model(),
    cacheDir,
    device,
    ratio: num(o.ratio, 'ratio')!,
    level: o.level as Level,
    int4: o.int4,
    maxContextTokens: num(o['max-context-tokens'], 'max-context-tokens'),
  });

  let body: RequestBody;
  switch (command) {
    case 'generate':
      body = {
        type: 'generate',
        model: model(),
        cacheDir,
        device,
        int4: o.int4,
        prompt: o.prompt,
        promptIds: o['prompt-ids']?.split(',').map((s) => {
          const n = Number(s.trim());
          if (!Number.isInteger(n) || n < 0) throw new UsageError(`--prompt-ids must be comma-separated token ids, got "${s}"`);
          return n;
        }),
        maxTokens: num(o['max-tokens'], 'max-tokens'),
        temperature: num(o.temperature, 'temperature'),
        topP: num(o['top-p'], 'top-p'),
        stop: o.stop,
      };
      if (!body.prompt && !body.promptIds) throw new UsageError('--prompt TEXT or --prompt-ids 1,2,3 is required');
      break;
    case 'build':
      body = { type: 'build', ...settings(), force: o.force };
      break;
    case 'ask':
      if (o.new && !o.session) throw new UsageError('--new starts a session over: give --session NAME');
      body = {
        type: 'ask',
        ...settings(),
        question: need(rest[1], 'QUESTION'),
        maxTokens: num(o['max-tokens'], 'max-tokens'),
        session: o.session,
        newConversation: o.new,
        conversationBudget: num(o['conversation-budget'], 'conversation-budget'),
      };
      break;
    case 'info':
      body = { type: 'info', cacheDir };
      break;
    case 'clear':
      body = { type: 'clear', cacheDir, workspace: rest[0] && resolve(rest[0]) };
      break;
    case 'setup-cuda':
      body = { type: 'cuda-setup', force: o.force };
      break;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }

  const client = new EngineClient(fileURLToPath(new URL('./engine.js', import.meta.url)));
  const streams = body.type === 'ask' || body.type === 'generate';
  let lastProgress = '';
  const onEvent = (e: Event) => {
    if (e.type === 'token' && streams && !o.json) process.stdout.write(e.text);
    if (e.type === 'progress') {
      // Whole tens of percent only: progress is for people, not a log of every tensor.
      const pct = e.total > 1 ? ` ${Math.floor((10 * e.done) / e.total) * 10}%` : '';
      const line = `${e.phase}${pct}${e.message ? ` ${e.message}` : ''}`;
      if (line !== lastProgress) process.stderr.write(`${line}\n`);
      lastProgress = line;
    }
  };
  const running = client.request<unknown>(body, onEvent);
  process.once('SIGINT', () => running.cancel());
  try {
    const result = await running.result;
    // The answer's token ids are for clients that keep a conversation themselves; --session keeps it here.
    if (o.json) console.log(JSON.stringify(body.type === 'ask' ? withoutIds(result as AskResult) : result, null, 1));
    else if (streams) {
      process.stdout.write('\n');
      if (body.type === 'ask') for (const line of askNotes(result as AskResult)) process.stderr.write(`${line}\n`);
      // The answer owns stdout; where it ran goes with the progress on stderr.
      process.stderr.write(`on ${deviceText(result as Ran)}\n`);
    } else console.log(human(command, result));
    return 0;
  } finally {
    client.dispose();
  }
}

function withoutIds({ answerIds: _ids, ...rest }: AskResult): Omit<AskResult, 'answerIds'> {
  return rest;
}

/** What a reader of the streamed answer must know about how it was made or why it ended. */
function askNotes(r: AskResult): string[] {
  const notes: string[] = [];
  if (r.turnsDropped)
    notes.push(`${r.turnsDropped} oldest turn${r.turnsDropped === 1 ? '' : 's'} dropped: the conversation budget is full`);
  if (r.stopped === 'conversation-budget') notes.push('stopped: conversation budget');
  return notes;
}

interface Ran {
  device: string;
  deviceReason?: string;
  adapter?: string;
}

/** "webgpu (NVIDIA ...)", or "cpu (why the CPU)". */
function deviceText(r: Ran): string {
  const detail = r.adapter ?? r.deviceReason;
  return detail ? `${r.device} (${detail})` : r.device;
}

function human(command: string, r: unknown): string {
  if (command === 'build') {
    const b = r as BuildResult;
    const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
    const memory = !b.memoryEstimateBytes
      ? ''
      : b.device === 'cpu'
        ? `; peak memory ${mb(b.peakRssBytes)} (estimated ${mb(b.memoryEstimateBytes)})`
        : `; GPU memory estimated ${mb(b.memoryEstimateBytes)}`;
    return `${b.fromCache ? 'Cache is fresh' : 'Built the cache'}: ${b.contextTokens} tokens, KV ${mb(b.kvBytesFull)} → ${mb(b.kvBytesCompressed)} (${((100 * b.kvBytesCompressed) / b.kvBytesFull).toFixed(1)}%) on ${deviceText(b)}${memory}\n${b.entry}`;
  }
  if (command === 'setup-cuda') {
    const c = r as CudaSetupResult;
    const done = c.installed.length ? `Installed onnxruntime's CUDA provider:\n${c.installed.map((f) => `  ${f}`).join('\n')}\n` : "onnxruntime's CUDA provider is already installed.\n";
    return done + (c.usable ? `CUDA is ready: ${c.reason}.` : `CUDA is not usable yet: ${c.reason}.\n${c.needs}`);
  }
  if (command === 'info') {
    const list = r as { workspace: string; model: string; contextTokens: number; bytes: number; ratio: number; lastUsedAt: string }[];
    if (list.length === 0) return 'No cache entries.';
    return list
      .map(
        (e) =>
          `${e.workspace}\n  model ${e.model}\n  ${e.contextTokens} tokens, ratio ${e.ratio}, ${(e.bytes / 1048576).toFixed(1)} MB, last used ${e.lastUsedAt}`,
      )
      .join('\n');
  }
  return JSON.stringify(r);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    if (e instanceof UsageError) console.error(`kvzip-code: ${e.message}\n\n${USAGE}`);
    else if (e instanceof EngineError) console.error(`kvzip-code: ${e.message}`);
    else console.error(`kvzip-code: ${(e as Error)?.message ?? e}`);
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
