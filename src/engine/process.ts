// The engine process: forked by the extension or the CLI, it answers protocol requests over IPC.
// Inference blocks this process's thread, never the client's.
import type { AskRequest, CacheSettings, Event, Request, RequestType, Results } from './protocol.ts';
import type { ProgressFn } from '../core/progress.ts';
import { Engine } from './engine.ts';
import { cudaSetupStatus, setupCuda } from './cudaSetup.ts';
import { contextReport } from '../context/index.ts';
import { previewContext } from './preview.ts';
import { UserError } from '../core/errors.ts';
import { CancelledError } from '../core/cancel.ts';
import { isLevel, isScoring, LEVELS, SCORINGS, spelled } from '../core/choices.ts';
import { checkCacheDir } from './cacheLocation.ts';
import { environmentError } from './environmentErrors.ts';

if (!process.send) {
  console.error('The KVzip engine runs as a child process of the extension or the CLI.');
  process.exit(2);
}

const engine = new Engine({ scoreChunk: Number(process.env.KVZIP_SCORE_CHUNK) || undefined });
const running = new Map<number, AbortController>();
let queue: Promise<unknown> = Promise.resolve();
/** Set once the engine is told to stop: what is still queued is cancelled before it starts. */
let stopping = false;

// After the client went away there is no one to tell: the request still unwinds, removing its temporary files.
const send = (e: Event) => process.connected && process.send!(e);

function settings(r: CacheSettings): CacheSettings {
  const ratio = Number(r.ratio);
  if (!(ratio > 0 && ratio <= 1)) throw new UserError(`ratio must be in (0, 1], got ${r.ratio}`, 'bad-request');
  if (!isLevel(r.level)) throw new UserError(`level must be ${spelled(LEVELS)}, got ${r.level}`, 'bad-request');
  if (r.scoring !== undefined && !isScoring(r.scoring))
    throw new UserError(`scoring must be ${spelled(SCORINGS)}, got ${r.scoring}`, 'bad-request');
  for (const k of ['workspace', 'model', 'cacheDir'] as const) {
    if (typeof r[k] !== 'string' || !r[k]) throw new UserError(`${k} is required`, 'bad-request');
  }
  for (const k of ['pinned', 'include', 'exclude'] as const) {
    const globs = r[k];
    if (globs !== undefined && !(Array.isArray(globs) && globs.every((g) => typeof g === 'string' && g.trim())))
      throw new UserError(`${k} must be a list of globs, none of them empty, got ${JSON.stringify(globs)}`, 'bad-request');
  }
  return r;
}

/** The conversation part of an ask, checked: it comes from a client and ends up as token ids in a graph. */
function conversation(r: AskRequest): Pick<AskRequest, 'session' | 'newConversation' | 'history' | 'conversationBudget' | 'quote'> {
  if (r.session !== undefined && (typeof r.session !== 'string' || !r.session.trim()))
    throw new UserError(`session must be a name, got ${JSON.stringify(r.session)}`, 'bad-request');
  const history = r.history ?? [];
  const ok =
    Array.isArray(history) &&
    history.every(
      (t) =>
        typeof t?.question === 'string' &&
        typeof t.answer === 'string' &&
        Array.isArray(t.answerIds) &&
        t.answerIds.every((v) => Number.isInteger(v) && v >= 0),
    );
  if (!ok) throw new UserError('history must be a list of {question, answer, answerIds} turns', 'bad-request');
  const budget = r.conversationBudget;
  if (budget !== undefined && !(Number.isInteger(budget) && budget > 0))
    throw new UserError(`conversationBudget must be a positive number of tokens, got ${budget}`, 'bad-request');
  const q = r.quote;
  if (q !== undefined) {
    const ok =
      typeof q?.text === 'string' &&
      (q.language === undefined || typeof q.language === 'string') &&
      (q.path === undefined || typeof q.path === 'string') &&
      (q.whole === undefined || typeof q.whole === 'string') &&
      (q.lines === undefined || (Array.isArray(q.lines) && q.lines.length === 2 && q.lines.every((v) => Number.isInteger(v) && v > 0)));
    if (!ok) throw new UserError('quote must be {text, language?, path?, lines?: [first, last], whole?}', 'bad-request');
  }
  return { session: r.session, newConversation: r.newConversation === true, history, conversationBudget: budget, quote: q };
}

