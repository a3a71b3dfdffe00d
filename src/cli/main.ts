// kvzip-code: the headless CLI over the engine process (the same engine the extension uses).
import { fileURLToPath } from 'node:url';
import { EngineClient, EngineError } from '../engine/client.ts';
import type { AskResult, BuildResult, CacheEntryInfo, CudaSetupResult, Event } from '../engine/protocol.ts';
import { parseCommandLine, UsageError } from './args.ts';
import type { ContextPreview } from '../engine/protocol.ts';
import { previewText } from '../engine/previewText.ts';
import { defaultCacheDir } from './paths.ts';
import { interruptOnSignals, signalExitCode } from './signals.ts';
import { stoppedText } from '../engine/stoppedText.ts';

const USAGE = `kvzip-code — ask questions about a repository to a local model, from a KVzip-compressed KV cache

  kvzip-code generate --model MODEL (--prompt TEXT | --prompt-ids 1,2,3) [--max-tokens N] [--temperature T] [--top-p P] [--stop STR] [--device auto|cuda|webgpu|cpu] [--int4] [--json]
  kvzip-code context WORKSPACE --model MODEL [--max-context-tokens N] [--pin GLOB]... [--device D] [--int4] [--json]
  kvzip-code build WORKSPACE --model MODEL [--ratio 0.3] [--level pair|pair-uniform|head] [--scoring exact|local] [--force] [--int4] [--max-context-tokens N] [--cache-dir D] [--device D] [--json]
  kvzip-code ask WORKSPACE "QUESTION" --model MODEL [--session NAME [--new]] [--conversation-budget N] [--ratio R] [--level L] [--scoring S] [--max-tokens N] [--int4] [--cache-dir D] [--device D] [--json]
  kvzip-code info [--cache-dir D] [--json]
  kvzip-code clear [WORKSPACE] [--cache-dir D]
  kvzip-code setup-cuda [--force] [--json]

--model is a Hugging Face checkpoint folder, a .gguf file (a split one by any of its parts), ollama:NAME[:TAG] (pulled
with Ollama; OLLAMA_MODELS or ~/.ollama/models), lmstudio:PUBLISHER/MODEL[/FILE.gguf], a Hub name (org/name) already
in the Hugging Face cache, or a preset id (qwen2.5-coder-1.5b, qwen2.5-coder-7b, qwen3-4b, qwen3-8b, llama-3.1-8b),
used from the Hugging Face cache or else downloaded once. Progress goes to stderr; answers stream to stdout.
context previews what a build would put in the context (whole files or outlines, by rank), what it leaves out
and why, and the build's estimated memory and time; it reads only config.json and the tokenizer, never weights.
--pin GLOB ranks matching files first (build, ask and context).
ask --session NAME keeps a conversation: each answer reads the session's earlier turns after the cached context
(kept under the cache folder; --new starts it over). Oldest turns drop when the conversation budget is full.
setup-cuda fetches onnxruntime's CUDA provider libraries where an NVIDIA driver is present; CUDA 12 and cuDNN 9
must be installed on the system (--force installs without a driver, for a GPU machine later).
--device auto takes CUDA when its provider libraries load, then WebGPU on a hardware adapter, then the CPU (and
says why); --device webgpu also takes a software adapter such as SwiftShader. --debug shows the stack of an internal error.`;

async function main(argv: string[]): Promise<number> {
  const { command, body, json, help } = parseCommandLine(argv, defaultCacheDir);
  if (help || !body || !command) {
    console.log(USAGE);
    return command || help ? 0 : 2;
  }

  const client = new EngineClient(fileURLToPath(new URL('./engine.js', import.meta.url)));
  const streams = body.type === 'ask' || body.type === 'generate';
  let lastProgress = '';
  const onEvent = (e: Event) => {
    if (e.type === 'token' && streams && !json) process.stdout.write(e.text);
    if (e.type === 'notice') process.stderr.write(`kvzip-code: ${e.message}\n`);
    if (e.type === 'progress') {
      // Whole tens of percent only: progress is for people, not a log of every tensor.
      const pct = e.total > 1 ? ` ${Math.floor((10 * e.done) / e.total) * 10}%` : '';
      const line = `${e.phase}${pct}${e.message ? ` ${e.message}` : ''}`;
      if (line !== lastProgress) process.stderr.write(`${line}\n`);
      lastProgress = line;
    }
  };
  const running = client.request(body, onEvent);
  const interrupt = interruptOnSignals(running, client);
  try {
    let result: unknown;
    try {
      result = await running.result;
    } catch (e) {
      // A signal's cancel ends the request with "Cancelled", or with whatever its unwinding ran into.
      if (!interrupt.signal) throw e;
    }
    if (interrupt.signal) {
      // An answer streamed so far keeps its line; the cancel is said where progress goes.
      if (streams && !json) process.stdout.write('\n');
      console.error('kvzip-code: Cancelled');
      return signalExitCode(interrupt.signal);
    }
    // The turn's token ids are for clients that keep a conversation themselves; --session keeps it here.
    if (json) console.log(JSON.stringify(body.type === 'ask' ? withoutIds(result as AskResult) : result, null, 1));
    else if (streams) {
      process.stdout.write('\n');
      if (body.type === 'ask') for (const line of askNotes(result as AskResult)) process.stderr.write(`${line}\n`);
      // The answer owns stdout; where it ran goes with the progress on stderr.
      process.stderr.write(`on ${deviceText(result as Ran)}\n`);
    } else console.log(human(command, result));
    return 0;
  } finally {
    await interrupt.finish();
    client.dispose();
  }
}

