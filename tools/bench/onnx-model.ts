/**
 * A minimal protobuf encoder for the few ONNX messages needed to build a single-node
 * MatMul model in memory (no onnx/protobuf dependency).
 *
 * Field numbers follow onnx.proto (IR version 8, default domain opset 13):
 *   ModelProto      ir_version=1 (int64), producer_name=2, graph=7, opset_import=8
 *   OperatorSetId   domain=1, version=2
 *   GraphProto      node=1, name=2, initializer=5, input=11, output=12
 *   NodeProto       input=1, output=2, name=3, op_type=4
 *   ValueInfoProto  name=1, type=2
 *   TypeProto       tensor_type=1 ; TypeProto.Tensor elem_type=1, shape=2
 *   TensorShapeProto dim=1 ; Dimension dim_value=1
 *   TensorProto     dims=1, data_type=2, name=8, raw_data=9
 */

const FLOAT = 1; // TensorProto.DataType.FLOAT

class Pb {
  private readonly parts: Uint8Array[] = [];
  private size = 0;

  private push(b: Uint8Array): void {
    this.parts.push(b);
    this.size += b.length;
  }

  private varintRaw(v: number): void {
    // non-negative integers up to 2^53
    const bytes: number[] = [];
    let x = v;
    while (x >= 0x80) {
      bytes.push((x % 0x80) | 0x80);
      x = Math.floor(x / 0x80);
    }
    bytes.push(x);
    this.push(Uint8Array.from(bytes));
  }

  private tag(field: number, wire: 0 | 2): void {
    this.varintRaw(field * 8 + wire);
  }

  varint(field: number, v: number): this {
    this.tag(field, 0);
    this.varintRaw(v);
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

function valueInfo(name: string, dims: readonly number[]): Pb {
  const shape = new Pb();
  for (const d of dims) shape.message(1, new Pb().varint(1, d));
  const tensorType = new Pb().varint(1, FLOAT).message(2, shape);
  return new Pb().string(1, name).message(2, new Pb().message(1, tensorType));
}

function tensorProto(name: string, dims: readonly number[], data: Float32Array): Pb {
  const t = new Pb();
  for (const d of dims) t.varint(1, d);
  t.varint(2, FLOAT).string(8, name);
  t.bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return t;
}

/**
 * ONNX model bytes for `Y = A @ B` with A [M,K], B [K,N] float32.
 * If `constantB` is given, B is a graph initializer (lets onnxruntime pre-pack it);
 * otherwise B is a second graph input fed on every run.
 */
export function matmulModel(M: number, K: number, N: number, constantB?: Float32Array): Uint8Array {
  const node = new Pb().string(1, "A").string(1, "B").string(2, "Y").string(3, "mm").string(4, "MatMul");
  const graph = new Pb().message(1, node).string(2, "spikelm_bench_matmul");
  if (constantB) graph.message(5, tensorProto("B", [K, N], constantB));
  graph.message(11, valueInfo("A", [M, K]));
  if (!constantB) graph.message(11, valueInfo("B", [K, N]));
  graph.message(12, valueInfo("Y", [M, N]));
  return new Pb()
    .varint(1, 8)
    .string(2, "spikelm-bench")
    .message(7, graph)
    .message(8, new Pb().string(1, "").varint(2, 13))
    .finish();
}
