// A conversation over a cached context: earlier questions and answers ride after the context as tail KV while
// they fit the conversation budget, so a follow-up is read with what was said before. The cache entry itself is
// never written: turns live in the engine's memory (their KV) and in session files (their token ids).
import type { ModelTokenizer, PromptLayout } from '../model/tokenizer.ts';
import type { KvCache } from '../runtime/kv.ts';
import { releaseKv } from '../runtime/deviceTransfer.ts';
import type { ConversationTurn } from './protocol.ts';

export interface TailPlan {
  /** Token ids after the cached context: the kept turns, then the new question. */
  ids: number[];
  /** The earlier turns kept (the most recent ones). */
  kept: ConversationTurn[];
  /** How many of the oldest turns had to go. */
  dropped: number;
  /** The new question's own tokens (the end of `ids`). */
  questionTokens: number;
}

type TurnEncoder = Pick<ModelTokenizer, 'questionIds' | 'followUpIds'>;

/** Tail ids for `turns` followed by `question`: the first turn opens after the context, later ones follow an answer. */
export function tailIds(tok: TurnEncoder, layout: PromptLayout, turns: ConversationTurn[], question: string): number[] {
  const ids: number[] = [];
  for (const t of turns) ids.push(...askIds(tok, layout, ids.length > 0, t.question), ...t.answerIds);
  ids.push(...askIds(tok, layout, ids.length > 0, question));
  return ids;
}

function askIds(tok: TurnEncoder, layout: PromptLayout, followUp: boolean, question: string): number[] {
  return followUp ? tok.followUpIds(layout, question) : tok.questionIds(layout, question);
}

/**
 * Keeps the most recent turns whose tail, with the new question, still leaves `answerRoom` positions inside
 * `budget`. With no turn kept the question goes alone, even when its answer will not fit (it then stops at the
 * budget, visibly).
 */
export function planTail(
  tok: TurnEncoder,
  layout: PromptLayout,
  turns: ConversationTurn[],
  question: string,
  budget: number,
  answerRoom: number,
): TailPlan {
  for (let drop = 0; drop < turns.length; drop++) {
    const kept = turns.slice(drop);
    const ids = tailIds(tok, layout, kept, question);
    if (ids.length + answerRoom <= budget) return { ids, kept, dropped: drop, questionTokens: askIds(tok, layout, true, question).length };
  }
  const ids = tailIds(tok, layout, [], question);
  return { ids, kept: [], dropped: turns.length, questionTokens: ids.length };
}

/**
 * The conversation budget in tail positions: the setting when given, never past the model's window. By default
 * every position after the context, so turns drop only when the answer would otherwise run out of room.
 */
export function conversationBudget(setting: number | undefined, window: number, contextLength: number): number {
  const free = Math.max(0, window - contextLength);
  return setting && setting > 0 ? Math.min(Math.floor(setting), free) : free;
}

/**
 * The last tail's KV, kept in memory so a follow-up feeds only its new tokens. KV of a token prefix is the same
 * whatever follows, so any tail that starts with the kept ids reuses them.
 */
export class TailKv {
  private last?: { dir: string; ids: number[]; kv: KvCache };

  /** The KV to continue from and the ids still to feed (at least one: the last must produce the next token). */
  resume(dir: string, ids: number[], empty: () => KvCache): { past: KvCache; feed: number[] } {
    const l = this.last;
    if (l && l.dir === dir && l.ids.length < ids.length && l.ids.every((v, i) => v === ids[i])) {
      return { past: l.kv, feed: ids.slice(l.ids.length) };
    }
    return { past: empty(), feed: ids };
  }

  /**
   * Remembers a generation's KV: `ids` is everything fed and produced; the KV covers its first kv.length. The KV
   * it replaces is freed: on WebGPU it is device memory that no collector reclaims, one tail per answer.
   */
  keep(dir: string, ids: number[], kv: KvCache): void {
    if (this.last?.kv !== kv) this.forget();
    this.last = { dir, ids: ids.slice(0, kv.length), kv };
  }

  forget(): void {
    if (this.last) releaseKv(this.last.kv);
    this.last = undefined;
  }
}