async function handle(r: Exclude<Request, { type: 'cancel' }>, signal: AbortSignal): Promise<Results[RequestType]> {
  const progress: ProgressFn = (phase, done, total, message, estimate) =>
    send({ id: r.id, type: 'progress', phase, done, total, message, ...(estimate ? { estimate } : {}) });
  // A preview only reads, unless it must fetch or import a model (previewContext checks the folder then).
  if ('cacheDir' in r && typeof r.cacheDir === 'string' && r.type !== 'context') checkCacheDir(r.cacheDir);
  switch (r.type) {
    case 'build': {
      const notice = (message: string) => send({ id: r.id, type: 'notice', message });
      const { manifest: _m, context, ...result } = await engine.build({ ...settings(r), force: r.force }, progress, signal, notice);
      return { ...result, report: contextReport(context) };
    }
    case 'context':
      return previewContext(settings(r), progress, signal);
    case 'ask':
      return engine.ask(
        { ...settings(r), ...conversation(r), question: String(r.question ?? ''), maxTokens: r.maxTokens },
        (text) => send({ id: r.id, type: 'token', text }),
        progress,
        signal,
        (message) => send({ id: r.id, type: 'notice', message }),
      );
    case 'warm':
      return engine.warm(settings(r), progress, signal);
    case 'generate':
      return engine.generate(r, (text) => send({ id: r.id, type: 'token', text }), progress, signal);
    case 'info':
      return engine.info(r.cacheDir);
    case 'clear':
      return engine.clear(r.cacheDir, r.workspace, r.entry);
    case 'cuda-status':
      return cudaSetupStatus();
    case 'cuda-setup':
      return setupCuda(progress, signal, r.force === true);
    default:
      throw new UserError(`unknown request type ${JSON.stringify((r as { type?: unknown }).type)}`, 'bad-request');
  }
}

process.on('message', (raw: unknown) => {
  const r = raw as Request;
  if (typeof r !== 'object' || r === null || typeof r.id !== 'number') return;
  if (r.type === 'cancel') {
    running.get(r.target)?.abort();
    return;
  }
  const ctl = new AbortController();
  if (stopping) ctl.abort();
  running.set(r.id, ctl);
  // One request at a time: a model run owns the thread anyway, and builds must not interleave.
  queue = queue.then(async () => {
    try {
      if (ctl.signal.aborted) throw new CancelledError();
      send({ id: r.id, type: 'result', result: await handle(r, ctl.signal) });
    } catch (e) {
      const user = e instanceof UserError ? e : environmentError(e, cacheDirOf(r));
      // Whatever a cancelled request's unwinding throws (an AbortError from git or fetch, a check that found the
      // work half done), the user asked it to stop, and it stopped.
      if (e instanceof CancelledError || ctl.signal.aborted) send({ id: r.id, type: 'error', code: 'cancelled', message: 'Cancelled' });
      else if (user) send({ id: r.id, type: 'error', code: user.code, message: user.message });
      else
        send({
          id: r.id,
          type: 'error',
          code: 'internal',
          message: `Internal error: ${(e as Error)?.message ?? e}`,
          detail: (e as Error)?.stack,
        });
    } finally {
      running.delete(r.id);
    }
  });
});

function cacheDirOf(r: Request): string | undefined {
  return 'cacheDir' in r && typeof r.cacheDir === 'string' ? r.cacheDir : undefined;
}

/** Cancels every request and exits once they have unwound, so each removes its temporary files on the way. */
function shutdown(): void {
  if (stopping) return;
  stopping = true;
  for (const ctl of running.values()) ctl.abort();
  void queue.then(() => process.exit(0));
}

// The client stops the engine with SIGTERM or by going away (even killed); a closed terminal hangs it up.
process.on('SIGTERM', shutdown);
process.on('SIGHUP', shutdown);
process.on('disconnect', shutdown);
// A terminal's Ctrl-C reaches the whole process group. The client decides what it means (the CLI cancels its
// request); an engine that died of it would read as a crash and leave its temporary files behind.
process.on('SIGINT', () => {});
