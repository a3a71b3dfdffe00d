// A small typed layer over onnx-proto: nodes, constants and external-data initializers, serialized to a ModelProto.
import onnxProto from 'onnx-proto';
import { f32ToF16Into } from '../model/convert.ts';
import type { ExternalRef } from '../model/prepare.ts';

const { onnx } = onnxProto;
type INodeProto = onnxProto.onnx.INodeProto;
type ITensorProto = onnxProto.onnx.ITensorProto;
type IValueInfoProto = onnxProto.onnx.IValueInfoProto;
type IAttributeProto = onnxProto.onnx.IAttributeProto;
type IGraphProto = onnxProto.onnx.IGraphProto;

export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
} as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

export type Attr = number | number[] | string | { float: number } | { floats: number[] } | { graph: IGraphProto };
export type Dim = number | string;

export class GraphBuilder {
  private nodes: INodeProto[] = [];
  private readonly initializers: ITensorProto[] = [];
  private readonly inputs: IValueInfoProto[] = [];
  private readonly outputs: IValueInfoProto[] = [];
  /** Shapes declared for intermediate values (see `shape`), per graph: a subgraph keeps its own. */
  private valueInfos: IValueInfoProto[] = [];
  private counter = 0;
  private readonly constCache = new Map<string, string>();
  private readonly externals = new Set<string>();

  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  input(name: string, type: DataTypeCode, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(name: string, type: DataTypeCode, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, type, dims));
  }

  /**
   * Declares an intermediate value's type and shape, with symbolic dims named as the graph's inputs and outputs name
   * theirs ('S', 'P', 'T'). onnxruntime cannot infer a dim that Reshape's -1, a Concat or a Slice computes from a
   * symbolic one, and its allocation planner never reuses a buffer whose shape has an unknown dim: such buffers pile
   * up on its free list, which it searches for every new output, so opening the 0.5B compressed graph spent 0.7 s
   * there. Declared, they match and are reused, and the planning is linear again. Returns the value.
   */
  shape(value: string, type: DataTypeCode, dims: Dim[]): string {
    this.valueInfos.push(valueInfo(value, type, dims));
    return value;
  }

  /** Leads the names of the nodes added while it is set (a profile tells a branch's nodes by it). */
  nodePrefix = '';

  /** Adds one node; returns its output names. */
  node(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, nOutputs = 1, domain = '', names?: string[]): string[] {
    const outs = names ?? Array.from({ length: nOutputs }, () => this.fresh(opType));
    this.nodes.push({
      opType,
      domain,
      input: inputs,
      output: outs,
      name: this.fresh(`${this.nodePrefix}n_${opType}`),
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outs;
  }

  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}, domain = ''): string {
    return this.node(opType, inputs, attrs, 1, domain)[0];
  }

  /**
   * The nodes `body` adds form a subgraph (an If branch, a Loop body) whose outputs are the values it returns,
   * typed as given; it sees every value of the enclosing graph, and its constants live there. `inputs` are its own
   * inputs (a Loop body's iteration number, condition and carried values), passed to `body` by name.
   */
  subgraph(
    name: string,
    types: DataTypeCode[],
    body: (...inputs: string[]) => string[],
    inputs: { type: DataTypeCode; dims?: Dim[] }[] = [],
  ): IGraphProto {
    const outer = this.nodes;
    const outerInfos = this.valueInfos;
    this.nodes = [];
    this.valueInfos = [];
    try {
      const formal = inputs.map((x) => valueInfo(this.fresh(`${name}_in`), x.type, x.dims));
      const values = body(...formal.map((x) => x.name!));
      const made = new Set(this.nodes.flatMap((nd) => nd.output ?? []));
      // A branch output must be produced inside the branch, so only outer values pass through an Identity.
      const output = values.map((v, i) => ({
        name: made.has(v) ? v : this.op('Identity', [v]),
        type: { tensorType: { elemType: types[i] } },
      }));
      return { name, node: this.nodes, input: formal, output, valueInfo: this.valueInfos };
    } finally {
      this.nodes = outer;
      this.valueInfos = outerInfos;
    }
  }

  /** Renames a value into a graph output via Identity. */
  alias(value: string, name: string): void {
    this.node('Identity', [value], {}, 1, '', [name]);
  }

  constInt64(values: number[], dims: number[] = [values.length]): string {
    const key = `i64:${dims}:${values}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.fresh('c_i64');
    this.initializers.push({ name, dataType: DataType.INT64, dims, int64Data: values });
    this.constCache.set(key, name);
    return name;
  }

  constUint8(values: number[], dims: number[] = []): string {
    const key = `u8:${dims}:${values}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.fresh('c_u8');
    this.initializers.push({ name, dataType: DataType.UINT8, dims, rawData: Uint8Array.from(values) });
    this.constCache.set(key, name);
    return name;
  }

  /** A large int32 constant (not deduplicated), stored as raw little-endian bytes. */
  constInt32(values: Int32Array, dims: number[]): string {
    const name = this.fresh('c_i32');
    const raw = new Uint8Array(values.byteLength);
    raw.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    this.initializers.push({ name, dataType: DataType.INT32, dims, rawData: raw });
    return name;
  }

  constDouble(values: number[], dims: number[]): string {
    const name = this.fresh('c_f64');
    this.initializers.push({ name, dataType: DataType.DOUBLE, dims, rawData: new Uint8Array(Float64Array.from(values).buffer) });
    return name;
  }

  constFloat(values: ArrayLike<number>, dims: number[], type: DataTypeCode = DataType.FLOAT): string {
    const key = `f${type}:${dims}:${Array.from(values).join(',')}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.fresh('c_f');
    const f32 = new Float32Array(Array.from(values));
    let raw = new Uint8Array(f32.buffer);
    if (type === DataType.FLOAT16) {
      const half = new Uint16Array(f32.length);
      f32ToF16Into(f32, half);
      raw = new Uint8Array(half.buffer);
    }
    this.initializers.push({ name, dataType: type, dims, rawData: raw });
    this.constCache.set(key, name);
    return name;
  }

  /** An initializer whose bytes live in an external file, referenced by offset. */
  external(name: string, type: DataTypeCode, dims: number[], ref: ExternalRef): string {
    if (this.externals.has(name)) return name;
    this.externals.add(name);
    this.initializers.push({
      name,
      dataType: type,
      dims,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: ref.location },
        { key: 'offset', value: String(ref.offset) },
        { key: 'length', value: String(ref.length) },
      ],
    });
    return name;
  }

  toBytes(graphName: string): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 10,
      producerName: 'kvzip-code',
      opsetImport: [
        { domain: '', version: 21 },
        { domain: 'com.microsoft', version: 1 },
      ],
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
        valueInfo: this.valueInfos,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

/** A value's type; without `dims`, its rank is left unknown. */
function valueInfo(name: string, elemType: DataTypeCode, dims?: Dim[]): IValueInfoProto {
  const shape = dims && { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) };
  return { name, type: { tensorType: { elemType, ...(shape ? { shape } : {}) } } };
}

function attribute(name: string, v: Attr): IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  if ('graph' in v) return { name, type: T.GRAPH, g: v.graph };
  return { name, type: T.FLOATS, floats: v.floats };
}
