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

/** A question's ids: the first turn opens after the context, later ones follow an answer. */
function askIds(tok: TurnEncoder, layout: PromptLayout, followUp: boolean, question: string): number[] {
  return followUp ? tok.followUpIds(layout, question) : tok.questionIds(layout, question);
}

/**
 * Keeps the most recent turns whose tail, with the new question, still leaves `answerRoom` positions inside
 * `budget`. With no turn kept the question goes alone, even when its answer will not fit (it then stops at the
 * budget, visibly). Each question is encoded once as a follow-up, and as the opening turn only where the tail
 * could start with it, so thousands of stored turns are planned in linear time (re-encoding every candidate tail
 * took 37 s for 2,000 turns).
 */
export function planTail(
  tok: TurnEncoder,
  layout: PromptLayout,
  turns: ConversationTurn[],
  question: string,
  budget: number,
  answerRoom: number,
): TailPlan {
  const asked = askIds(tok, layout, true, question);
  const followUps = turns.map((t) => askIds(tok, layout, true, t.question));
  // after[i]: positions of turns i.. as follow-ups, then the question.
  const after = new Array<number>(turns.length + 1).fill(asked.length);
  for (let i = turns.length - 1; i >= 0; i--) after[i] = after[i + 1]! + followUps[i]!.length + turns[i]!.answerIds.length;
  for (let drop = 0; drop < turns.length; drop++) {
    // The turns after this one do not fit even without it: neither can it start the tail.
    if (after[drop + 1]! + answerRoom > budget) continue;
    const opening = askIds(tok, layout, false, turns[drop]!.question);
    if (opening.length + turns[drop]!.answerIds.length + after[drop + 1]! + answerRoom > budget) continue;
    const ids = [...opening, ...turns[drop]!.answerIds];
    for (let i = drop + 1; i < turns.length; i++) ids.push(...followUps[i]!, ...turns[i]!.answerIds);
    ids.push(...asked);
    return { ids, kept: turns.slice(drop), dropped: drop, questionTokens: asked.length };
  }
  const ids = askIds(tok, layout, false, question);
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
