// The forward graphs' tensor names: the graph declares its inputs and outputs with these, and the runtime feeds
// and fetches by them, so the two sides cannot drift apart.

export const names = {
  /** [1, S] int64: the new tokens. */
  inputIds: 'input_ids',
  /** [1, S] int64: their RoPE positions. */
  positionIds: 'position_ids',
  /** [1, Hkv, P, D]: the past KV of layer l (a compressed graph's past is the tail after its baked context). */
  pastKey: (l: number) => `past_key_${l}`,
  pastValue: (l: number) => `past_value_${l}`,
  /** [1, Hkv, P + S, D]: past ++ new (a dense graph's past may have spare room, see pastLength). */
  presentKey: (l: number) => `present_key_${l}`,
  presentValue: (l: number) => `present_value_${l}`,
  /**
   * Dense graph: its past may have spare room (runtime/kv.ts), so a scalar int64 says how many positions are
   * valid; it also returns the new positions' KV [1, Hkv, S, D], which a host session fetches instead of the presents.
   */
  pastLength: 'past_length',
  newKey: (l: number) => `new_key_${l}`,
  newValue: (l: number) => `new_value_${l}`,
  /**
   * WebGPU's dense graph: a cache generation's compressed context KV of layer l, attended before the past (the
   * tail after it), every KV head padded to the layer's largest: keys transposed [Hkv, D, C], values [Hkv, C, D],
   * and an additive bias [Hkv, 1, C], 0 on kept pairs and −inf on the padding (runtime/context.ts).
   */
  contextKey: (l: number) => `context_key_${l}`,
  contextValue: (l: number) => `context_value_${l}`,
  contextBias: (l: number) => `context_bias_${l}`,
  /**
   * [B] fp32: the attention the last new position gives the context's pairs, summed per source bucket over every
   * layer, KV head and query head (graph/sources.ts); graphs built with sources only.
   */
  sources: 'source_mass',
  /** WebGPU's dense graph: every context pair's source bucket, [Σ_l Hkv·C_l] int32 in layer order. */
  contextSources: 'context_sources',
  /** WebGPU's dense graph: zeros [B], one per source bucket (the output's length). */
  sourceBuckets: 'source_buckets',
  /** Dense scoring input [4] int64: past keys scored as the runs [a0, a1) ++ [b0, b1) (system prefix, chunk). */
  scoreSpans: 'score_spans',
  /**
   * WebGPU's dense scoring input, scalar int64: the leading context pairs of every head that join the softmax as
   * its sink (a refresh's system prefix). At least 1: a build's is the masked dummy pair, which adds nothing.
   */
  scoreContextSink: 'score_context_sink',
  /** Compressed scoring input [M] int64: tail keys scored. */
  scoreIndex: 'score_index',
  /** [1, vocab]: the last position's logits. */
  logitsLast: 'logits_last',
  /** [1, S, vocab]: every new position's logits (graphs built with allLogits). */
  logitsAll: 'logits_all',
  /** [1, K]: the last position's top logits, descending, and their token ids. */
  topValues: 'top_values',
  topIndices: 'top_indices',
  /** [L, Hkv, M]: KVzip's score of each scored key (max attention over the group's heads and the new queries). */
  scores: 'scores',
} as const;
