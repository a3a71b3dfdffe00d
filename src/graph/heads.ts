// What every attention variant shares: the graph's lengths, and GQA's layout of queries stacked per KV head (the
// G query heads that share a KV head are rows of one matrix, so K and V are never repeated).
import type { Net } from './net.ts';

/** Per-graph lengths: S new tokens after P past ones, Tk = P + S keys in all (the new ones last). */
export interface Lengths {
  S: string;
  P: string;
  Tk: string;
}

/** Queries [S, H, D] → [Hkv, G*S, D] pre-scaled, and new keys [S, Hkv, D] → [Hkv, S, D]. */
export function stack(n: Net, q: string, k: string): { queries: string; newKeys: string } {
  const { numKvHeads: Hkv, headDim: D } = n.spec;
  const qScale = n.g.constFloat([1 / Math.sqrt(D)], [], n.T);
  const heads = n.op('Transpose', [q], { perm: [1, 0, 2] });
  return {
    queries: n.op('Mul', [n.shaped(n.op('Reshape', [heads, n.i64([Hkv, -1, D])]), [Hkv, n.stackedRows, D]), qScale]),
    newKeys: n.op('Transpose', [k], { perm: [1, 0, 2] }),
  };
}

/** [Hkv, G*S, D] (or [Hkv, G, S, D]) → [H, S, D] → [S, H*D] */
export function mergeHeads(n: Net, attn: string): string {
  const { numHeads: H, headDim: D } = n.spec;
  const perHead = n.shaped(n.op('Reshape', [attn, n.i64([H, -1, D])]), [H, 'S', D]);
  return n.shaped(n.op('Reshape', [n.op('Transpose', [perHead], { perm: [1, 0, 2] }), n.i64([-1, H * D])]), ['S', H * D]);
}
