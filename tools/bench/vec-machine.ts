/**
 * The vector machines on the BERT-base block's own programs, outside the executor (no
 * allocation, no other node's cache traffic):
 *   node --import tsx tools/bench/vec-machine.ts [reps=40]
 * times (median and fastest of `reps`, ms per call, and ns per element-step)
 *  - the FFN-output neuron step of tools/bench/specs/bench-layers.spk (SpikeLMReference,
 *    k = 2; n = 393216, T = 4) compiled by neuron-wasm.ts, run through its kernel (per-step
 *    scalars in JavaScript, then the program) on the native and the WebAssembly machine;
 *  - a fused epilogue program (scale * accumulate + bias, as fused-wasm.ts compiles it) over
 *    a [4, 128, 768] output, native;
 * on 1 and 2 threads. Inputs are reused and states reset before every call, so the figures
 * are the machine's, not the page faults of fresh outputs.
 */
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { compileEntry } from "../../interpreter/compile.js";
import { initSpikeKernels, shutdownKernelPool } from "../../interpreter/engine/kernels/spike-matmul.js";
import { runVecProgram, type VecProgram } from "../../interpreter/engine/kernels/wasm-vector.js";
import { f32 } from "../../interpreter/engine/tensor.js";
import type { NeuronAttrs } from "../../interpreter/ir/graph.js";
import { compileNeuron, type NeuronKernelIO } from "../../interpreter/optimized/neuron-codegen.js";
import { compileNeuronWasm } from "../../interpreter/optimized/neuron-wasm.js";
import { optimize } from "../../interpreter/passes/pass.js";

const reps = Number(process.argv[2] ?? 40);
await initSpikeKernels({ threads: 2 });
const d = 768, L = 128, T = 4;
const spec = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "specs/bench-layers.spk");
const x = f32([T, 1, L, d], new Float32Array(T * L * d));
const { graph } = optimize(compileEntry({ file: spec, entry: "BenchBlock", args: { d, heads: 12, ffn: 4 * d, k: 2 }, inputs: new Map([["x", x]]) }).graph);
const numel = (a: NeuronAttrs) => (a.body.nodes.find((q) => q.op === "step_input")!.attrs.outShape as number[]).reduce((p, q) => p * q, 1);
// the widest neuron: the FFN's, over [4, 128, 3072]
const attrs = graph.nodes.filter((q) => q.op === "neuron").map((q) => q.attrs as unknown as NeuronAttrs).sort((p, q) => numel(q) - numel(p))[0]!;
const N = numel(attrs);
const want = { levels: true, levelsInt8: true, value: false, scale: true };
const js = compileNeuron(attrs.body, N, want)!;

function median(f: () => void, before: () => void): { med: number; min: number } {
  const ts: number[] = [];
  for (let r = 0; r < reps + 2; r++) {
    before();
    const t0 = performance.now();
    f();
    if (r >= 2) ts.push(performance.now() - t0);
  }
  ts.sort((p, q) => p - q);
  return { med: ts[ts.length >> 1]!, min: ts[0]! };
}
const row = (label: string, steps: number, r: { med: number; min: number }) =>
  `${label.padEnd(44)} ${r.med.toFixed(3).padStart(7)} ms median ${r.min.toFixed(3).padStart(7)} ms fastest ${((r.med * 1e6) / steps).toFixed(3).padStart(6)} ns/element-step`;
const out: string[] = [`${reps} calls each; ${N} x ${T} element-steps for the neuron`];

// membrane inputs of about the block's scale; amplitudes so that levels span the range
const input = Float32Array.from({ length: T * N }, (_, i) => Math.fround(Math.sin(i * 0.37) * Math.cos(i * 0.011) * 2));
const states0 = [Float32Array.from({ length: N }, (_, i) => Math.fround(Math.cos(i) * 0.5)), new Float32Array(N).fill(0.5)];
for (const [backend, threads] of [["auto", 1], ["auto", 2], ["wasm", 1], ["wasm", 2]] as const) {
  const k = compileNeuronWasm(attrs.body, N, want, js, { backend, threads })!;
  const io = {
    inputs: [input],
    states: states0.map((s) => s.slice()),
    amplitudes: js.amplitudes.map(() => new Float32Array([2.4, 2.3, 2.5, 2.2])),
    params: js.params.map(() => new Float32Array(N).fill(1)),
    levels: new Int8Array(T * N),
    value: undefined,
    scale: new Float32Array(T),
  };
  const r = median(() => k.run(io as unknown as NeuronKernelIO, N, 0, T), () => io.states.forEach((s, j) => s.set(states0[j]!)));
  out.push(row(`FFN neuron, ${backend === "auto" ? "native" : "wasm"} machine, ${threads} thread(s)`, N * T, r));
}

// a fused epilogue: value = scale[t] * acc + bias
const n = L * d;
const epilogue: VecProgram = {
  instrs: [
    { op: "splat", d: { kind: "reg", index: 0 }, a: { kind: "scalar", index: 0 } },
    { op: "mul", d: { kind: "reg", index: 1 }, a: { kind: "reg", index: 0 }, b: { kind: "input", index: 0 } },
    { op: "add", d: { kind: "reg", index: 2 }, a: { kind: "reg", index: 1 }, b: { kind: "param", index: 0 } },
    { op: "copy", d: { kind: "value" }, a: { kind: "reg", index: 2 } },
  ],
  regs: 3,
  scalars: 1,
};
const acc = Float32Array.from({ length: T * n }, (_, i) => Math.sin(i));
const bias = Float32Array.from({ length: n }, (_, i) => Math.cos(i));
const value = new Float32Array(T * n);
for (const threads of [1, 2]) {
  const io = { inputs: [acc], states: [], params: [bias], table: new Float32Array([0.5, 0.25, 2, 1]), value };
  out.push(row(`fused scale*acc+bias [4x128x768], native, ${threads} thread(s)`, n * T, median(() => runVecProgram(epilogue, io, n, 0, T, threads, "native"), () => {})));
}
process.stdout.write(out.join("\n") + "\n");
await shutdownKernelPool();
