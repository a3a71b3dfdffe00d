// The ask job: a question answered from the compressed cache, after the conversation's earlier turns, with the
// current text of a file the cache lacks or holds stale.
import type { ProgressFn } from '../core/progress.ts';
import { UserError } from '../core/errors.ts';
import { PhaseTimes } from '../core/timings.ts';
import { planRefresh, type RefreshPlan } from '../context/index.ts';
import { CacheStore } from '../cache/store.ts';
import { attentionWindow } from '../model/config.ts';
import type { PromptLayout } from '../model/tokenizer.ts';
import { generate, type SamplingOptions } from '../runtime/generate.ts';
import { prefillChunk } from '../runtime/traffic.ts';
import { quoteFor } from './attach.ts';
import { ENTRY_FILES } from './build.ts';
import { buildCache } from './buildCache.ts';
import { conversationBudget, planTail } from './conversation.ts';
import { deviceOf, modelSource, trustedFor } from './entryFacts.ts';
import type { EngineParts } from './parts.ts';
import type { AskRequest, AskResult, CacheSettings } from './protocol.ts';
import { fitQuestion } from './question.ts';
import { SessionStore, type LoadedSession } from './sessions.ts';
import { checkCacheNotWorkspace } from './workspace.ts';

/** A question: its settings, where the answer's text goes, and progress, cancel and notices for the user. */
export interface AskJob {
  settings: CacheSettings & AskRequest & { sampling?: Partial<SamplingOptions> };
  onText: (t: string) => void;
  progress?: ProgressFn;
  signal?: AbortSignal;
  notice?: (message: string) => void;
}

