// The sidebar UI: header with the cache state, the conversation, the question box. Runs in the webview (browser).
// The extension host owns the conversation; this page only draws what it is sent and posts user actions back.
import {
  ACTION_LABEL,
  type ConversationItem,
  type FailureAction,
  type HostMessage,
  type Turn,
  type ViewCommand,
  type ViewMessage,
  type ViewStatus,
} from './messages.ts';
import { renderMarkdown } from './render.ts';

declare function acquireVsCodeApi(): {
  postMessage(m: ViewMessage): void;
  getState(): unknown;
  setState(s: unknown): void;
};

const vscode = acquireVsCodeApi();
const app = document.getElementById('app')!;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

const header = el('header', 'status');
const stateLine = el('div', 'state-line');
const badge = el('span', 'badge');
const buildBtn = el('button', 'secondary', 'Build cache');
buildBtn.id = 'build';
const progress = el('div', 'progress');
const progressBar = el('div', 'bar');
progress.append(progressBar);
const details = el('div', 'details');
const failureBox = el('div', 'failure');
failureBox.setAttribute('role', 'alert');
stateLine.append(badge, buildBtn);
header.append(stateLine, progress, details, failureBox);

const log = el('main', 'turns');
log.setAttribute('aria-live', 'polite');
/** What the view shows with no turn: the first run's steps, or what the model read and the recent conversations. */
const empty = el('div', 'empty');
/** The shortcut that brings the focus here, as this platform writes it (package.json's keybinding). */
const SHORTCUT = /Mac/.test(navigator.platform) ? '⌥⌘K' : 'Ctrl+Alt+K';

const form = el('form', 'ask');
const chip = el('div', 'attachment');
chip.hidden = true;
const chipLabel = el('span', 'attachment-label');
const chipDrop = el('button', 'icon drop-attachment', '×');
chipDrop.type = 'button';
chipDrop.title = 'Do not send the selection with the question';
chip.append(el('span', 'muted', 'With '), chipLabel, chipDrop);
const input = el('textarea');
input.id = 'question';
input.rows = 3;
input.placeholder = 'Ask about the code… (Enter sends, Shift+Enter: new line, ↑: last question, Esc: stop)';
input.setAttribute('aria-label', 'Question');
const askBtn = el('button', undefined, 'Ask');
askBtn.id = 'ask';
askBtn.type = 'submit';
const stopBtn = el('button', 'secondary', 'Stop');
stopBtn.id = 'stop';
stopBtn.type = 'button';
const newBtn = el('button', 'secondary', 'New conversation');
newBtn.id = 'new-conversation';
newBtn.type = 'button';
newBtn.title = 'Start again from the bare cache: the next question reads no earlier turn';
const buttons = el('div', 'buttons');
buttons.append(askBtn, stopBtn, newBtn);
form.append(chip, input, buttons);
app.append(header, log, form);

let status: ViewStatus | undefined;
let conversations: ConversationItem[] = [];
let currentConversation = '';
const turns = new Map<number, { turn: Turn; notes: HTMLElement; answer: HTMLElement; foot: HTMLElement; root: HTMLElement }>();
const dirty = new Set<number>();
/** A new turn always scrolls into view; streaming only follows when the reader is already at the bottom. */
let scrollToEnd = false;

const mib = (b: number) => `${(b / 2 ** 20).toFixed(b < 10 * 2 ** 20 ? 2 : 1)} MiB`;
const n = (x: number) => x.toLocaleString('en-US');
const command = (c: ViewCommand, setting?: string) =>
  vscode.postMessage(setting ? { type: 'command', command: c, setting } : { type: 'command', command: c });

/** "70 of 270 files in the context (22 as outlines)": what the model read, never "the whole workspace". */
function filesText(f: NonNullable<ViewStatus['files']>): string {
  return `${n(f.included)} of ${n(f.scanned)} files in the context${f.outlines ? ` (${n(f.outlines)} as outlines)` : ''}`;
}

function link(text: string, cls: string, onClick: () => void): HTMLAnchorElement {
  const a = el('a', cls, text);
  a.href = '#';
  a.addEventListener('click', (e) => {
    e.preventDefault();
    e.stopPropagation();
    onClick();
  });
  return a;
}

