// Named conversations on disk, for clients that come and go (the CLI's `ask --session NAME`). They live under
// the cache folder, per cache entry (so per workspace, model and settings), and never inside the entry; they go
// with their entry when it is cleared or evicted, or a rebuild of the same entry would bring them back.
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from '../core/errors.ts';
import { acquireLock, type LockWait } from '../core/jobLock.ts';
import type { ConversationTurn, SessionUnreadable } from './protocol.ts';

const NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;
const VERSION = 1;

interface SessionFile {
  version: number;
  turns: ConversationTurn[];
}

export interface LoadedSession {
  turns: ConversationTurn[];
  /** Set when the file could not be read: it was moved aside, and the conversation starts over. */
  unreadable?: SessionUnreadable;
}

export class SessionStore {
  constructor(private readonly cacheDir: string) {}

  private folder(entryKey: string): string {
    return join(this.cacheDir, 'sessions', entryKey);
  }

  private file(entryKey: string, name: string): string {
    if (!NAME.test(name)) {
      throw new UserError(
        `Session name "${name}" is not allowed: use 1 to 64 letters, digits, '.', '_' or '-', not starting with '.'.`,
        'bad-request',
      );
    }
    return join(this.folder(entryKey), `${name}.json`);
  }

  /**
   * Holds the session from reading its turns to saving the next one, so two asks on one session each see the
   * other's turn: a second ask waits, and is told who it waits for.
   */
  async lock(entryKey: string, name: string, wait: LockWait): Promise<() => void> {
    const file = this.file(entryKey, name);
    mkdirSync(this.folder(entryKey), { recursive: true, mode: 0o700 });
    return acquireLock(`${file}.lock`, wait);
  }

  /**
   * The session's turns; none when it does not exist yet. A file that cannot be read or does not hold a session
   * is moved aside (never overwritten: it may be the only copy of a long conversation), and the result says where.
   */
  load(entryKey: string, name: string): LoadedSession {
    const file = this.file(entryKey, name);
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { turns: [] };
      if (code === 'EISDIR')
        throw new UserError(`The session file ${file} is a folder. Move it away, or choose another --session name.`, 'bad-request');
      return this.setAside(file, name, `it cannot be read (${code ?? (e as Error).message})`);
    }
    const read = parse(text);
    return 'problem' in read ? this.setAside(file, name, read.problem) : { turns: read.turns };
  }

  private setAside(file: string, name: string, reason: string): LoadedSession {
    const keptAs = `${file}.unreadable-${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(2).toString('hex')}`;
    try {
      renameSync(file, keptAs);
    } catch (e) {
      throw new UserError(
        `The session "${name}" could not be read (${reason}), nor moved aside (${(e as NodeJS.ErrnoException).code}). Move ${file} away, or choose another --session name.`,
        'bad-request',
      );
    }
    return { turns: [], unreadable: { reason, keptAs } };
  }

  /** Writes atomically (temporary file, then rename), readable by the user only. */
  save(entryKey: string, name: string, turns: ConversationTurn[]): void {
    const file = this.file(entryKey, name);
    mkdirSync(this.folder(entryKey), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.${randomBytes(3).toString('hex')}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: VERSION, turns } satisfies SessionFile), { mode: 0o600 });
    renameSync(tmp, file);
  }

  remove(entryKey: string, name: string): void {
    rmSync(this.file(entryKey, name), { force: true });
  }

  /**
   * Removes the conversations of the entries not in `live` (all of them when `live` is empty); returns how many
   * session files went.
   */
  removeExcept(live: Set<string>): number {
    const root = join(this.cacheDir, 'sessions');
    let keys: string[];
    try {
      keys = readdirSync(root);
    } catch {
      return 0;
    }
    let removed = 0;
    for (const key of keys) {
      if (live.has(key)) continue;
      removed += this.removeEntry(key);
    }
    return removed;
  }

  /** Removes an entry's conversations; returns how many session files went. */
  removeEntry(entryKey: string): number {
    let files: string[];
    try {
      files = readdirSync(this.folder(entryKey));
    } catch {
      return 0;
    }
    rmSync(this.folder(entryKey), { recursive: true, force: true });
    return files.filter((f) => f.endsWith('.json')).length;
  }
}

/** The turns a session file holds, or what is wrong with it. */
function parse(text: string): { turns: ConversationTurn[] } | { problem: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    return { problem: `not JSON: ${(e as Error).message}` };
  }
  const f = raw as Partial<SessionFile> | null;
  if (f?.version !== VERSION) return { problem: `version ${JSON.stringify(f?.version)}, not ${VERSION}` };
  if (!Array.isArray(f.turns)) return { problem: 'it holds no list of turns' };
  const bad = f.turns.findIndex(
    (t) =>
      typeof t?.question !== 'string' ||
      typeof t.answer !== 'string' ||
      !Array.isArray(t.answerIds) ||
      !t.answerIds.every((v) => Number.isInteger(v) && v >= 0),
  );
  if (bad >= 0) return { problem: `turn ${bad + 1} is not a {question, answer, answerIds} turn` };
  return { turns: f.turns };
}