/** Answers from the compressed cache (building it first when it is missing or untrusted), as a conversation turn. */
export async function askCache(parts: EngineParts, job: AskJob): Promise<AskResult> {
  const { settings: s, onText, progress, signal, notice } = job;
  let answerStart = performance.now();
  const times = new PhaseTimes();
  checkCacheNotWorkspace(s);
  parts.answering.prepare(s.device);
  const m = await times.time('modelOpen', () => parts.model(s, progress, signal, times));
  const window = attentionWindow(m.prepared.spec);
  const maxTokens = s.maxTokens ?? 256;
  // The tokenizer is only loaded when first used: an answer from the cache loads it while its session opens.
  let layoutOnce: PromptLayout | undefined;
  const layout = () => (layoutOnce ??= m.tokenizer.layout());
  const encodeQuestion = (text: string) => m.tokenizer.questionIds(layout(), text);
  const store = new CacheStore(s.cacheDir, notice);
  const key = parts.entryKey(s, m);
  let opened = await store.open(key, ENTRY_FILES);
  let prefillTokens = 0;
  if (!('manifest' in opened) || !trustedFor(opened.manifest, m)) {
    if ('release' in opened) await opened.release();
    // A question that cannot fit even next to the shortest context is refused before the build.
    const prefix = m.tokenizer.prefixIds(layout()).length;
    fitQuestion(encodeQuestion, s.question, s.quote, { window, used: prefix, maxTokens, beforeBuild: true });
    const reason = 'problem' in opened ? opened.problem : 'the cache was built with another model';
    progress?.('build-first', 0, 1, reason);
    const built = await buildCache(parts, { settings: { ...s, force: true }, progress, signal, times });
    // The first token is timed from here: the build is reported as the build, not as a slow answer.
    answerStart = performance.now();
    prefillTokens = built.prefillTokens;
    opened = await store.open(key, ENTRY_FILES);
    if (!('manifest' in opened)) throw new UserError(`The cache just built cannot be read back: ${opened.problem}`, 'cache');
  }
  const { dir, manifest } = opened;
  // On a GPU the compressed KV goes to the device once per generation: baked into the session as it opens on
  // CUDA, as context inputs of the one dense session on WebGPU. A new process loads the tokenizer meanwhile: on
  // the CPU the session is created on its own thread, so the two overlap (that time counts as the tokenizer's).
  let uploaded = 0;
  try {
    uploaded = await times.time('answerSession', () =>
      parts.answering.openFor(m, dir, manifest, progress, times, () => m.loadTokenizer(times)),
    );
  } finally {
    // The session holds what it read: the generation may go now.
    await opened.release();
  }
  const budget = conversationBudget(s.conversationBudget, window, manifest.sequenceLength);
  // A file's current text goes only where the cache lacks it or holds an older version.
  const current = quoteFor(manifest.fingerprint, s.question, s.quote);
  const { text: question, quoteLines } = fitQuestion(encodeQuestion, current.question, current.quote, {
    window,
    used: manifest.sequenceLength,
    maxTokens,
    budget,
  });
  const { session } = parts.answering;
  const sessions = s.session ? new SessionStore(s.cacheDir) : undefined;
  // Held from reading the turns to saving this one: two asks on a session would otherwise both start from the
  // same turns, and the one that saved last would lose the other's.
  const unlock = await sessions?.lock(key, s.session!, {
    signal,
    onWait: (owner) => notice?.(`session "${s.session}" is in use by another ask (process ${owner.pid}); waiting for it to finish`),
  });
  let ttftMs = 0;
  const bytesBefore = session.hostDeviceBytes;
  const { plan, r, unreadable } = await (async () => {
    if (sessions && s.newConversation) sessions.remove(key, s.session!);
    const loaded: LoadedSession = sessions ? sessions.load(key, s.session!) : { turns: s.history ?? [] };
    if (loaded.unreadable)
      notice?.(
        `session "${s.session}" could not be read (${loaded.unreadable.reason}); it was kept as ${loaded.unreadable.keptAs}, and the conversation starts over`,
      );
    const earlier = loaded.turns;
    if (earlier.some((t) => t.answerIds.some((v) => v >= m.prepared.spec.vocabSize)))
      throw new UserError('The conversation holds tokens of another model. Start a new conversation.', 'bad-request');
    const plan = planTail(m.tokenizer, layout(), earlier, question, budget, maxTokens);
    if (plan.ids.length >= budget) {
      throw new UserError(
        `The question is ${plan.ids.length} tokens, and the conversation budget after the context is ${budget}. Shorten the question or raise the budget.`,
        'bad-request',
      );
    }
    const { past, feed } = parts.answering.tail.resume(dir, plan.ids, () => session.empty());
    const tGenerate = performance.now();
    const r = await generate(
      session,
      feed,
      past,
      { maxTokens, stopIds: m.tokenizer.eosIds, signal, ...s.sampling },
      {
        decode: (ids) => m.tokenizer.decode(ids),
        onText: (t) => {
          if (!ttftMs) ttftMs = performance.now() - answerStart;
          onText(t);
        },
      },
      prefillChunk(m.device, feed.length),
      // Every token of the tail, the answer's last included, keeps a position inside the budget.
      manifest.sequenceLength + budget - 1,
    );
    times.add('firstToken', r.firstTokenMs);
    times.add('decode', performance.now() - tGenerate - r.firstTokenMs);
    parts.answering.tail.keep(dir, [...plan.ids, ...r.ids], r.kv);
    if (sessions && r.stopReason !== 'cancelled')
      sessions.save(key, s.session!, [...plan.kept, { question, answer: r.text, answerIds: r.ids }]);
    return { plan, r, unreadable: loaded.unreadable };
  })().finally(() => unlock?.());
  // An entry built earlier still answers after files changed, and the user is told: after the answer, so the
  // first token does not wait for the workspace to be read again.
  const cancelled = r.stopReason === 'cancelled';
  let stale = false;
  let changed: string[] | undefined;
  if (prefillTokens === 0 && !cancelled) {
    try {
      const changes = planRefresh(manifest.fingerprint, await times.time('staleCheck', () => parts.context(s, m, signal)));
      stale = !changes.upToDate;
      if (stale) changed = [...changes.changed, ...changes.added, ...changes.removed];
      if (stale) notice?.(staleNotice(changes));
    } catch (e) {
      // The answer is complete: a cancel loses only the check, and a workspace gone since the build is news.
      if (e instanceof UserError && e.code === 'workspace') {
        stale = true;
        notice?.(`${e.message} The answer came from the cache built before.`);
      } else if (!signal?.aborted) throw e;
    }
  }
  const turn = { question, answer: r.text, answerIds: r.ids };
  // After the answer, so its first token never waits for the generation's source baseline.
  const sources =
    r.ids.length && !cancelled
      ? await times.time('sources', () => parts.answering.sources(m, dir, manifest.fingerprint, r.sources))
      : undefined;
  return {
    answer: r.text,
    modelPath: modelSource(m.dir),
    fromCache: prefillTokens === 0,
    prefillTokens,
    questionTokens: plan.questionTokens,
    answerTokens: r.ids.length,
    ttftMs: ttftMs || performance.now() - answerStart,
    decodeMsPerToken: r.decodeMsPerToken,
    timings: times.record(),
    ...deviceOf(m),
    hostDeviceBytes: uploaded + session.hostDeviceBytes - bytesBefore,
    cancelled,
    ...(r.stopReason === 'context-full' ? { stopped: budget < window - manifest.sequenceLength ? 'conversation-budget' : 'window' } : {}),
    turnsUsed: plan.kept.length,
    turnsDropped: plan.dropped,
    turn,
    stopReason: r.stopReason,
    stale,
    ...(changed ? { changed } : {}),
    ...(quoteLines ? { quoteLines } : {}),
    ...(current.added ? { added: current.added } : {}),
    ...(sources ? { sources } : {}),
    ...(unreadable ? { sessionUnreadable: unreadable } : {}),
  };
}

function staleNotice(plan: RefreshPlan): string {
  const files = [...plan.changed, ...plan.added, ...plan.removed];
  const named = files.length ? `${files.slice(0, 3).join(', ')}${files.length > 3 ? ` and ${files.length - 3} more` : ''}` : 'the context';
  return `files changed since the cache was built (${named}); answering from the old cache. Run build to refresh it.`;
}
