// Per-pair importance scores [layer][kvHead][context position], filled chunk by chunk.
export class PairScores {
  readonly data: Float32Array;

  constructor(
    readonly layers: number,
    readonly kvHeads: number,
    /** Number of context positions scored (positions contextStart..contextStart+n-1). */
    readonly n: number,
  ) {
    this.data = new Float32Array(layers * kvHeads * n);
  }

  at(l: number, h: number, i: number): number {
    return this.data[(l * this.kvHeads + h) * this.n + i];
  }

  /**
   * Stores one chunk's graph output [L, Hkv, M] whose last `count` columns are the chunk's keys (the columns
   * before them are the prefix's). Each context key belongs to one chunk; max keeps this safe for overlap.
   */
  addChunk(out: Float32Array, m: number, offset: number, count: number): void {
    const skip = m - count;
    for (let l = 0; l < this.layers; l++) {
      for (let h = 0; h < this.kvHeads; h++) {
        const src = (l * this.kvHeads + h) * m + skip;
        const dst = (l * this.kvHeads + h) * this.n + offset;
        for (let i = 0; i < count; i++) this.data[dst + i] = Math.max(this.data[dst + i], out[src + i]);
      }
    }
  }
}
