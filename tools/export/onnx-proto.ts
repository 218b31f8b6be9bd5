/**
 * A small protobuf writer for the ONNX messages spikelm emits (no onnx/protobuf dependency).
 * Used by the ONNX exporter (tools/export/onnx.ts) and the benchmark's MatMul model
 * (tools/bench/onnx-model.ts).
 *
 * Field numbers follow onnx.proto:
 *   ModelProto       ir_version=1 (int64), producer_name=2, producer_version=3, doc_string=6,
 *                    graph=7, opset_import=8, metadata_props=14
 *   OperatorSetId    domain=1, version=2
 *   StringStringEntryProto key=1, value=2
 *   GraphProto       node=1, name=2, initializer=5, doc_string=10, input=11, output=12
 *   NodeProto        input=1, output=2, name=3, op_type=4, attribute=5, doc_string=6
 *   AttributeProto   name=1, f=2 (fixed32), i=3, s=4, t=5, floats=7, ints=8, type=20
 *   ValueInfoProto   name=1, type=2, doc_string=3
 *   TypeProto        tensor_type=1 ; TypeProto.Tensor elem_type=1, shape=2
 *   TensorShapeProto dim=1 ; Dimension dim_value=1, dim_param=2
 *   TensorProto      dims=1, data_type=2, name=8, raw_data=9 (little-endian)
 */

export const DT = { FLOAT: 1, INT32: 6, INT64: 7, BOOL: 9 } as const;
export type DataType = (typeof DT)[keyof typeof DT];

const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

export class Pb {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.size += b.length;
  }

  private varintRaw(v: number | bigint): void {
    // negative int64 values are written as their 64-bit two's complement (10 bytes)
    let x = BigInt.asUintN(64, BigInt(v));
    const bytes: number[] = [];
    while (x >= 0x80n) {
      bytes.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    bytes.push(Number(x));
    this.push(Uint8Array.from(bytes));
  }

  private tag(field: number, wire: 0 | 2 | 5): void {
    this.varintRaw(field * 8 + wire);
  }

  varint(field: number, v: number | bigint): this {
    this.tag(field, 0);
    this.varintRaw(v);
    return this;
  }

  float32(field: number, v: number): this {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.push(b);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.tag(field, 2);
    this.varintRaw(b.length);
    this.push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, m: Pb): this {
    return this.bytes(field, m.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

/** A graph input/output: name, element type and a static shape. */
export function valueInfo(name: string, dims: readonly number[], elem: DataType = DT.FLOAT, doc?: string): Pb {
  const shape = new Pb();
  for (const d of dims) shape.message(1, new Pb().varint(1, d));
  const tensorType = new Pb().varint(1, elem).message(2, shape);
  const v = new Pb().string(1, name).message(2, new Pb().message(1, tensorType));
  if (doc) v.string(3, doc);
  return v;
}

function rawBytes(data: Float32Array | Int32Array | BigInt64Array | Uint8Array): Uint8Array {
  // raw_data is little-endian; so is every platform Node runs on
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

export function tensorProto(name: string, dims: readonly number[], data: Float32Array | Int32Array | BigInt64Array, elem?: DataType): Pb {
  const t = new Pb();
  for (const d of dims) t.varint(1, d);
  const type = elem ?? (data instanceof Float32Array ? DT.FLOAT : data instanceof Int32Array ? DT.INT32 : DT.INT64);
  t.varint(2, type).string(8, name);
  t.bytes(9, rawBytes(data));
  return t;
}

export type AttrValue =
  | { readonly int: number }
  | { readonly float: number }
  | { readonly ints: readonly number[] }
  | { readonly str: string };

function attribute(name: string, v: AttrValue): Pb {
  const a = new Pb().string(1, name);
  if ("int" in v) a.varint(3, v.int).varint(20, ATTR.INT);
  else if ("float" in v) a.float32(2, v.float).varint(20, ATTR.FLOAT);
  else if ("ints" in v) {
    for (const i of v.ints) a.varint(8, i);
    a.varint(20, ATTR.INTS);
  } else a.bytes(4, new TextEncoder().encode(v.str)).varint(20, ATTR.STRING);
  return a;
}

export function nodeProto(op: string, inputs: readonly string[], outputs: readonly string[], name: string, attrs: Readonly<Record<string, AttrValue>> = {}, doc?: string): Pb {
  const n = new Pb();
  for (const i of inputs) n.string(1, i);
  for (const o of outputs) n.string(2, o);
  n.string(3, name).string(4, op);
  for (const [k, v] of Object.entries(attrs)) n.message(5, attribute(k, v));
  if (doc) n.string(6, doc);
  return n;
}

export interface ModelParts {
  readonly graphName: string;
  readonly nodes: readonly Pb[];
  readonly initializers: readonly Pb[];
  readonly inputs: readonly Pb[];
  readonly outputs: readonly Pb[];
  readonly opset: number;
  readonly producer: string;
  readonly producerVersion?: string;
  readonly doc?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export function modelProto(m: ModelParts): Uint8Array {
  const graph = new Pb();
  for (const n of m.nodes) graph.message(1, n);
  graph.string(2, m.graphName);
  for (const t of m.initializers) graph.message(5, t);
  if (m.doc) graph.string(10, m.doc);
  for (const i of m.inputs) graph.message(11, i);
  for (const o of m.outputs) graph.message(12, o);
  const model = new Pb().varint(1, 8).string(2, m.producer);
  if (m.producerVersion) model.string(3, m.producerVersion);
  model.message(7, graph).message(8, new Pb().string(1, "").varint(2, m.opset));
  for (const [k, v] of Object.entries(m.metadata ?? {})) model.message(14, new Pb().string(1, k).string(2, v));
  return model.finish();
}
