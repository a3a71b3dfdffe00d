// Demotes punctuation/whitespace-only tokens in KVzip's pair scores. Reconstruction scoring over-values them
// (kvpress PR #288; docs/KVZIP.md): on stories260K they are 11.3% of the context but 17.8% of the pairs kept at r = 0.1.
// Multiplying their scores by f < 1 before the global top-r·N hands part of that budget to content tokens.
// bench/quality.ts measures f = 0.75, 0.5, 0.25 (kvzip-pair-demote-<f>).
//
// What counts: whitespace and Unicode punctuation (\p{P}: brackets, quotes, . , ; : ! ? - _ / # @ & * % \ …), and
// nothing else. Symbols (\p{S}: = + < > | ~ ^ $ ` and currency, math, emoji, U+FFFD) are left alone: in code they
// are operators, which carry meaning the neighbours do not restore (`<` vs `>`, `=` vs `==`), while delimiters
// mostly follow from the structure around them. U+FFFD is what a byte-fallback piece of a multi-byte character
// decodes to alone. A token that decodes to nothing (special ids) keeps 1. The text of a token is read after an
// anchor word (see tokenText), so a SentencePiece space token counts as the whitespace it is.
import type { PairScores } from './scores.ts';

const DEMOTABLE = /^[\s\p{P}]+$/u;

/** Whether decoded token text is whitespace and/or punctuation only (not empty). */
export function isPunctuationOrSpace(text: string): boolean {
  return DEMOTABLE.test(text);
}

/** What demotion needs of a tokenizer (ModelTokenizer has both). */
export interface DemoteTokenizer {
  decode(ids: number[]): string;
  encode(text: string): number[];
}

/**
 * A token's own text. Decoded after an anchor word, because SentencePiece decoders strip a leading space from the
 * first token, so the pure-space tokens ("▁", <0x20>) would decode alone to "".
 */
function tokenText(tok: DemoteTokenizer, anchor: number | undefined, id: number): string {
  if (anchor === undefined) return tok.decode([id]);
  const head = tok.decode([anchor]);
  const both = tok.decode([anchor, id]);
  return both.startsWith(head) ? both.slice(head.length) : tok.decode([id]);
}

/**
 * Per context position: `factor` where the token is whitespace/punctuation only, else 1. `ids` are the context's
 * ids, so index i matches PairScores position i. Decodes each distinct id once.
 */
export function demoteMultipliers(tok: DemoteTokenizer, ids: ArrayLike<number>, factor: number): Float32Array {
  if (!(factor > 0 && factor <= 1)) throw new RangeError(`demote factor must be in (0, 1], got ${factor}`);
  const anchor = tok.encode('a').at(-1);
  const memo = new Map<number, boolean>();
  const out = new Float32Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    let d = memo.get(id);
    if (d === undefined) memo.set(id, (d = isPunctuationOrSpace(tokenText(tok, anchor, id))));
    out[i] = d ? factor : 1;
  }
  return out;
}

/** Multiplies every (layer, head) row of `scores` by the per-position multiplier, in place; returns `scores`. */
export function applyMultipliers(scores: PairScores, mult: Float32Array): PairScores {
  const { n, data } = scores;
  if (mult.length !== n) throw new RangeError(`multiplier has ${mult.length} positions, scores have ${n}`);
  for (let row = 0; row < data.length; row += n) for (let i = 0; i < n; i++) data[row + i] *= mult[i];
  return scores;
}

/** Convenience: demote in place the scores of context `ids` by `factor` (1 leaves them unchanged). */
export function demoteScores(scores: PairScores, tok: DemoteTokenizer, ids: ArrayLike<number>, factor: number): PairScores {
  return factor === 1 ? scores : applyMultipliers(scores, demoteMultipliers(tok, ids, factor));
}

/**
 * The factor pair selection uses: it brought KVzip's retelling agreement at r = 0.1–0.2 up by 5–8 points on
 * stories260K with KL unchanged; 0.5 and below made KL worse (bench/quality.ts, kvzip-pair-demote-*).
 */
export const PUNCT_DEMOTE = 0.75;
