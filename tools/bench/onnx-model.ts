/**
 * The benchmark's single-node MatMul model, built with the ONNX writer the exporter uses
 * (tools/export/onnx-proto.ts; no onnx/protobuf dependency).
 */
import { modelProto, nodeProto, tensorProto, valueInfo } from "../export/onnx-proto.js";

/**
 * ONNX model bytes for `Y = A @ B` with A [M,K], B [K,N] float32.
 * If `constantB` is given, B is a graph initializer (lets onnxruntime pre-pack it);
 * otherwise B is a second graph input fed on every run.
 */
export function matmulModel(M: number, K: number, N: number, constantB?: Float32Array): Uint8Array {
  return modelProto({
    graphName: "spikelm_bench_matmul",
    nodes: [nodeProto("MatMul", ["A", "B"], ["Y"], "mm")],
    initializers: constantB ? [tensorProto("B", [K, N], constantB)] : [],
    inputs: constantB ? [valueInfo("A", [M, K])] : [valueInfo("A", [M, K]), valueInfo("B", [K, N])],
    outputs: [valueInfo("Y", [M, N])],
    opset: 13,
    producer: "spikelm-bench",
  });
}
