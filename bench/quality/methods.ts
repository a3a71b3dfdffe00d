// The methods the quality bench compares: KVzip's own (the engine's level dispatch) and the baselines, with
// the ratios each is measured at.
import type { PairScores } from '../../src/kvzip/scores.ts';
import { selectLevel, selectRandom, selectRecency, selectSnapKv, type KeepSets } from '../../src/kvzip/select.ts';

export const RATIOS = [0.1, 0.2, 0.3, 0.5, 0.7, 1.0];
// The factor the engine ships (src/kvzip/demote.ts); 0.5 and 0.25 were measured worse in earlier runs.
export const DEMOTE_FACTORS = [0.75] as const;
export type DemoteMethod = `kvzip-pair-demote-${(typeof DEMOTE_FACTORS)[number]}`;
export const DEMOTE_METHODS = DEMOTE_FACTORS.map((f) => `kvzip-pair-demote-${f}` as DemoteMethod);
export const METHODS = ['kvzip-pair', ...DEMOTE_METHODS, 'kvzip-local', 'kvzip-uniform', 'random', 'recency', 'snapkv'] as const;
export type Method = 'kvzip-pair' | DemoteMethod | 'kvzip-local' | 'kvzip-uniform' | 'random' | 'recency' | 'snapkv';
export const BASELINES: Method[] = ['random', 'recency', 'snapkv'];
export const isDemote = (m: Method): m is DemoteMethod => m.startsWith('kvzip-pair-demote-');
export const demoteFactor = (m: DemoteMethod) => Number(m.slice('kvzip-pair-demote-'.length));
/** The demote variants and local scoring skip 0.7 (runtime); 1.0 keeps everything, so it costs nothing. */
export const ratiosOf = (m: Method) => (isDemote(m) || m === 'kvzip-local' ? RATIOS.filter((r) => r !== 0.7) : RATIOS);
export const SINKS = 4; // recency baseline's first context tokens (StreamingLLM)
/**
 * What the engine ships, then the reference's plain scoring, then the engine's local scoring level (the shipped
 * selection over scores whose repeat passes attend to the prefix and their chunk only).
 */
export const KVZIP_METHODS: Method[] = ['kvzip-pair-demote-0.75', 'kvzip-pair', 'kvzip-local'];
/** The shipped exact method local scoring is compared with, pair by pair and context by context. */
export const LOCAL_BASIS: Method = 'kvzip-pair-demote-0.75';

/** What one context's selections are made from. */
export interface SelectionInputs {
  scores: PairScores;
  /** The demote variants' scores, punctuation/whitespace multiplied by their factor. */
  demoted: Map<DemoteMethod, PairScores>;
  /** Local scoring's scores, demoted as the engine ships them. */
  local: PairScores;
  /** SnapKV-style scores for the question it is made for. */
  snapScores: PairScores;
  layers: number;
  kvHeads: number;
  n: number;
  seed: number;
}

/** KVzip's own methods go through the engine's level dispatch (head level is not evaluated here). */
export function selectFor(m: Method, r: number, x: SelectionInputs): KeepSets {
  switch (m) {
    case 'kvzip-pair':
      return selectLevel('pair', x.scores, r, {});
    case 'kvzip-local':
      return selectLevel('pair', x.local, r, {});
    case 'kvzip-uniform':
      return selectLevel('pair-uniform', x.scores, r, {});
    case 'random':
      return selectRandom(x.layers, x.kvHeads, x.n, r, x.seed);
    case 'recency':
      return selectRecency(x.layers, x.kvHeads, x.n, r, SINKS);
    case 'snapkv':
      return selectSnapKv(x.snapScores, r);
    default:
      return selectLevel('pair', x.demoted.get(m)!, r, {});
  }
}