/** The buttons a failure offers; each asks the host to run it. */
function actionButtons(actions: readonly FailureAction[], setting?: string): HTMLElement {
  const bar = el('div', 'actions');
  for (const a of actions) bar.append(button(ACTION_LABEL[a], `action ${a}`, () => command(a, a === 'openSettings' ? setting : undefined)));
  return bar;
}

function drawFailure(s: ViewStatus): void {
  const f = s.failure;
  failureBox.hidden = !f || s.state === 'building';
  failureBox.replaceChildren();
  if (!f) return;
  const dismiss = button('×', 'dismiss-failure', () => vscode.postMessage({ type: 'dismissFailure' }));
  dismiss.title = 'Dismiss';
  const top = el('div', 'failure-what');
  top.append(el('span', undefined, f.what), dismiss);
  failureBox.append(top, el('div', 'failure-message', f.message), actionButtons(f.actions, f.setting));
}

function step(title: string, text: string, action: HTMLElement): HTMLLIElement {
  const li = el('li');
  const body = el('div', 'step-body');
  body.append(el('div', 'step-title', title), el('div', 'muted', text));
  li.append(body, action);
  return li;
}

/** The first run: choose a model, see what goes in, build; each step one click. */
function welcome(s: ViewStatus): HTMLElement[] {
  const steps = el('ol', 'steps');
  steps.append(
    step(
      `Model: ${s.model}`,
      s.modelSource ?? '',
      button('Choose Model', 'step-action choose-model', () => command('chooseModel')),
    ),
    step(
      'See what goes in',
      "The files that fit in the model's window, the memory and the build time on this machine. Nothing is downloaded but the model's tokenizer.",
      button('Show Context', 'step-action show-context', () => command('showContext')),
    ),
    step(
      'Build the cache',
      'Once. It asks first when it downloads a model or would take over two minutes, and offers smaller settings.',
      button('Build', 'step-action build', () => vscode.postMessage({ type: 'build' })),
    ),
  );
  return [
    el('p', 'empty-title', 'Welcome to KVzip Code'),
    el(
      'p',
      undefined,
      'A local model reads this workspace once, keeps a compressed copy of what it read, and answers from it. Nothing leaves this machine.',
    ),
    steps,
    el('p', 'hint', `Then ask below. ${SHORTCUT} in the editor brings you here with the selection.`),
  ];
}

/** With a cache and no turn: what the model read, and the conversations to go back to. */
function emptyState(s: ViewStatus): HTMLElement[] {
  const read = el('p');
  if (s.files) {
    read.append(
      'Answers come from a local model that read ',
      link(filesText(s.files), 'files-link', () => command('showContext')),
      ' of this workspace.',
    );
  } else read.append('Answers come from a local model that read the files of this workspace that fit in its window.');
  const out: HTMLElement[] = [
    el('p', 'empty-title', 'Ask about this repository'),
    read,
    el('p', 'hint', 'Every question reuses the cache, even after a restart.'),
  ];
  const recent = conversations.filter((c) => c.id !== currentConversation).slice(0, 5);
  if (recent.length) {
    const list = el('ul', 'recent');
    for (const c of recent) {
      const li = el('li');
      li.append(
        link(c.title, 'conversation-link', () => vscode.postMessage({ type: 'openConversation', id: c.id })),
        el('span', 'muted', ` · ${c.turns} ${c.turns === 1 ? 'question' : 'questions'}`),
      );
      list.append(li);
    }
    out.push(
      el('p', 'recent-title', 'Recent conversations'),
      list,
      link('All conversations…', 'history-link', () => command('history')),
    );
  }
  return out;
}

function drawEmpty(): void {
  const s = status;
  if (!s) return;
  empty.classList.toggle('welcome', s.state === 'none' && s.workspace);
  empty.replaceChildren(...(s.state === 'none' && s.workspace ? welcome(s) : emptyState(s)));
}

