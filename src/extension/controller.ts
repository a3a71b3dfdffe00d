// The workspace's cache state and conversation, shared by the sidebar, the status bar and the commands.
// Talks to the engine through EngineClient; knows nothing of how the webview draws things.
import * as vscode from 'vscode';
import type { AskResult, BuildResult, CacheEntryInfo, ConversationTurn, Event, Quote, WarmResult } from '../engine/protocol.ts';
import { ProgressWords, type ProgressView } from '../core/progressWords.ts';
import type { ConversationItem, HostMessage, Turn, ViewStatus } from '../webview/messages.ts';
import { EngineClient, EngineError, type RunningRequest } from '../engine/client.ts';
import type { ContextPreview } from '../engine/protocol.ts';
import type { ContextReport } from '../context/index.ts';
import { cacheSettings, readSettings } from './settings.ts';
import { HF_TOKEN_SECRET } from './models.ts';
import { Staleness, staleNote } from './staleness.ts';
import { answerLinks, checkedQuote, questionTurn } from './turnText.ts';
import { dirname } from 'node:path';
import { isInside } from '../core/paths.ts';
import { failureOf, inEditorTerms, type Failure } from './errors.ts';
import { stoppedText } from '../engine/stoppedText.ts';
import { newConversationId, titleOf, type ConversationStore } from './conversations.ts';
import { modelSource } from './modelSource.ts';

const BUILD_RECORD = 'kvzipCode.lastBuild';

/** What a finished build looked like, kept per workspace so a restart knows a cache exists without starting the engine. */
interface BuildRecord {
  key: string;
  builtAt: number;
  result: BuildResult;
}

/** What the cache holds of the workspace, for the header's "N of M files". */
function filesOf(r: BuildResult): ViewStatus['files'] {
  return {
    included: r.report.included.length,
    scanned: r.report.stats.scanned,
    outlines: r.report.included.filter((f) => f.outline).length,
  };
}

/** The header line over an answer when the file's current text went with its question. */
export function addedNote(added: NonNullable<AskResult['added']>, cut?: AskResult['quoteLines']): string | undefined {
  const what = added.lines ? `${added.path}:${added.lines[0]}-${added.lines[1]}` : added.path;
  const part = cut ? ` (its first ${cut.kept} of ${cut.total} lines, to fit the question budget)` : '';
  // A selection always goes, and its cut is told with the answer's figures.
  if (added.reason === 'selected') return undefined;
  return `current text of ${what} added${part}: ${added.reason}`;
}

export class Controller implements vscode.Disposable {
  readonly turns: Turn[] = [];
  /** What the model has read so far in this conversation, oldest first: sent with each question. */
  private history: ConversationTurn[] = [];
  /** The engine's figures for the last finished answer (from the cache or not, timings). */
  lastAsk: AskResult | undefined;
  private status: ViewStatus;
  private nextTurn = 1;
  /** The conversation on screen: saved under this id after every turn, so a window reload shows it again. */
  private conversationId = newConversationId();
  /** Asked before a build that starts with no cache (confirmBuild.ts); absent, builds start at once. */
  confirmBuild?: () => Promise<boolean>;
  private building: RunningRequest<BuildResult> | undefined;
  private asking: { req: RunningRequest<AskResult>; turn: Turn } | undefined;
  /** The warm request in flight, and the settings the engine last opened the cache for (warm()). */
  private warming: RunningRequest<WarmResult> | undefined;
  private warmedKey: string | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly staleness = new Staleness();
  private readonly statusEmitter = new vscode.EventEmitter<ViewStatus>();
  private readonly messageEmitter = new vscode.EventEmitter<HostMessage>();
  private autoRefreshTimer: NodeJS.Timeout | undefined;
  readonly onDidChangeStatus = this.statusEmitter.event;
  /** Turn and token updates for the sidebar. */
  readonly onMessage = this.messageEmitter.event;

