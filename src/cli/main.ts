// kvzip-code: the headless CLI over the engine process (the same engine the extension uses).
import { fileURLToPath } from 'node:url';
import { EngineClient, EngineError } from '../engine/client.ts';
import type { AskResult, BuildResult, CacheEntryInfo, ClearResult, CudaSetupResult, Event } from '../engine/protocol.ts';
import type { RequestBody } from '../engine/client.ts';
import { parseCommandLine, UsageError } from './args.ts';
import type { ContextPreview } from '../engine/protocol.ts';
import { previewText } from '../engine/previewText.ts';
import { defaultCacheDir } from './paths.ts';
import { interruptOnSignals, signalExitCode } from './signals.ts';
import { findCommand } from './commands.ts';
import { commandHelp, overviewHelp } from './help.ts';
import { ProgressOutput } from './progressOutput.ts';
import { stoppedText } from '../engine/stoppedText.ts';

async function main(argv: string[]): Promise<number> {
  const { command, body, json, debug, help, ignored } = parseCommandLine(argv, defaultCacheDir);
  if (help || !body) {
    const spec = findCommand(command);
    if (help) {
      console.log(spec ? commandHelp(spec, defaultCacheDir()) : overviewHelp());
      return 0;
    }
    // Bare `kvzip-code` is a usage error: the list of commands goes where errors go.
    console.error(overviewHelp());
    return 2;
  }

  for (const flag of ignored ?? []) console.error(`kvzip-code: ${command} ignores --${flag} (see \`kvzip-code ${command} --help\`)`);
  const client = new EngineClient(fileURLToPath(new URL('./engine.js', import.meta.url)));
  const streams = body.type === 'ask' || body.type === 'generate';
  const progress = new ProgressOutput(process.stderr, debug);
  const onEvent = (e: Event) => {
    if (e.type === 'token' && streams && !json) {
      progress.clear();
      process.stdout.write(e.text);
    }
    if (e.type === 'notice') progress.note(`kvzip-code: ${e.message}`);
    if (e.type === 'progress') {
      if (e.phase === 'build-first' && e.message) progress.note(`kvzip-code: building the cache first: ${e.message}`);
      progress.report(e);
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
    } finally {
      progress.clear();
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
    } else console.log(human(body, result));
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

const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;

function human(body: RequestBody, r: unknown): string {
  const command = body.type;
  if (command === 'context') return previewText(r as ContextPreview);
  if (command === 'clear') return clearedText(r as ClearResult, body.workspace);
  if (command === 'build') {
    const b = r as BuildResult;
    const memory = !b.memoryEstimateBytes
      ? ''
      : b.device === 'cpu'
        ? `; peak memory ${mb(b.peakRssBytes)} (estimated ${mb(b.memoryEstimateBytes)})`
        : `; GPU memory estimated ${mb(b.memoryEstimateBytes)}`;
    return `${b.fromCache ? 'Cache is fresh' : 'Built the cache'}: ${b.contextTokens} tokens, KV ${mb(b.kvBytesFull)} → ${mb(b.kvBytesCompressed)} (${(100 * b.keptShare).toFixed(1)}% of its pairs kept${b.scoring === 'local' ? ', scored locally' : ''}) on ${deviceText(b)}${memory}\n${b.entry}`;
  }
  if (command === 'cuda-setup') {
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

/** What `clear` removed, in a sentence. */
function clearedText(r: ClearResult, workspace: string | undefined): string {
  const of = workspace ? ` of ${workspace}` : '';
  const talks = r.conversations ? `${r.conversations} conversation${r.conversations === 1 ? '' : 's'}` : '';
  if (!r.removed) return `No cache entries${of} to remove${talks ? `; removed ${talks} whose entry was gone` : ''}.`;
  const entries = `${r.removed} cache ${r.removed === 1 ? 'entry' : 'entries'}`;
  return `Removed ${entries}${of}${talks ? ` and ${talks}` : ''}, freeing ${mb(r.bytes)}.`;
}

/** The problem, and where a usage problem's command says what it takes. */
function usageLine(e: UsageError): string {
  if (!e.usage) return e.message;
  return `${e.message.replace(/\.$/, '')} (see \`kvzip-code${e.command ? ` ${e.command}` : ''} --help\`)`;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    // Read from argv itself: the error may be the command line's own.
    const debugMode = process.argv.includes('--debug');
    if (e instanceof UsageError) console.error(`kvzip-code: ${usageLine(e)}`);
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