function drawStatus(s: ViewStatus): void {
  status = s;
  // The step's words (Step, below) carry its percent and time left; the bar shows the whole build.
  const label = { none: 'No cache', building: 'Building', fresh: 'Fresh', stale: 'Stale' }[s.state];
  badge.textContent = label;
  badge.className = `badge ${s.state}`;
  header.dataset.state = s.state;
  progress.hidden = s.state !== 'building';
  progressBar.style.width = `${s.percent ?? 0}%`;
  buildBtn.hidden = !s.workspace || s.busy || (s.state !== 'none' && s.state !== 'stale');
  buildBtn.textContent = s.state === 'stale' ? 'Refresh' : 'Build cache';
  details.replaceChildren();
  const row = (k: string, v: string, title?: string) => {
    const d = el('div', 'row');
    d.append(el('span', 'k', k), el('span', 'v', v));
    if (title) d.title = title;
    details.append(d);
  };
  if (s.state === 'building' && s.phase) row('Step', s.phase);
  row('Model', s.model);
  if (s.device) {
    const detail = s.adapter ?? s.deviceReason;
    // A device setting changed since: the next request runs there (or says why it cannot).
    const next = s.deviceSetting && s.deviceSetting !== 'auto' && s.deviceSetting !== s.device ? ` · next request: ${s.deviceSetting}` : '';
    row('Device', `${detail ? `${s.device} — ${detail}` : s.device}${next}`);
  } else if (s.deviceSetting) row('Device', s.deviceSetting === 'auto' ? 'auto (chosen when the model first runs)' : s.deviceSetting);
  if (s.kvBytesFull && s.kvBytesCompressed !== undefined) {
    const pct = Math.round((100 * s.kvBytesCompressed) / s.kvBytesFull);
    row(
      'KV cache',
      `${mib(s.kvBytesCompressed)} of ${mib(s.kvBytesFull)} (${pct}%)`,
      `ratio ${s.ratio ?? '?'}, level ${s.level ?? '?'}${s.scoring === 'local' ? ', scored locally' : ''}`,
    );
  }
  if (s.files) {
    const d = el('div', 'row');
    const files = link(filesText(s.files), 'files-link', () => command('showContext'));
    files.title = 'Show Context: what went in, whole or as an outline, and what was left out and why';
    const v = el('span', 'v');
    v.append(files);
    d.append(el('span', 'k', 'Context'), v);
    details.append(d);
  }
  if (s.contextTokens) row('Tokens', n(s.contextTokens));
  if (!s.workspace) row('Workspace', 'Open a folder to use KVzip.');
  drawFailure(s);
  askBtn.disabled = s.busy || !s.workspace;
  stopBtn.hidden = !s.busy;
  newBtn.hidden = turns.size === 0;
  drawEmpty();
}

function button(label: string, cls: string, onClick: () => void): HTMLButtonElement {
  const b = el('button', `icon ${cls}`, label);
  b.type = 'button';
  b.addEventListener('click', onClick);
  return b;
}

/** Copy and Insert at cursor on each code block: added after each render, outside the sanitized markdown. */
function decorateCodeBlocks(answer: HTMLElement): void {
  for (const pre of Array.from(answer.querySelectorAll('pre'))) {
    const code = () => (pre.querySelector('code') ?? pre).textContent ?? '';
    const bar = el('div', 'code-actions');
    bar.append(
      button('Copy', 'copy-code', () => vscode.postMessage({ type: 'copy', text: code() })),
      button('Insert at cursor', 'insert-code', () => vscode.postMessage({ type: 'insert', text: code() })),
    );
    pre.before(bar);
  }
}

function addTurn(turn: Turn): void {
  const root = el('section', 'turn');
  root.dataset.id = String(turn.id);
  const q = el('div', 'question', turn.question);
  const notes = el('div', 'notes');
  const answer = el('div', 'answer markdown');
  const foot = el('div', 'foot');
  root.append(q, ...(turn.quote ? [quoteChip(turn.quote)] : []), notes, answer, foot);
  log.append(root);
  turns.set(turn.id, { turn, notes, answer, foot, root });
  newBtn.hidden = false;
  scrollToEnd = true;
  updateTurn(turn);
}

