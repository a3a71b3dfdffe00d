// The building blocks every forward graph uses, over one GraphBuilder: weights by Hugging Face name, linear
// layers (Gemm on HF's [out, in] layout, or int4 MatMulNBits), RMSNorm, the token lookup, RoPE, causal masks,
// and the casts between the graph's dtype and fp32 (angles, softmax and scores are computed in fp32).
import type { ModelSpec } from '../model/config.ts';
import type { ExternalRef } from '../model/prepare.ts';
import type { Rope } from '../model/rope.ts';
import { NBITS_PARTS, type NBitsLayout } from '../model/int4.ts';
import { DataType, GraphBuilder, type DataTypeCode, type Dim } from './onnx.ts';

export type GraphDtype = 'fp32' | 'fp16';

export const NEG_INF = -Infinity;
/** A Slice end past any real length. */
export const END = 2 ** 53 - 1;

export function dataType(d: GraphDtype): DataTypeCode {
  return d === 'fp16' ? DataType.FLOAT16 : DataType.FLOAT;
}

export class Net {
  readonly g = new GraphBuilder();
  /** The graph's element type: activations, KV and non-quantized weights. */
  readonly T: DataTypeCode;
  /** The dims `shaped` declared, by value. */
  private readonly dims = new Map<string, Dim[]>();
  /** isWide's condition, by the value it tests. */
  private readonly wide = new Map<string, string>();

  constructor(
    readonly spec: ModelSpec,
    dtype: GraphDtype,
    private readonly weight: (name: string) => ExternalRef,
    /** How each weight is quantized, if it is (see model/int4.ts). */
    private readonly layout: (name: string) => NBitsLayout | undefined = () => undefined,
    /** MatMulNBits' accuracy_level: 4 computes in int8 (the CPU's integer dot products), 0 in the graph's dtype. */
    private readonly accuracyLevel = 4,
    /**
     * With int8 activations (level 4): 8-bit blocks' runs of at least this many rows compute in the graph's dtype
     * instead (see WIDE_RUN_ROWS). Dense graphs set it: their prefills and scoring passes are thousands of rows.
     */
    private readonly wideRows?: number,
  ) {
    this.T = dataType(dtype);
  }

  op(type: string, inputs: string[], attrs: Parameters<GraphBuilder['op']>[2] = {}, domain = ''): string {
    return this.g.op(type, inputs, attrs, domain);
  }

  /** Declares x's shape (see GraphBuilder.shape); its type is the graph's unless given. */
  shaped(x: string, dims: Dim[], type: DataTypeCode = this.T): string {
    this.dims.set(x, dims);
    return this.g.shape(x, type, dims);
  }

  /** The symbolic dim of G*S, the rows of queries stacked per KV head (heads.ts). */
  get stackedRows(): Dim {
    return this.spec.numHeads === this.spec.numKvHeads ? 'S' : 'GS';
  }

  i64(v: number[]): string {
    return this.g.constInt64(v);
  }

  scalar(v: number): string {
    return this.g.constInt64([v], []);
  }

  /** A weight of the prepared file, by its Hugging Face name. */
  w(name: string, dims: number[]): string {
    return this.g.external(name, this.T, dims, this.weight(name));
  }

  toF32(x: string): string {
    return this.T === DataType.FLOAT ? x : this.op('Cast', [x], { to: DataType.FLOAT });
  }

  fromF32(x: string): string {
    return this.T === DataType.FLOAT ? x : this.op('Cast', [x], { to: this.T });
  }

  /** RMSNorm over the last axis: x's shape, declared where x's is. */
  rms(x: string, weightName: string, size: number): string {
    const y = this.op('SimplifiedLayerNormalization', [x, this.w(weightName, [size])], {
      axis: -1,
      epsilon: { float: this.spec.rmsNormEps },
      stash_type: 1,
    });
    const dims = this.dims.get(x);
    return dims ? this.shaped(y, dims) : y;
  }

