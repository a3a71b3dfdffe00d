// Messages between the extension host and the sidebar webview. Types only, plus the host-side validator of what
// the webview sends: the webview renders model output, so the host treats everything it sends as untrusted.

export type CacheState = 'none' | 'building' | 'fresh' | 'stale';

/** The buttons a failure offers (extension/errors.ts decides which), in the notification and in the view alike. */
export type FailureAction = 'chooseModel' | 'openSettings' | 'showOutput';
export const ACTION_LABEL: Record<FailureAction, string> = {
  chooseModel: 'Choose Model',
  openSettings: 'Open Settings',
  showOutput: 'Show Output',
};

export interface ViewStatus {
  state: CacheState;
  /** 0..100 while building. */
  percent?: number;
  phase?: string;
  model: string;
  /** The device the last request ran on. */
  device?: string;
  /** kvzipCode.device as set now: the next request's choice, shown when it differs from the device above. */
  deviceSetting?: string;
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
  /** What the cache holds of the workspace: files in it (some as outlines) of those considered. */
  files?: { included: number; scanned: number; outlines: number };
  /** Where the model comes from, for the welcome state: on this machine, or a download on the first build. */
  modelSource?: string;
  /** The last request that failed, until one succeeds or the user dismisses it. */
  failure?: { what: string; message: string; actions: FailureAction[]; setting?: string };
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
  /** Buttons under an error: what leads to its fix. */
  actions?: FailureAction[];
  setting?: string;
  /** The files the answer attended to most, with their share (0..1), largest first: links under the answer. */
  sources?: { path: string; share: number }[];
  /** The selection asked about, shown as its `file:1-2` chip: `path` (a link) only when it is a workspace file. */
  quote?: { label: string; path?: string; line?: number };
  /** The answer's file references the host found in the workspace: only these are links (absent: all are). */
  links?: string[];
}

/** A past conversation in the sidebar's list. */
export interface ConversationItem {
  id: string;
  title: string;
  updatedAt: number;
  turns: number;
}

/** Conversation ids as the host makes them (extension/conversations.ts): the only ones the webview may name. */
export const CONVERSATION_ID = /^c[0-9a-z]{6,32}$/;

/** What the sidebar's buttons ask the host to run. */
export const VIEW_COMMANDS = ['chooseModel', 'openSettings', 'showOutput', 'showContext', 'history'] as const;
export type ViewCommand = (typeof VIEW_COMMANDS)[number];

export type HostMessage =
  | { type: 'init'; status: ViewStatus; turns: Turn[] }
  | { type: 'status'; status: ViewStatus }
  | { type: 'turn'; turn: Turn }
  | { type: 'token'; id: number; text: string }
  /** The recent conversations, newest first, and which one is shown. */
  | { type: 'conversations'; items: ConversationItem[]; current: string }
  /** Focus the question box; `attachment` names the selection that goes with the next question. */
  | { type: 'focus'; attachment?: string }
  | { type: 'attachment'; label?: string };

export type ViewMessage =
  | { type: 'ready' }
  | { type: 'ask'; question: string }
  | { type: 'stop' }
  | { type: 'build' }
  | { type: 'newConversation' }
  | { type: 'copy'; text: string }
  | { type: 'insert'; text: string }
  | { type: 'openFile'; path: string; line?: number }
  | { type: 'openLink'; href: string }
  | { type: 'command'; command: ViewCommand; setting?: string }
  | { type: 'openConversation'; id: string }
  | { type: 'dropAttachment' }
  | { type: 'dismissFailure' };

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
    case 'dropAttachment':
    case 'dismissFailure':
      return only('type') ? { type: m.type } : undefined;
    case 'command': {
      const command = VIEW_COMMANDS.find((c) => c === m.command);
      if (!only('type', 'command', 'setting') || !command) return undefined;
      if (m.setting === undefined) return { type: 'command', command };
      // Only one of our own settings: the host opens the settings editor searched for it.
      if (command !== 'openSettings' || typeof m.setting !== 'string' || !/^kvzipCode\.[A-Za-z]{1,40}$/.test(m.setting)) return undefined;
      return { type: 'command', command, setting: m.setting };
    }
    case 'openConversation':
      if (!only('type', 'id') || typeof m.id !== 'string' || !CONVERSATION_ID.test(m.id)) return undefined;
      return { type: 'openConversation', id: m.id };
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
