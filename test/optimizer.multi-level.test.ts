/**
 * Neurons whose levels go beyond ±1 (multi-level, "elastic frequency" style:
 * `clamp(round(u / vth), -2, 2)`, and wider sets such as {0, 100, 200}) next to ternary
 * spikes. The spike-accumulate kernels know the levels -1, 0 and 1 only (event lists keep a
 * level's sign; the WebAssembly tiles are [+W | -W]), and an int8 store cannot hold 200, so
 * such levels must never become a spike_matmul's spike operand: their products stay plain
 * matmuls, and the optimized executor computes the reference's bits on every kernel path,
 * with fewer and more spike rows than the few-rows kernel takes (ROWS_KERNEL_MAX_ROWS), and
 * with NaN levels.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileEntry } from "../interpreter/compile.js";
import { initSpikeKernels, shutdownKernelPool } from "../interpreter/engine/kernels/spike-matmul.js";
import { ROWS_KERNEL_MAX_ROWS } from "../interpreter/engine/kernels/spike-rows.js";
import { type Tensor, f32 } from "../interpreter/engine/tensor.js";
import type { Graph, IRNode } from "../interpreter/ir/graph.js";
import { OptimizedExecutor } from "../interpreter/optimized/executor.js";
import { optimize } from "../interpreter/passes/pass.js";
import { ReferenceInterpreter, type RunResult } from "../interpreter/reference/interpreter.js";
import { ParamStore } from "../interpreter/runtime/params.js";
import { runDifference } from "../interpreter/verify/compare.js";
import { availablePaths } from "../interpreter/verify/paths.js";

const NEURONS = `
neuron Multi(vth = 0.5) {
  state u = 0
  step(x) {
    u = 0.5 * u + x
    let s = clamp(round(u / vth), -2, 2)
    u = u - s * vth
    emit s
  }
}

neuron Wide(vth = 0.5) {
  state u = 0
  step(x) {
    u = 0.5 * u + x
    let s = clamp(round(u / vth), 0, 2)
    u = u - s * vth
    emit s * 100
  }
}

neuron MultiElastic() {
  amplitude alpha[T] = mean(abs(u)) + 0.01
  state u = 0
  step(x) {
    u = 0.5 * u + x
    let s = clamp(round(u / alpha[t]), -2, 2)
    u = u - s * alpha[t]
    emit s * alpha[t]
  }
}

neuron Tern(vth = 0.5) {
  state u = 0
  step(x) {
    u = 0.75 * u + x
    let s = clamp(round(u / vth), -1, 1)
    u = u - s * vth
    emit s
  }
}
`;

/**
 * Every product of a multi-level spike: with a ternary spike on the other side (scores
 * M @ Sᵀ, M @ S, and the reverse S @ Mᵀ, where M sits in a weight's slot at one time step
 * and one batch), in front of linear layers (as declared and transposed), and the elastic
 * multi-level neuron in front of a linear layer.
 */
const LAYER = `${NEURONS}
layer Probe(d, out) {
  m = Multi()
  w = Wide()
  e = MultiElastic()
  f1 = Tern()
  f2 = Tern(vth = 0.75)
  f3 = Tern(vth = 0.3)
  g = Tern(vth = 0.25)
  weight W: [out, d]
  weight V: [d, out]
  forward(x: [T, B, L, d]) -> [T, B, L, out] {
    let M = m(x)
    let scores = M @ transpose(f1(x)) + w(x) @ transpose(f2(x)) + f3(x) @ transpose(M)
    let mixed = M @ g(transpose(x))
    let lin = M @ transpose(W) + w(x) @ V + e(x) @ V
    return scores @ lin + mixed @ (M @ V)
  }
}
`;

/**
 * A ternary spike times a float activation that has no batch axes left at one time step and
 * one batch: the activation sits where a linear layer's weight sits (the rows kernel's and
 * the tile kernels' weight slot), but changes from call to call.
 */
const ACTIVATION = `${NEURONS}
layer SpikeTimesActivation(d, out) {
  f = Tern()
  forward(x: [T, B, L, d]) -> [T, B, L, L] {
    return f(x) @ transpose(x * 2.0) + f(x) @ (transpose(x) * 0.5)
  }
}
`;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-multilevel-"));
const probeFile = path.join(dir, "probe.spk");
fs.writeFileSync(probeFile, LAYER);
const activationFile = path.join(dir, "activation.spk");
fs.writeFileSync(activationFile, ACTIVATION);

function compileIn(file: string, entry: string, x: Tensor, d: number, out: number): Graph {
  return compileEntry({ file, entry, args: { d, out }, inputs: new Map([["x", x]]) }).graph;
}

/** Deterministic inputs that reach every level of every neuron (|x| up to ~2.5), and NaN where asked. */
function input(shape: number[], nanAt: number[] = []): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  let s = 12345 + n;
  const data = Float32Array.from({ length: n }, () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), (s / 2 ** 32) * 5 - 2.5));
  for (const i of nanAt) data[i] = Number.NaN;
  return f32(shape, data);
}

const params = (g: Graph) => ParamStore.create(g.params, new Map(), { seed: 3 });

function copy(r: RunResult): RunResult {
  return { ...r, output: { ...r.output, data: r.output.data.slice() } as Tensor };
}