  /** y = x Wᵀ (+ b) with W [out, in] = dims; quantized weights through MatMulNBits. */
  linear(x: string, wName: string, dims: number[], bias?: string): string {
    const l = this.layout(wName);
    if (!l) {
      return this.op('Gemm', bias ? [x, this.w(wName, dims), this.w(bias, [dims[0]])] : [x, this.w(wName, dims)], { transB: 1 });
    }
    const [N, K] = dims;
    const blocks = Math.ceil(K / l.block);
    const inputs = [
      x,
      this.part(wName, NBITS_PARTS.b, DataType.UINT8, [N, blocks, (l.block * l.bits) / 8]),
      this.part(wName, NBITS_PARTS.scales, this.T, [N * blocks]),
    ];
    if (l.zeroPoints) inputs.push(this.part(wName, NBITS_PARTS.zeroPoints, DataType.UINT8, [N * Math.ceil((blocks * l.bits) / 8)]));
    const matMul = (level: number) =>
      this.op('MatMulNBits', inputs, { K, N, bits: l.bits, block_size: l.block, accuracy_level: level }, 'com.microsoft');
    let y: string;
    const rows = this.dims.get(x)?.[0];
    if (l.bits === 8 && this.accuracyLevel === 4 && this.wideRows !== undefined && !(typeof rows === 'number' && rows < this.wideRows)) {
      // Both branches read the same blocks; the int8 one prepacks them.
      const branch = (name: string, level: number) => this.g.subgraph(this.g.fresh(name), [this.T], () => [matMul(level)]);
      y = this.op('If', [this.isWide(x)], {
        then_branch: { graph: branch('float_rows', 0) },
        else_branch: { graph: branch('int8_rows', 4) },
      });
    } else y = matMul(this.accuracyLevel);
    if (l.mins) {
      // Σ_b (Σ x over block b) · min[b, n]: the min term of w = scale · code + min, 1/block of the MatMul's work.
      const sums = this.op('ReduceSum', [this.op('Reshape', [x, this.i64([-1, blocks, l.block])]), this.i64([2])], { keepdims: 0 });
      y = this.op('Add', [y, this.op('MatMul', [sums, this.part(wName, NBITS_PARTS.mins, this.T, [blocks, N])])]);
    }
    return bias ? this.op('Add', [y, this.w(bias, [N])]) : y;
  }

  /** Whether x [rows, in] has wideRows rows or more: once per value, the linears over one input share it. */
  private isWide(x: string): string {
    let hit = this.wide.get(x);
    if (!hit) {
      const rows = this.op('Gather', [this.op('Shape', [x]), this.scalar(0)], { axis: 0 });
      hit = this.op('GreaterOrEqual', [rows, this.scalar(this.wideRows!)]);
      this.wide.set(x, hit);
    }
    return hit;
  }

  /**
   * The LM head over a few rows (y [rows, in], W [out, in] = dims) in a session that prepacks: float weights go in
   * as MatMul's first operand, which onnxruntime never prepacks. A packed copy of this largest matrix (545 MB fp32
   * on the 0.5B) cost its size in memory and 1.4-2.8 s of a dense session's opening, for one row per run.
   */
  head(y: string, wName: string, dims: number[]): string {
    if (this.layout(wName)) return this.linear(y, wName, dims);
    return this.op('Transpose', [this.op('MatMul', [this.w(wName, dims), this.op('Transpose', [y])])]);
  }

  /** Token ids [S] → embeddings [S, hidden]; a quantized table's rows are dequantized as MatMulNBits does. */
  embed(ids: string): string {
    const name = 'model.embed_tokens.weight';
    const { vocabSize: V, hiddenSize: h } = this.spec;
    const l = this.layout(name);
    if (!l) return this.shaped(this.op('Gather', [this.w(name, [V, h]), ids], { axis: 0 }), ['S', h]);
    const blocks = Math.ceil(h / l.block);
    const rowBytes = (blocks * l.block * l.bits) / 8;
    if (l.zeroPoint === undefined) {
      // int4's per-block zero points: onnxruntime's own lookup reads the MatMulNBits blocks as they are.
      return this.shaped(
        this.op(
          'GatherBlockQuantized',
          [
            this.part(name, NBITS_PARTS.b, DataType.UINT8, [V, rowBytes]),
            ids,
            this.part(name, NBITS_PARTS.scales, this.T, [V, blocks]),
            this.part(name, NBITS_PARTS.zeroPoints, DataType.UINT8, [V, Math.ceil(blocks / 2)]),
          ],
          { gather_axis: 0, quantize_axis: 1, block_size: l.block, bits: 4 },
          'com.microsoft',
        ),
        ['S', h],
      );
    }
    // A GGUF format: one zero point for every block, and maybe mins, so the rows are unpacked here.
    const rows = this.op('Gather', [this.part(name, NBITS_PARTS.b, DataType.UINT8, [V, rowBytes]), ids], { axis: 0 });
    let codes = rows;
    if (l.bits === 4) {
      const lo = this.op('BitwiseAnd', [rows, this.g.constUint8([15])]);
      const hi = this.op('BitShift', [rows, this.g.constUint8([4])], { direction: 'RIGHT' });
      const pair = (t: string) => this.op('Unsqueeze', [t, this.i64([-1])]);
      codes = this.op('Concat', [pair(lo), pair(hi)], { axis: -1 });
    }
    const q = this.op('Sub', [
      this.shaped(this.op('Reshape', [this.op('Cast', [codes], { to: this.T }), this.i64([-1, blocks, l.block])]), ['S', blocks, l.block]),
      this.g.constFloat([l.zeroPoint], [], this.T),
    ]);
    const perBlock = (t: string) => this.op('Unsqueeze', [t, this.i64([-1])]);
    let y = this.op('Mul', [q, perBlock(this.op('Gather', [this.part(name, NBITS_PARTS.scales, this.T, [V, blocks]), ids], { axis: 0 }))]);
    if (l.mins) {
      const mins = this.op('Gather', [this.part(name, NBITS_PARTS.mins, this.T, [blocks, V]), ids], { axis: 1 });
      y = this.op('Add', [y, perBlock(this.op('Transpose', [mins], { perm: [1, 0] }))]);
    }
    return this.shaped(this.op('Reshape', [y, this.i64([-1, h])]), ['S', h]);
  }