function updateTurn(turn: Turn): void {
  const t = turns.get(turn.id);
  if (!t) return addTurn(turn);
  t.turn = turn;
  t.root.classList.toggle('streaming', !turn.done);
  t.root.classList.toggle('error', !!turn.error);
  t.notes.replaceChildren(...(turn.notes ?? []).map((n) => el('div', 'note', n)));
  t.foot.replaceChildren();
  if (turn.error) {
    t.foot.append(el('div', 'error-text', turn.error));
    if (turn.actions?.length) t.foot.append(actionButtons(turn.actions, turn.setting));
  } else if (turn.cancelled) t.foot.append(el('span', 'muted', 'Stopped.'));
  else if (turn.ended) t.foot.append(el('span', 'ended', turn.ended));
  if (turn.stats) t.foot.append(el('span', 'muted stats', turn.stats));
  if (turn.done && turn.sources?.length) t.foot.append(sourcesRow(turn.sources));
  if (turn.done && turn.answer)
    t.foot.append(button('Copy answer', 'copy-answer', () => vscode.postMessage({ type: 'copy', text: t.turn.answer })));
  if (!turn.done && !turn.answer) t.foot.append(el('span', 'muted thinking', 'Thinking…'));
  schedule(turn.id);
}

/** The selection a question was asked about, as its `file:1-2` chip: a link when the host found the file. */
function quoteChip(quote: NonNullable<Turn['quote']>): HTMLElement {
  const chip = el('div', 'quote-chip');
  if (!quote.path) {
    chip.textContent = quote.label;
    chip.title = 'Not a file of this workspace';
    return chip;
  }
  const a = el('a', 'file-link', quote.label);
  a.href = '#';
  a.title = `Open ${quote.label}`;
  a.setAttribute('data-file', quote.path);
  if (quote.line) a.setAttribute('data-line', String(quote.line));
  chip.append(a);
  return chip;
}

/** "Sources: a.ts 62% · b.ts 21%", each a file link (opened by the host, which checks it against the workspace). */
function sourcesRow(sources: readonly { path: string; share: number }[]): HTMLElement {
  const row = el('div', 'sources muted', 'Sources: ');
  row.title = 'The files whose cached context this answer attended to most, with their share of that attention';
  sources
    .filter((s) => typeof s.path === 'string' && typeof s.share === 'number')
    .forEach((s, i) => {
      if (i) row.append(' · ');
      const a = el('a', 'source', s.path);
      a.href = '#';
      a.setAttribute('data-file', s.path);
      row.append(a, ` ${Math.round(s.share * 100)}%`);
    });
  return row;
}

function schedule(id: number): void {
  // Tokens can arrive faster than frames: re-render each answer at most once per frame.
  if (dirty.size === 0) requestAnimationFrame(flush);
  dirty.add(id);
}

function flush(): void {
  const stick = scrollToEnd || log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  scrollToEnd = false;
  for (const id of dirty) {
    const t = turns.get(id);
    if (!t) continue;
    t.answer.innerHTML = renderMarkdown(t.turn.answer, t.turn.links && new Set(t.turn.links));
    decorateCodeBlocks(t.answer);
  }
  dirty.clear();
  empty.hidden = turns.size > 0;
  if (stick) log.scrollTop = log.scrollHeight;
}

function reset(list: Turn[]): void {
  // A restored conversation's questions can be recalled too (those asked with a quote show it: not theirs).
  if (recall.length === 0) recall.push(...list.map((t) => t.question).filter((q) => !q.includes('\n```')));
  recallAt = recall.length;
  turns.clear();
  log.replaceChildren(empty);
  for (const t of list) addTurn(t);
  empty.hidden = turns.size > 0;
  newBtn.hidden = turns.size === 0;
  log.scrollTop = log.scrollHeight;
}

function isHostMessage(d: unknown): d is HostMessage {
  return typeof d === 'object' && d !== null && typeof (d as { type?: unknown }).type === 'string';
}