/**
 * Reference vs the optimized executor on every kernel path, both modes, three calls on one
 * executor: the first calibrates the amplitudes, the later ones take other inputs (a kernel
 * that kept something of an earlier call's operands would show).
 */
function checkAllPaths(x: Tensor, d: number, out: number, file = probeFile, entry = "Probe"): void {
  const graph = compileIn(file, entry, x, d, out);
  const { graph: optimized } = optimize(graph);
  const calls = [x, other(x, 1), other(x, 2)].map((v) => new Map([["x", v]]));
  const ref = new ReferenceInterpreter(graph, params(graph));
  const expected = calls.map((inputs) => ref.run(inputs, { mode: "multi", record: true }));
  if (entry === "Probe") {
    // the inputs reach levels beyond ±1 (else the test would prove nothing)
    expect([...new Set(expected[0]!.record.get("m")!.levels.data)].some((v) => Math.abs(v) === 2)).toBe(true);
    expect(new Set(expected[0]!.record.get("w")!.levels.data).has(200)).toBe(true);
  }
  // WebAssembly with a worker (beforeAll checks both), native where the addon loads
  for (const k of availablePaths({ wasm: true, threads: 2 }))
    for (const mode of ["multi", "step"] as const) {
      const opt = new OptimizedExecutor(optimized, params(optimized), k);
      calls.forEach((inputs, call) => {
        const got = copy(opt.run(inputs, { mode, record: true }));
        expect(runDifference(expected[call]!, got), `${k.name}, ${mode}, call ${call}, x [${x.shape.join(", ")}]`).toBeUndefined();
      });
    }
}

/** The same shape and NaNs as `x`, other values. */
function other(x: Tensor, k: number): Tensor {
  return f32(x.shape, Float32Array.from(x.data, (v, i) => (v !== v ? v : Math.fround(Math.sin(i * (k + 1) + k) * 2.5))));
}

beforeAll(async () => {
  const { wasm, threads } = await initSpikeKernels({ threads: 2 });
  expect(wasm).toBe(true);
  expect(threads).toBe(2);
});
afterAll(() => shutdownKernelPool());

describe("multi-level spikes on the optimized path", () => {
  it("the spike-accumulate pass makes spike_matmuls and int8 levels of ternary level sets only", () => {
    const graph = compileIn(probeFile, "Probe", input([1, 1, 4, 3]), 3, 2);
    const { graph: optimized } = optimize(graph);
    const byId = new Map(optimized.nodes.map((n) => [n.id, n]));
    const isTernary = (n: IRNode) => n.type.values.kind === "levels" && n.type.values.levels.every((v) => v >= -1 && v <= 1);
    const int8 = optimized.nodes.filter((n) => n.attrs.int8);
    expect(int8.length).toBeGreaterThanOrEqual(4);
    // the ternary spikes still take the fast kernels, as int8 levels: the test would pass vacuously otherwise
    const products = optimized.nodes.filter((n) => n.op === "spike_matmul");
    expect(products.length).toBe(4);
    for (const n of products) expect(byId.get(n.inputs[n.attrs.side === "left" ? 0 : 1]!)!.attrs.int8, `%${n.id}'s spike operand is int8`).toBe(true);
    for (const n of int8) expect(isTernary(n), `int8 node %${n.id} (${n.op}) holds ${JSON.stringify(n.type.values)}`).toBe(true);
    for (const n of optimized.nodes.filter((q) => q.op === "spike_matmul")) {
      const spike = byId.get(n.inputs[n.attrs.side === "left" ? 0 : 1]!)!;
      expect(isTernary(spike), `spike_matmul %${n.id}'s spike operand %${spike.id} holds ${JSON.stringify(spike.type.values)}`).toBe(true);
    }
  });

  it("one time step, one batch, fewer rows than the few-rows kernel takes", () => {
    checkAllPaths(input([1, 1, 5, 3]), 3, 2);
  });

  it("one time step, one batch, more rows than the few-rows kernel takes", () => {
    const L = ROWS_KERNEL_MAX_ROWS + 6;
    checkAllPaths(input([1, 1, L, 4]), 4, 3);
  });

  it("several time steps and batches, wider than a kernel tile", () => {
    checkAllPaths(input([2, 2, 6, 26]), 26, 25);
  });

  it("NaN levels of the multi-level and ternary neurons", () => {
    checkAllPaths(input([1, 1, 6, 3], [4, 10]), 3, 2);
    checkAllPaths(input([2, 1, 5, 3], [0, 17]), 3, 2);
  });
});

describe("a float activation in a spike product's weight slot", () => {
  it("is read afresh on every call, with fewer and more rows than the few-rows kernel takes", () => {
    const graph = compileIn(activationFile, "SpikeTimesActivation", input([1, 1, 4, 30]), 30, 1);
    const { graph: optimized } = optimize(graph);
    // both products run on the spike kernels with the activation as their float operand
    expect(optimized.nodes.filter((n) => n.op === "spike_matmul" && n.attrs.side === "left").map((n) => n.attrs.form).sort()).toEqual(["nn", "nt"]);
    checkAllPaths(input([1, 1, 4, 30]), 30, 1, activationFile, "SpikeTimesActivation");
    checkAllPaths(input([1, 1, ROWS_KERNEL_MAX_ROWS + 16, 30]), 30, 1, activationFile, "SpikeTimesActivation");
  });
});
