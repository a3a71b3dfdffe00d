// The sidebar UI: header with the cache state, the conversation, the question box. Runs in the webview (browser).
// The extension host owns the conversation; this page only draws what it is sent and posts user actions back.
import type { HostMessage, Turn, ViewMessage, ViewStatus } from './messages.ts';
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
stateLine.append(badge, buildBtn);
header.append(stateLine, progress, details);

const log = el('main', 'turns');
log.setAttribute('aria-live', 'polite');
const empty = el('div', 'empty');
empty.append(
  el('p', 'empty-title', 'Ask about this repository'),
  el('p', undefined, 'Answers come from a local model reading the whole workspace through its compressed KV cache.'),
  el('p', 'hint', 'Build the cache once; every question after that reuses it, even after a restart.'),
);

const form = el('form', 'ask');
const input = el('textarea');
input.id = 'question';
input.rows = 3;
input.placeholder = 'Ask a question about the code… (Enter to send, Shift+Enter for a new line)';
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
form.append(input, buttons);
app.append(header, log, form);

let status: ViewStatus | undefined;
const turns = new Map<number, { turn: Turn; notes: HTMLElement; answer: HTMLElement; foot: HTMLElement; root: HTMLElement }>();
const dirty = new Set<number>();
/** A new turn always scrolls into view; streaming only follows when the reader is already at the bottom. */
let scrollToEnd = false;

const mib = (b: number) => `${(b / 2 ** 20).toFixed(b < 10 * 2 ** 20 ? 2 : 1)} MiB`;

function drawStatus(s: ViewStatus): void {
  status = s;
  const label = { none: 'No cache', building: `Building ${s.percent ?? 0}%`, fresh: 'Fresh', stale: 'Stale' }[s.state];
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
    row('Device', detail ? `${s.device} — ${detail}` : s.device);
  }
  if (s.kvBytesFull && s.kvBytesCompressed !== undefined) {
    const pct = Math.round((100 * s.kvBytesCompressed) / s.kvBytesFull);
    row(
      'KV cache',
      `${mib(s.kvBytesCompressed)} of ${mib(s.kvBytesFull)} (${pct}%)`,
      `ratio ${s.ratio ?? '?'}, level ${s.level ?? '?'}${s.scoring === 'local' ? ', scored locally' : ''}`,
    );
  }
  if (s.contextTokens) row('Context', `${s.contextTokens.toLocaleString()} tokens`);
  if (!s.workspace) row('Workspace', 'Open a folder to use KVzip.');
  askBtn.disabled = s.busy || !s.workspace;
  stopBtn.hidden = !s.busy;
  newBtn.hidden = turns.size === 0;
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
  root.append(q, notes, answer, foot);
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
  if (turn.error) t.foot.append(el('div', 'error-text', turn.error));
  else if (turn.cancelled) t.foot.append(el('span', 'muted', 'Stopped.'));
  else if (turn.ended) t.foot.append(el('span', 'ended', turn.ended));
  if (turn.stats) t.foot.append(el('span', 'muted stats', turn.stats));
  if (turn.done && turn.answer)
    t.foot.append(button('Copy answer', 'copy-answer', () => vscode.postMessage({ type: 'copy', text: t.turn.answer })));
  if (!turn.done && !turn.answer) t.foot.append(el('span', 'muted thinking', 'Thinking…'));
  schedule(turn.id);
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
    t.answer.innerHTML = renderMarkdown(t.turn.answer);
    decorateCodeBlocks(t.answer);
  }
  dirty.clear();
  empty.hidden = turns.size > 0;
  if (stick) log.scrollTop = log.scrollHeight;
}

function reset(list: Turn[]): void {
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

function submit(): void {
  const question = input.value.trim();
  if (!question || status?.busy) return;
  vscode.postMessage({ type: 'ask', question });
  input.value = '';
  vscode.setState({ draft: '' });
}

form.addEventListener('submit', (e) => {
  e.preventDefault();
  submit();
});
input.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    submit();
  }
});
input.addEventListener('input', () => vscode.setState({ draft: input.value }));
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

const saved = vscode.getState() as { draft?: unknown } | undefined;
if (typeof saved?.draft === 'string') input.value = saved.draft;
reset([]);
vscode.postMessage({ type: 'ready' });