  constructor(
    private readonly engine: EngineClient,
    private readonly cacheDir: string,
    private readonly memento: vscode.Memento,
    private readonly log: (line: string) => void,
    /** Holds the Hugging Face token for gated models; it goes to the engine with each request, never to logs. */
    private readonly secrets?: vscode.SecretStorage,
    /** Where conversations are kept between windows; absent with no folder open. */
    private readonly conversations?: ConversationStore,
  ) {
    const { model, device } = readSettings();
    this.status = {
      state: 'none',
      model,
      modelSource: modelSource(model, cacheDir),
      deviceSetting: device,
      busy: false,
      workspace: !!this.folder,
    };
    const latest = conversations?.list()[0];
    if (latest) this.restore(latest.id);
    const record = this.memento.get<BuildRecord>(BUILD_RECORD);
    if (record && this.folder && record.key === this.settingsKey()) {
      this.applyBuild(record.result, 'fresh');
      void this.checkStaleSince(record.builtAt);
    }
    const watcher = vscode.workspace.createFileSystemWatcher('**/*');
    this.disposables.push(
      watcher,
      watcher.onDidChange((u) => this.onFileChanged(u)),
      watcher.onDidCreate((u) => this.onFileChanged(u)),
      watcher.onDidDelete((u) => this.onFileChanged(u)),
      vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('kvzipCode') && this.onSettingsChanged()),
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.update({ workspace: !!this.folder })),
      engine.onCrash((message) => {
        this.log(message);
        this.update({
          failure: {
            what: 'The engine stopped.',
            message: `${message.split('\n')[0]} It restarts on the next request.`,
            actions: ['showOutput'],
          },
        });
        void vscode.window
          .showErrorMessage(`${message.split('\n')[0]} It restarts on the next request.`, 'Show Output')
          .then((pick) => pick && vscode.commands.executeCommand('kvzipCode.showOutput'));
      }),
      this.statusEmitter,
      this.messageEmitter,
    );
  }

  get folder(): vscode.WorkspaceFolder | undefined {
    return vscode.workspace.workspaceFolders?.[0];
  }

  get current(): ViewStatus {
    return this.status;
  }

  get busy(): boolean {
    return !!this.building || !!this.asking;
  }

  dispose(): void {
    clearTimeout(this.autoRefreshTimer);
    this.building?.cancel();
    this.asking?.req.cancel();
    for (const d of this.disposables) d.dispose();
  }

  /** Builds or refreshes the cache. Cancelling keeps whatever cache was there before. */
  async build(
    progress?: vscode.Progress<{ message?: string; increment?: number }>,
    token?: vscode.CancellationToken,
    force = false,
  ): Promise<BuildResult | undefined> {
    const folder = this.requireFolder();
    const hfToken = await this.secrets?.get(HF_TOKEN_SECRET);
    if (this.building) return this.building.result;
    // The build replaces the generation a warm would open; it should not wait for it.
    this.warming?.cancel();
    const before = this.status.state;
    let reported = 0;
    const words = new ProgressWords();
    const req = this.engine.request({ type: 'build', force, ...cacheSettings(folder, this.cacheDir), hfToken }, (e) => {
      if (e.type !== 'progress') return;
      const view = this.onProgress(e, words);
      progress?.report({ message: view.text, increment: Math.max(0, view.percent - reported) });
      reported = Math.max(reported, view.percent);
    });
    this.building = req;
    const sub = token?.onCancellationRequested(() => req.cancel());
    this.update({ state: 'building', percent: 0, phase: undefined, busy: true });
    try {
      const result = await req.result;
      this.logReport(result.report);
      await this.memento.update(BUILD_RECORD, { key: this.settingsKey(), builtAt: Date.now(), result } satisfies BuildRecord);
      this.applyBuild(result, 'fresh');
      this.update({ failure: undefined });
      this.warmedKey = undefined;
      return result;
    } catch (err) {
      this.update({ state: before === 'building' ? 'none' : before });
      if (err instanceof EngineError && err.code === 'cancelled') return undefined;
      this.fail('The cache build failed.', err);
      throw err;
    } finally {
      sub?.dispose();
      this.building = undefined;
      this.update({ percent: undefined, phase: undefined, busy: this.busy });
      // A new generation: its session opens now rather than at the first question.
      this.warm();
    }
  }

  /**
   * Opens the model and the cache in the engine ahead of the first question (the view opened, a build finished), so
   * that an answer after a restart waits only for its own tokens. Only where a cache exists and nothing runs; it never
   * builds or downloads, and what stops it is only logged: the question reports its own problems.
   */
  warm(): void {
    const folder = this.folder;
    const key = this.settingsKey();
    if (!folder || this.busy || this.warming || (this.status.state !== 'fresh' && this.status.state !== 'stale')) return;
    if (this.warmedKey === key && this.engine.running) return;
    const req = this.engine.request({ type: 'warm', ...cacheSettings(folder, this.cacheDir) });
    this.warming = req;
    void req.result
      .then(
        (r) => {
          this.warmedKey = r.ready ? key : undefined;
          const ms = Object.values(r.timings).reduce((a, b) => a + b, 0);
          this.log(
            r.ready ? `model and cache opened ahead of the first question (${ms} ms)` : `the cache was not opened ahead: ${r.reason}`,
          );
        },
        (err: unknown) => {
          this.warmedKey = undefined;
          if (!(err instanceof EngineError && err.code === 'cancelled')) this.log(`the cache was not opened ahead: ${String(err)}`);
        },
      )
      .finally(() => {
        if (this.warming === req) this.warming = undefined;
      });
  }

  /**
   * Asks a question as a follow-up in the current conversation; the answer streams to the sidebar. Resolves with
   * the finished turn. A `quote` (a selection, a file's current text) follows the question as a code block; the
   * engine cuts it to fit, and leaves out a file's text that the cache holds unchanged.
   */
  async ask(question: string, quote?: Quote): Promise<Turn> {
    const turn: Turn = { id: this.nextTurn++, ...questionTurn(question, quote), answer: '', done: false };
    this.turns.push(turn);
    if (turn.quote) turn.quote = await checkedQuote(turn.quote);
    this.messageEmitter.fire({ type: 'turn', turn });
    this.saveConversation();
    const folder = this.folder;
    if (!folder) return this.finishTurn(turn, { error: 'Open a folder first: answers come from the workspace cache.' });
    const busy = () => this.finishTurn(turn, { error: 'KVzip is busy with another request. Press stop or wait for it.' });
    if (this.busy) return busy();
    // With no cache the engine builds first: that is the build the confirmation is for.
    if (this.status.state === 'none' && this.confirmBuild && !(await this.confirmBuild()))
      return this.finishTurn(turn, {
        cancelled: true,
        notes: ['There is no cache yet, and its build was not started: nothing was asked.'],
      });
    if (this.busy) return busy();
    const before = this.status.state;
    const hfToken = await this.secrets?.get(HF_TOKEN_SECRET);
    const settings = readSettings(folder.uri);
    const history = this.history;
    const words = new ProgressWords();
    const req = this.engine.request(
      {
        type: 'ask',
        question,
        ...(quote ? { quote } : {}),
        maxTokens: settings.maxAnswerTokens,
        history,
        ...(settings.conversationBudget > 0 ? { conversationBudget: settings.conversationBudget } : {}),
        ...cacheSettings(folder, this.cacheDir),
        hfToken,
      },
      (e) => {
        if (e.type === 'token') {
          turn.answer += e.text;
          this.messageEmitter.fire({ type: 'token', id: turn.id, text: e.text });
        } else if (e.type === 'progress' && e.phase !== 'answer' && e.phase !== 'load-cache') {
          if (e.phase === 'build-first') this.log(`building the cache first: ${e.message ?? ''}`);
          this.onProgress(e, words);
          if (this.status.state !== 'building') this.update({ state: 'building' });
        }
      },
    );
    this.asking = { req, turn };
    this.update({ busy: true });
    try {
      const r = await req.result;
      this.lastAsk = r;
      const state = before === 'stale' || r.stale ? 'stale' : 'fresh';
      this.update({
        failure: undefined,
        state,
        device: r.device,
        deviceReason: r.deviceReason,
        adapter: r.adapter,
        percent: undefined,
        phase: undefined,
      });
      if (r.answer && !turn.answer) turn.answer = r.answer;
      let stats = `${r.answerTokens} tokens · first token ${Math.round(r.ttftMs)} ms · ${r.decodeMsPerToken.toFixed(1)} ms/token · ${r.device}`;
      if (r.turnsUsed) stats += ` · reads ${r.turnsUsed} earlier turn${r.turnsUsed === 1 ? '' : 's'}`;
      if (r.quoteLines && !(r.added && !r.added.lines)) {
        const cut = `only the first ${r.quoteLines.kept} of ${r.quoteLines.total} selected lines fit in the model's window`;
        stats = `${cut} · ${stats}`;
        void vscode.window.showWarningMessage(`KVzip: the selection was too long; ${cut}, so the answer is about those.`);
      }
      if (r.answerTokens === 0 && r.stopReason === 'eos') stats = `the model ended its answer before writing anything · ${stats}`;
      // A new conversation started while this answer ran: it belongs to the old one.
      if (!r.cancelled && this.history === history) this.history = [...history.slice(history.length - r.turnsUsed), r.turn];
      const notes = [
        ...(r.stale ? [staleNote(r.changed)] : []),
        ...(r.added ? [addedNote(r.added, r.quoteLines)].filter((n): n is string => !!n) : []),
        ...(r.turnsDropped
          ? [`${r.turnsDropped} oldest turn${r.turnsDropped === 1 ? '' : 's'} dropped: the conversation budget is full`]
          : []),
      ];
      const links = await answerLinks(turn.answer);
      return this.finishTurn(turn, {
        cancelled: r.cancelled,
        stats,
        links,
        ...(notes.length ? { notes } : {}),
        ...(r.stopped ? { ended: inEditorTerms(stoppedText(r.stopped)) } : {}),
        ...(r.sources?.length ? { sources: r.sources.slice(0, 5) } : {}),
      });
    } catch (err) {
      this.update({ state: this.status.state === 'building' ? before : this.status.state, percent: undefined, phase: undefined });
      if (err instanceof EngineError && err.code === 'cancelled') return this.finishTurn(turn, { cancelled: true });
      const f = this.fail('The last question failed.', err);
      return this.finishTurn(turn, { error: f.message, actions: f.actions, ...(f.setting ? { setting: f.setting } : {}) });
    } finally {
      this.asking = undefined;
      this.update({ busy: this.busy });
    }
  }

  /** Stops the running answer, or else the running build. */
  stop(): void {
    if (this.asking) this.asking.req.cancel();
    else this.building?.cancel();
  }

  async clear(): Promise<number> {
    const folder = this.requireFolder();
    const r = await this.engine.request({ type: 'clear', cacheDir: this.cacheDir, workspace: folder.uri.fsPath }).result;
    await this.forgetBuild();
    return r.removed;
  }

  /** Removes one cache entry (Show Cache Info's Clear button); the state resets when it was the one in use. */
  async clearEntry(entry: string): Promise<number> {
    const inUse = this.inUseEntry;
    const r = await this.engine.request({ type: 'clear', cacheDir: this.cacheDir, entry }).result;
    // A refresh moves the entry to a new generation folder; the entry's own folder stays.
    if (inUse !== undefined && dirname(inUse) === dirname(entry)) await this.forgetBuild();
    return r.removed;
  }

  /** The cache entry (a generation folder) the workspace's current settings use, as its last build recorded it. */
  get inUseEntry(): string | undefined {
    const record = this.memento.get<BuildRecord>(BUILD_RECORD);
    return record && this.folder && record.key === this.settingsKey() ? record.result.entry : undefined;
  }

  private async forgetBuild(): Promise<void> {
    await this.memento.update(BUILD_RECORD, undefined);
    this.update({
      state: 'none',
      contextTokens: undefined,
      kvBytesFull: undefined,
      kvBytesCompressed: undefined,
      ratio: undefined,
      level: undefined,
      scoring: undefined,
      files: undefined,
    });
  }

  /** What a build would put in the context and cost, from the model's config and tokenizer alone. */
  async previewContext(token?: vscode.CancellationToken): Promise<ContextPreview | undefined> {
    const folder = this.requireFolder();
    const hfToken = await this.secrets?.get(HF_TOKEN_SECRET);
    const req = this.engine.request({ type: 'context', ...cacheSettings(folder, this.cacheDir), hfToken });
    const sub = token?.onCancellationRequested(() => req.cancel());
    try {
      return await req.result;
    } catch (err) {
      if (err instanceof EngineError && err.code === 'cancelled') return undefined;
      throw err;
    } finally {
      sub?.dispose();
    }
  }

  info(): Promise<CacheEntryInfo[]> {
    return this.engine.request({ type: 'info', cacheDir: this.cacheDir }).result;
  }

  /** Starts again from the bare cache: the sidebar empties, and the next question reads no earlier turn. */
  newConversation(): void {
    this.asking?.req.cancel();
    this.show(newConversationId(), [], []);
  }

  /** The conversations kept for this workspace, newest first. */
  conversationList(): ConversationItem[] {
    return this.conversations?.list() ?? [];
  }

  get currentConversation(): string {
    return this.conversationId;
  }

  /** Shows a kept conversation; the next question follows on from its last turns. False when it is gone. */
  openConversation(id: string): boolean {
    if (!this.conversations?.load(id)) return false;
    this.asking?.req.cancel();
    this.restore(id);
    this.messageEmitter.fire({ type: 'init', status: this.status, turns: this.turns });
    this.postConversations();
    return true;
  }

  deleteConversation(id: string): void {
    this.conversations?.remove(id);
    if (id === this.conversationId) this.newConversation();
    else this.postConversations();
  }

  /** Records a failure for the sidebar's header and the status bar; it stays until a request succeeds. */
  fail(what: string, err: unknown): Failure {
    const f = failureOf(err);
    this.log(`${what} ${f.message}`);
    this.update({ failure: { what, ...f } });
    return f;
  }

  dismissFailure(): void {
    this.update({ failure: undefined });
  }

  private restore(id: string): void {
    const c = this.conversations?.load(id);
    if (c) this.show(id, c.turns, c.history, false);
  }

  private show(id: string, turns: Turn[], history: ConversationTurn[], post = true): void {
    this.conversationId = id;
    this.turns.splice(0, this.turns.length, ...turns);
    this.history = history;
    this.nextTurn = Math.max(0, ...turns.map((t) => t.id)) + 1;
    if (!post) return;
    this.messageEmitter.fire({ type: 'init', status: this.status, turns: this.turns });
    this.postConversations();
  }

  postConversations(): void {
    this.messageEmitter.fire({ type: 'conversations', items: this.conversationList(), current: this.conversationId });
  }

  /** Keeps the conversation on disk after each change; a failure to write costs the history, never the answer. */
  private saveConversation(): void {
    if (!this.conversations || this.turns.length === 0) return;
    try {
      this.conversations.save({
        id: this.conversationId,
        title: titleOf(this.turns),
        updatedAt: Date.now(),
        turns: this.turns,
        history: this.history,
      });
    } catch (err) {
      this.log(`could not keep the conversation: ${(err as Error).message}`);
    }
  }

  /** The output channel says what went into the context and, per reason, how much was left out. */
  private logReport(r: ContextReport): void {
    const reasons = new Map<string, number>();
    for (const f of r.omitted) reasons.set(f.reason, (reasons.get(f.reason) ?? 0) + 1);
    const left = [...reasons].map(([reason, n]) => `${n} ${reason}`).join(', ');
    this.log(`context: ${r.included.length} files, ${r.totalTokens} tokens${left ? `; left out: ${left}` : ''}`);
  }

  /** Decides whether a changed file belongs to the cached context; true when it marked the cache stale. */
  onFileChanged(uri: vscode.Uri): boolean {
    const folder = this.folder;
    if (!folder || uri.scheme !== 'file' || this.status.state !== 'fresh') return false;
    // The engine leaves the cache folder out of the context (a workspace at $HOME holds the global storage), so
    // the cache's own writes are no change to it.
    if (isInside(this.cacheDir, uri.fsPath)) return false;
    const rel = vscode.workspace.asRelativePath(uri, false);
    if (rel === uri.fsPath || !this.isIncluded(rel)) return false;
    this.log(`stale: ${rel} changed`);
    this.update({ state: 'stale' });
    this.scheduleAutoRefresh();
    return true;
  }

  private isIncluded(rel: string): boolean {
    return this.staleness.touchesContext(rel, readSettings(this.folder?.uri));
  }

  private scheduleAutoRefresh(): void {
    if (!readSettings(this.folder?.uri).autoRefresh) return;
    clearTimeout(this.autoRefreshTimer);
    // Saves tend to come in bursts: wait for a quiet moment.
    this.autoRefreshTimer = setTimeout(() => {
      if (this.status.state === 'stale' && !this.busy) void vscode.commands.executeCommand('kvzipCode.build');
    }, 3_000);
  }

  /** After a restart, anything included that changed after the last build makes the cache stale. */
  private async checkStaleSince(builtAt: number): Promise<void> {
    const files = await vscode.workspace.findFiles('**/*', '{**/node_modules/**,**/.git/**}', 20_000);
    for (const f of files) {
      const st = await vscode.workspace.fs.stat(f).then(
        (s) => s,
        () => undefined,
      );
      if (st && st.mtime > builtAt && this.onFileChanged(f)) return;
    }
  }

  private onSettingsChanged(): void {
    const record = this.memento.get<BuildRecord>(BUILD_RECORD);
    const { model, device } = readSettings(this.folder?.uri);
    this.update({ modelSource: modelSource(model, this.cacheDir), deviceSetting: device });
    if (this.building) return void this.update({ model });
    // Back to the settings of the recorded build (or a change the cache does not depend on): a stale cache stays stale.
    if (record && record.key === this.settingsKey()) this.applyBuild(record.result, this.status.state === 'stale' ? 'stale' : 'fresh');
    else
      this.update({
        state: 'none',
        model,
        device: undefined,
        deviceReason: undefined,
        adapter: undefined,
        contextTokens: undefined,
        kvBytesFull: undefined,
        kvBytesCompressed: undefined,
        files: undefined,
      });
  }

  /** Settings that change the cache's bytes; a different key means the recorded build is not this cache. */
  private settingsKey(): string {
    const folder = this.folder;
    if (!folder) return '';
    const { cacheSizeCapMB: _cap, device: _device, ...rest } = cacheSettings(folder, this.cacheDir);
    return JSON.stringify(rest);
  }

  /** The report in the words the notification, the sidebar and the status bar all show (core/progressWords.ts). */
  private onProgress(e: Extract<Event, { type: 'progress' }>, words: ProgressWords): ProgressView {
    const view = words.next(e);
    this.update({ percent: view.percent, phase: view.text });
    return view;
  }

  private applyBuild(r: BuildResult, state: 'fresh' | 'stale'): void {
    this.update({
      state,
      model: readSettings(this.folder?.uri).model,
      device: r.device,
      deviceReason: r.deviceReason,
      adapter: r.adapter,
      contextTokens: r.contextTokens,
      kvBytesFull: r.kvBytesFull,
      kvBytesCompressed: r.kvBytesCompressed,
      ratio: r.ratio,
      level: r.level,
      scoring: r.scoring,
      files: filesOf(r),
    });
  }

  private finishTurn(turn: Turn, patch: Partial<Turn>): Turn {
    Object.assign(turn, patch, { done: true });
    this.messageEmitter.fire({ type: 'turn', turn });
    this.saveConversation();
    return turn;
  }

  private requireFolder(): vscode.WorkspaceFolder {
    const folder = this.folder;
    if (!folder) throw new Error('Open a folder first: KVzip builds its cache from the workspace.');
    return folder;
  }

  private update(patch: Partial<ViewStatus>): void {
    this.status = { ...this.status, ...patch };
    void vscode.commands.executeCommand('setContext', 'kvzipCode.cacheState', this.status.state);
    void vscode.commands.executeCommand('setContext', 'kvzipCode.busy', this.status.busy);
    this.statusEmitter.fire(this.status);
  }
}
