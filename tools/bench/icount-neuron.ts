/**
 * Instruction-count probe for one neuron step (the BERT-base block's FFN-output neuron,
 * n = 393216, T = 4): MODE=js|wasm|none REPS=n runs the kernel REPS+1 times. Under a shared,
 * noisy machine, compare counts instead of times, e.g.
 *   MODE=js REPS=31 valgrind --tool=callgrind node --import tsx tools/bench/icount-neuron.ts
 *   MODE=js REPS=1  valgrind --tool=callgrind node --import tsx tools/bench/icount-neuron.ts
 * (the difference / 30 = one run), and the same for MODE=wasm.
 */
import * as path from "node:path";
import { compileEntry } from "../../interpreter/compile.js";
import { initSpikeKernels, shutdownKernelPool } from "../../interpreter/engine/kernels/spike-matmul.js";
import { f32 } from "../../interpreter/engine/tensor.js";
import { optimize } from "../../interpreter/passes/pass.js";
import { compileNeuron } from "../../interpreter/optimized/neuron-codegen.js";
import { compileNeuronWasm } from "../../interpreter/optimized/neuron-wasm.js";
import type { NeuronAttrs } from "../../interpreter/ir/graph.js";
await initSpikeKernels({ threads: 1 });
const d = 768, L = 128, T = 4;
const x = f32([4, 1, L, d], new Float32Array(4 * L * d));
const c = compileEntry({ file: path.resolve(path.dirname(new URL(import.meta.url).pathname), "../../stdlib/layers.spk"), entry: "SpikeBlock", args: { d, heads: 12, ffn: 4 * d }, inputs: new Map([["x", x]]) });
const { graph } = optimize(c.graph);
const node = graph.nodes.find((n) => n.op === "neuron" && (n.attrs as any).path === (process.env.NEURON ?? "down.fire"))!;
const attrs = node.attrs as unknown as NeuronAttrs;
const N = (attrs.body.nodes.find((q) => q.op === "step_input")!.attrs.outShape as number[]).reduce((a, b) => a * b, 1);
const want = { levels: true, levelsInt8: true, value: false, scale: true };
const js = compileNeuron(attrs.body, N, want)!;
const w1 = compileNeuronWasm(attrs.body, N, want, js, { backend: "wasm", threads: 1 })!;
// real-ish membrane inputs: normal-ish values, amplitudes so that ~1/3 fire
const input = new Float32Array(T * N).map((_, i) => Math.fround(Math.sin(i * 0.37) * Math.cos(i * 0.011) * 2));
const io = { inputs: [input], states: [new Float32Array(N), new Float32Array(N)], amplitudes: [new Float32Array([2.4, 2.3, 2.5, 2.2])], params: [], levels: new Int8Array(T * N), value: undefined, scale: new Float32Array(T) };
const k = process.env.MODE === "js" ? js : process.env.MODE === "wasm" ? w1 : null;
const reps = Number(process.env.REPS ?? 10);
if (k) { k.run(io as any, N, 0, T); for (let r = 0; r < reps; r++) k.run(io as any, N, 0, T); }
let nz = 0; for (const v of io.levels) if (v) nz++;
console.log(process.env.MODE, "rate", (nz / io.levels.length).toFixed(3));
await shutdownKernelPool();
