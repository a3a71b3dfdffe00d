// Named conversations on disk, for clients that come and go (the CLI's `ask --session NAME`). They live under
// the cache folder, per cache entry (so per workspace, model and settings), and never inside the entry.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from '../core/errors.ts';
import type { ConversationTurn } from './protocol.ts';

const NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;
const VERSION = 1;

interface SessionFile {
  version: number;
  turns: ConversationTurn[];
}

export class SessionStore {
  constructor(private readonly cacheDir: string) {}

  private file(entryKey: string, name: string): string {
    if (!NAME.test(name)) {
      throw new UserError(
        `Session name "${name}" is not allowed: use 1 to 64 letters, digits, '.', '_' or '-', not starting with '.'.`,
        'bad-request',
      );
    }
    return join(this.cacheDir, 'sessions', entryKey, `${name}.json`);
  }

  /** The session's turns; none when it does not exist yet, or when its file is unreadable (it starts over). */
  load(entryKey: string, name: string): ConversationTurn[] {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.file(entryKey, name), 'utf8'));
    } catch (e) {
      if (e instanceof UserError) throw e;
      return [];
    }
    const f = raw as Partial<SessionFile>;
    if (f?.version !== VERSION || !Array.isArray(f.turns)) return [];
    return f.turns.filter(
      (t): t is ConversationTurn =>
        typeof t?.question === 'string' &&
        typeof t.answer === 'string' &&
        Array.isArray(t.answerIds) &&
        t.answerIds.every((v) => Number.isInteger(v) && v >= 0),
    );
  }

  /** Writes atomically (temporary file, then rename), readable by the user only. */
  save(entryKey: string, name: string, turns: ConversationTurn[]): void {
    const file = this.file(entryKey, name);
    mkdirSync(join(this.cacheDir, 'sessions', entryKey), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.${randomBytes(3).toString('hex')}.tmp`;
    writeFileSync(tmp, JSON.stringify({ version: VERSION, turns } satisfies SessionFile), { mode: 0o600 });
    renameSync(tmp, file);
  }

  remove(entryKey: string, name: string): void {
    rmSync(this.file(entryKey, name), { force: true });
  }
}
