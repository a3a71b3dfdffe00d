// Messages between the extension host and the sidebar webview. Types only, plus the host-side validator of what
// the webview sends: the webview renders model output, so the host treats everything it sends as untrusted.

export type CacheState = 'none' | 'building' | 'fresh' | 'stale';

export interface ViewStatus {
  state: CacheState;
  /** 0..100 while building. */
  percent?: number;
  phase?: string;
  model: string;
  device?: string;
  deviceReason?: string;
  /** The WebGPU adapter's name, when the device is WebGPU. */
  adapter?: string;
  contextTokens?: number;
  kvBytesFull?: number;
  kvBytesCompressed?: number;
  ratio?: number;
  level?: string;
  scoring?: string;
  busy: boolean;
  workspace: boolean;
}

export interface Turn {
  id: number;
  question: string;
  answer: string;
  done: boolean;
  error?: string;
  cancelled?: boolean;
  stats?: string;
  /** Header lines above the answer: what went with the question, which earlier turns were dropped. */
  notes?: string[];
  /** Why the answer was cut, when it was (the conversation budget). */
  ended?: string;
}

export type HostMessage =
  | { type: 'init'; status: ViewStatus; turns: Turn[] }
  | { type: 'status'; status: ViewStatus }
  | { type: 'turn'; turn: Turn }
  | { type: 'token'; id: number; text: string };

export type ViewMessage =
  | { type: 'ready' }
  | { type: 'ask'; question: string }
  | { type: 'stop' }
  | { type: 'build' }
  | { type: 'newConversation' }
  | { type: 'copy'; text: string }
  | { type: 'insert'; text: string }
  | { type: 'openFile'; path: string; line?: number }
  | { type: 'openLink'; href: string };

export const MAX_QUESTION_CHARS = 20_000;
/** An answer is at most a few thousand tokens; anything far larger did not come from one. */
const MAX_COPY_CHARS = 1_000_000;
const MAX_PATH_CHARS = 1_000;

/** Returns the message when it is exactly one of the known shapes with sane sizes, otherwise undefined. */
export function parseViewMessage(raw: unknown): ViewMessage | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const m = raw as Record<string, unknown>;
  const keys = Object.keys(m);
  const only = (...allowed: string[]) => keys.every((k) => allowed.includes(k));
  switch (m.type) {
    case 'ready':
    case 'stop':
    case 'build':
    case 'newConversation':
      return only('type') ? { type: m.type } : undefined;
    case 'copy':
    case 'insert':
      if (!only('type', 'text') || typeof m.text !== 'string' || m.text === '' || m.text.length > MAX_COPY_CHARS) return undefined;
      return { type: m.type, text: m.text };
    case 'ask':
      if (!only('type', 'question') || typeof m.question !== 'string') return undefined;
      if (m.question.trim() === '' || m.question.length > MAX_QUESTION_CHARS) return undefined;
      return { type: 'ask', question: m.question };
    case 'openFile': {
      if (!only('type', 'path', 'line') || typeof m.path !== 'string') return undefined;
      if (m.path === '' || m.path.length > MAX_PATH_CHARS || m.path.includes('\0')) return undefined;
      if (m.line === undefined) return { type: 'openFile', path: m.path };
      if (typeof m.line !== 'number' || !Number.isInteger(m.line) || m.line < 1 || m.line > 10_000_000) return undefined;
      return { type: 'openFile', path: m.path, line: m.line };
    }
    case 'openLink':
      if (!only('type', 'href') || typeof m.href !== 'string' || m.href.length > 2_000) return undefined;
      return /^https?:\/\//i.test(m.href) ? { type: 'openLink', href: m.href } : undefined;
    default:
      return undefined;
  }
}