  // One initializer per part and shape: the embedding's blocks are read by the lookup and the tied head.
  private part(wName: string, suffix: string, type: DataTypeCode, shape: number[]): string {
    return this.g.external(`${wName}${suffix}:${shape.join('x')}`, type, shape, this.weight(wName + suffix));
  }

  /** [to − from, keys]: −inf strictly above the diagonal shifted by `from`, so query q (row + from) sees keys ≤ q. */
  causal(keys: string, from: string, to: string): string {
    const dims = [this.op('Sub', [to, from]), keys].map((d) => this.op('Unsqueeze', [d, this.i64([0])]));
    const shape = this.op('Concat', dims, { axis: 0 });
    const infs = this.op('Expand', [this.g.constFloat([NEG_INF], []), shape]);
    return this.op('Trilu', [infs, this.op('Add', [from, this.scalar(1)])], { upper: 1 });
  }

  /** Rows of a stacked-GQA score matrix are (group, query) pairs: tiles an [S, T] mask over the G groups. */
  tileGroups(mask: string): string {
    const G = this.spec.numHeads / this.spec.numKvHeads;
    return G === 1 ? mask : this.op('Tile', [mask, this.i64([G, 1])]);
  }

  /** RoPE from position ids at run time (no table bounded by max positions): returns x [S, heads, D] ↦ rotated. */
  rotary(positionIds: string, rope: Rope): (x: string) => string {
    const D = this.spec.headDim;
    const ids = this.shaped(this.op('Reshape', [positionIds, this.i64([-1, 1])]), ['S', 1], DataType.INT64);
    const pos = this.op('Cast', [ids], { to: DataType.FLOAT });
    const angles = this.op('Mul', [pos, this.g.constFloat(rope.invFreq, [D / 2])]);
    const scale = this.g.constFloat([rope.scale], []);
    // Cos and Sin in float64: WGSL defines their accuracy only on [-π, π] (on WebGPU, SwiftShader's cos was 2e-4
    // off at angle 63, and it grows with the position), and no GPU provider has float64 kernels, so onnxruntime
    // runs these two on the CPU everywhere: S × D/2 values per run, exact to fp32.
    const trig = (op: 'Cos' | 'Sin') =>
      this.op('Cast', [this.op(op, [this.op('Cast', [angles], { to: DataType.DOUBLE })])], { to: DataType.FLOAT });
    const cos = this.fromF32(this.op('Unsqueeze', [this.op('Mul', [trig('Cos'), scale]), this.i64([1])]));
    const sin = this.fromF32(this.op('Unsqueeze', [this.op('Mul', [trig('Sin'), scale]), this.i64([1])]));
    const half = this.i64([D / 2, D / 2]);
    return (x) => {
      const [x1, x2] = this.g.node('Split', [x, half], { axis: 2 }, 2);
      const r1 = this.op('Sub', [this.op('Mul', [x1, cos]), this.op('Mul', [x2, sin])]);
      const r2 = this.op('Add', [this.op('Mul', [x2, cos]), this.op('Mul', [x1, sin])]);
      return this.op('Concat', [r1, r2], { axis: 2 });
    };
  }
}
