// The sidebar's conversations on disk, so they survive a window reload: one JSON file each in the workspace's own
// storage folder (VS Code's, never the repository), holding what the view shows (the turns) and what the model
// reads again on a follow-up (the earlier exchanges with their answer token ids). No VS Code here.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { ConversationTurn } from '../engine/protocol.ts';
import { CONVERSATION_ID, type ConversationItem, type Turn } from '../webview/messages.ts';

const VERSION = 1;
/** The oldest conversations past this many are removed when another is saved. */
export const MAX_CONVERSATIONS = 50;

export interface Conversation {
  id: string;
  /** The first question, on one line. */
  title: string;
  updatedAt: number;
  turns: Turn[];
  /** What the model reads with the next question, oldest first. */
  history: ConversationTurn[];
}

export function isConversationId(id: string): boolean {
  return CONVERSATION_ID.test(id);
}

/** A new id: sortable by creation time, unique without a lock. */
export function newConversationId(now = Date.now()): string {
  return `c${now.toString(36)}${randomBytes(3).toString('hex')}`;
}

export function titleOf(turns: readonly Turn[]): string {
  const first = turns[0]?.question.split('\n')[0]?.trim() ?? '';
  return first.length > 80 ? `${first.slice(0, 79)}…` : first || '(empty)';
}

const isInt = (v: unknown): v is number => Number.isInteger(v);

function validTurn(t: unknown): t is Turn {
  const o = t as Partial<Turn> | null;
  return (
    typeof o === 'object' &&
    o !== null &&
    isInt(o.id) &&
    typeof o.question === 'string' &&
    typeof o.answer === 'string' &&
    typeof o.done === 'boolean' &&
    (o.error === undefined || typeof o.error === 'string') &&
    (o.cancelled === undefined || typeof o.cancelled === 'boolean') &&
    (o.stats === undefined || typeof o.stats === 'string') &&
    (o.ended === undefined || typeof o.ended === 'string') &&
    (o.notes === undefined || (Array.isArray(o.notes) && o.notes.every((n) => typeof n === 'string'))) &&
    (o.actions === undefined || (Array.isArray(o.actions) && o.actions.every((a) => typeof a === 'string')))
  );
}

function validExchange(t: unknown): t is ConversationTurn {
  const o = t as Partial<ConversationTurn> | null;
  return (
    typeof o === 'object' &&
    o !== null &&
    typeof o.question === 'string' &&
    typeof o.answer === 'string' &&
    Array.isArray(o.answerIds) &&
    o.answerIds.every((v) => isInt(v) && v >= 0)
  );
}

export class ConversationStore {
  constructor(private readonly dir: string) {}

  private file(id: string): string {
    if (!isConversationId(id)) throw new Error(`not a conversation id: ${JSON.stringify(id)}`);
    return join(this.dir, `${id}.json`);
  }

  /** Newest first. A file that cannot be read is left out (it is the one a crash cut short, or not ours). */
  list(): ConversationItem[] {
    return this.ids()
      .map((id) => this.load(id))
      .filter((c): c is Conversation => c !== undefined)
      .map((c) => ({ id: c.id, title: c.title, updatedAt: c.updatedAt, turns: c.turns.length }))
      .sort((a, b) => b.updatedAt - a.updatedAt);
  }

  /** The conversation, or undefined when it is missing or its file does not hold one. */
  load(id: string): Conversation | undefined {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.file(id), 'utf8'));
    } catch {
      return undefined;
    }
    const c = raw as Partial<Conversation> & { version?: unknown };
    if (c?.version !== VERSION || c.id !== id || typeof c.updatedAt !== 'number') return undefined;
    if (!Array.isArray(c.turns) || !c.turns.every(validTurn) || !Array.isArray(c.history) || !c.history.every(validExchange))
      return undefined;
    // A turn saved while it streamed was cut off by the reload: it shows as stopped.
    const turns = c.turns.map((t) => (t.done ? t : { ...t, done: true, cancelled: true }));
    return { id, title: titleOf(turns), updatedAt: c.updatedAt, turns, history: c.history };
  }

  /** Writes atomically (a temporary file, then rename), readable by the user only; then drops the oldest past the cap. */
  save(c: Conversation): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const file = this.file(c.id);
    const tmp = `${file}.${process.pid}.${randomBytes(3).toString('hex')}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: VERSION, ...c }), { mode: 0o600 });
    renameSync(tmp, file);
    const ids = this.ids();
    if (ids.length <= MAX_CONVERSATIONS) return;
    const byAge = ids.map((id) => ({ id, at: statSync(this.file(id)).mtimeMs })).sort((a, b) => a.at - b.at);
    for (const old of byAge.slice(0, ids.length - MAX_CONVERSATIONS)) if (old.id !== c.id) this.remove(old.id);
  }

  remove(id: string): void {
    rmSync(this.file(id), { force: true });
  }

  private ids(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    return names
      .filter((n) => n.endsWith('.json'))
      .map((n) => n.slice(0, -5))
      .filter(isConversationId);
  }
}