function withoutIds({ turn: _turn, ...rest }: AskResult): Omit<AskResult, 'turn'> {
  return rest;
}

/** What a reader of the streamed answer must know about how it was made or why it ended. */
function askNotes(r: AskResult): string[] {
  const notes: string[] = [];
  if (r.turnsDropped)
    notes.push(`${r.turnsDropped} oldest turn${r.turnsDropped === 1 ? '' : 's'} dropped: the conversation budget is full`);
  if (r.stopped) notes.push(stoppedText(r.stopped));
  if (r.answerTokens === 0 && r.stopReason === 'eos') notes.push('kvzip-code: the model ended its answer before writing anything');
  // The files the answer attended to most (engine/sources.ts): five on the line, --json has up to ten.
  if (r.sources?.length)
    notes.push(
      `sources: ${r.sources
        .slice(0, 5)
        .map((s) => `${s.path} ${Math.round(s.share * 100)}%`)
        .join(', ')}`,
    );
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
  if (command === 'context') return previewText(r as ContextPreview);
  if (command === 'build') {
    const b = r as BuildResult;
    const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
    const memory = !b.memoryEstimateBytes
      ? ''
      : b.device === 'cpu'
        ? `; peak memory ${mb(b.peakRssBytes)} (estimated ${mb(b.memoryEstimateBytes)})`
        : `; GPU memory estimated ${mb(b.memoryEstimateBytes)}`;
    return `${b.fromCache ? 'Cache is fresh' : 'Built the cache'}: ${b.contextTokens} tokens, KV ${mb(b.kvBytesFull)} → ${mb(b.kvBytesCompressed)} (${(100 * b.keptShare).toFixed(1)}% of its pairs kept${b.scoring === 'local' ? ', scored locally' : ''}) on ${deviceText(b)}${memory}\n${b.entry}`;
  }
  if (command === 'setup-cuda') {
    const c = r as CudaSetupResult;
    const done = c.installed.length
      ? `Installed onnxruntime's CUDA provider:\n${c.installed.map((f) => `  ${f}`).join('\n')}\n`
      : "onnxruntime's CUDA provider is already installed.\n";
    return done + (c.usable ? `CUDA is ready: ${c.reason}.` : `CUDA is not usable yet: ${c.reason}.\n${c.needs}`);
  }
  if (command === 'info') {
    const list = r as CacheEntryInfo[];
    if (list.length === 0) return 'No cache entries.';
    return list
      .map((e) =>
        'problem' in e
          ? `${e.entry}\n  cannot be used: ${e.problem} (rebuilt by the next build; \`clear\` removes it)`
          : `${e.workspace}\n  model ${e.modelPath}\n  ${e.contextTokens} tokens, ratio ${e.ratio}${e.scoring === 'local' ? ', local scoring' : ''}, ${(e.bytes / 1048576).toFixed(1)} MB, last used ${e.lastUsedAt}`,
      )
      .join('\n');
  }
  return JSON.stringify(r);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    // Read from argv itself: the error may be the command line's own.
    const debugMode = process.argv.includes('--debug');
    if (e instanceof UsageError) console.error(`kvzip-code: ${e.message}${e.usage ? `\n\n${USAGE}` : ''}`);
    else if (e instanceof EngineError) {
      console.error(`kvzip-code: ${e.message}`);
      if (e.detail) console.error(debugMode ? e.detail : 'This is a bug in kvzip-code; run again with --debug for the details.');
    } else {
      console.error(`kvzip-code: ${(e as Error)?.message ?? e}`);
      if (debugMode && e instanceof Error) console.error(e.stack);
    }
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
