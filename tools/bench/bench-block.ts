/**
 * The bench's BERT-base-sized SpikeLM encoder block (`specs/bench-layers.spk` BenchBlock: 12
 * heads, FFN 4d, the reference neuron at elastic frequency k) on the input every block row and
 * profiling tool uses (seeded normals, stream "bench-block-input"), compiled and optimized once.
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { compileEntry } from "../../interpreter/compile.js";
import { streamFor } from "../../interpreter/engine/random.js";
import { type Tensor, f32 } from "../../interpreter/engine/tensor.js";
import type { Graph } from "../../interpreter/ir/graph.js";
import { optimize } from "../../interpreter/passes/pass.js";

export const BENCH_SPEC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "specs/bench-layers.spk");

export interface BenchBlock {
  /** The block's input `x` [T, 1, L, d]. */
  readonly inputs: Map<string, Tensor>;
  /** The graph as compiled (the reference interpreter's) and after the optimizer's passes. */
  readonly compiled: Graph;
  readonly graph: Graph;
}

export function benchBlock(d: number, L: number, k: number, T = 4): BenchBlock {
  const rng = streamFor(1, "bench-block-input");
  const x = f32([T, 1, L, d], Array.from({ length: T * L * d }, () => rng.normal()));
  const inputs = new Map<string, Tensor>([["x", x]]);
  const compiled = compileEntry({ file: BENCH_SPEC, entry: "BenchBlock", args: { d, heads: 12, ffn: 4 * d, k }, inputs }).graph;
  return { inputs, compiled, graph: optimize(compiled).graph };
}