window.addEventListener('message', (ev: MessageEvent) => {
  const m: unknown = ev.data;
  if (!isHostMessage(m)) return;
  switch (m.type) {
    case 'init':
      drawStatus(m.status);
      reset(m.turns);
      break;
    case 'status':
      drawStatus(m.status);
      break;
    case 'turn':
      updateTurn(m.turn);
      empty.hidden = true;
      break;
    case 'conversations':
      conversations = m.items;
      currentConversation = m.current;
      drawEmpty();
      break;
    case 'focus':
      showAttachment(m.attachment);
      input.focus();
      break;
    case 'attachment':
      showAttachment(m.label);
      break;
    case 'token': {
      const t = turns.get(m.id);
      if (t && typeof m.text === 'string') {
        t.turn.answer += m.text;
        if (t.foot.querySelector('.thinking')) t.foot.replaceChildren();
        schedule(m.id);
      }
      break;
    }
  }
});

/** The questions asked here, oldest first: ↑ in the question box goes back through them, ↓ forward. */
const recall: string[] = [];
/** Where ↑/↓ stand in `recall`; recall.length when not recalling. */
let recallAt = 0;

function saveState(): void {
  vscode.setState({ draft: input.value, recall: recall.slice(-50) });
}

function showAttachment(label: string | undefined): void {
  chip.hidden = !label;
  chipLabel.textContent = label ?? '';
}

function submit(): void {
  const question = input.value.trim();
  if (!question || status?.busy) return;
  vscode.postMessage({ type: 'ask', question });
  if (recall.at(-1) !== question) recall.push(question);
  recallAt = recall.length;
  input.value = '';
  saveState();
}

/** ↑ on the first line of the box (empty, or showing a recalled question) goes back; ↓ on the last goes forward. */
function recallKey(e: KeyboardEvent): boolean {
  const before = input.value.slice(0, input.selectionStart);
  const after = input.value.slice(input.selectionEnd);
  const recalled = input.value === '' || input.value === recall[recallAt];
  if (e.key === 'ArrowUp' && recalled && !before.includes('\n') && recallAt > 0) {
    input.value = recall[--recallAt]!;
  } else if (e.key === 'ArrowDown' && recalled && !after.includes('\n') && recallAt < recall.length) {
    input.value = recall[++recallAt] ?? '';
  } else return false;
  input.setSelectionRange(input.value.length, input.value.length);
  return true;
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  submit();
});
input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    submit();
  } else if ((e.key === 'ArrowUp' || e.key === 'ArrowDown') && !e.shiftKey && !e.altKey && !e.ctrlKey && !e.metaKey && !e.isComposing) {
    if (recallKey(e)) e.preventDefault();
  }
});
input.addEventListener('input', () => {
  recallAt = recall.length;
  saveState();
});
// Esc anywhere in the view stops the answer (or build) that is running.
document.addEventListener('keydown', (e) => {
  if (e.key !== 'Escape' || e.isComposing || !status?.busy) return;
  e.preventDefault();
  vscode.postMessage({ type: 'stop' });
});
chipDrop.addEventListener('click', () => {
  showAttachment(undefined);
  vscode.postMessage({ type: 'dropAttachment' });
});
stopBtn.addEventListener('click', () => vscode.postMessage({ type: 'stop' }));
newBtn.addEventListener('click', () => vscode.postMessage({ type: 'newConversation' }));
buildBtn.addEventListener('click', () => vscode.postMessage({ type: 'build' }));

// Links in answers never navigate the webview: file links go to the host, which checks them against the workspace.
document.addEventListener('click', (e) => {
  const a = (e.target as Element | null)?.closest?.('a');
  if (!a) return;
  e.preventDefault();
  const file = a.getAttribute('data-file');
  if (file) {
    const line = Number(a.getAttribute('data-line'));
    vscode.postMessage(Number.isInteger(line) && line > 0 ? { type: 'openFile', path: file, line } : { type: 'openFile', path: file });
    return;
  }
  const href = a.getAttribute('href');
  if (href && /^https?:\/\//i.test(href)) vscode.postMessage({ type: 'openLink', href });
});

const saved = vscode.getState() as { draft?: unknown; recall?: unknown } | undefined;
if (typeof saved?.draft === 'string') input.value = saved.draft;
if (Array.isArray(saved?.recall)) recall.push(...saved.recall.filter((q): q is string => typeof q === 'string'));
recallAt = recall.length;
reset([]);
vscode.postMessage({ type: 'ready' });
