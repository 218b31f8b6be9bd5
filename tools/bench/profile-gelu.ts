/**
 * The native GELU on the bench block's own FFN inputs (the `mul, add, gelu` node's scale * acc +
 * bias, taken from a run of the layers group's block at k = 2):
 *   node --import tsx tools/bench/profile-gelu.ts [runs=7]
 * prints where the inputs lie against the exact kernel's erf intervals (|x| = 1.193, 1.768, 8.485:
 * |x| / sqrt 2 = 0.84375, 1.25, 6) and |x| = 4.9,
 * then, for the exact kernel (float_native.c gelu_exact_range) and the fast path with its
 * fallback (what the executor runs), the process CPU ms on one thread of each half of the
 * elements (the two-thread split) and of all, and the wall ms of all on one and two threads
 * (min of `runs`), and the share of lanes the fast path left to the exact kernel; then the same
 * CPU ms for softmax's exps on the block's attention scores (w = fround(x - row max)). On a busy
 * machine the two-thread wall times mostly measure the other jobs.
 */
import { benchBlock } from "./bench-block.js";
import { type FloatMapKind, nativeFloatFastStats, nativeFloatMap } from "../../interpreter/engine/kernels/native-float.js";
import { initSpikeKernels, shutdownKernelPool } from "../../interpreter/engine/kernels/spike-matmul.js";
import { OptimizedExecutor } from "../../interpreter/optimized/executor.js";
import type { FusedStep } from "../../interpreter/passes/fuse-elementwise.js";
import { ParamStore } from "../../interpreter/runtime/params.js";

const runs = Number(process.argv[2] ?? 7);
await initSpikeKernels({ threads: 2 });
const { graph, inputs } = benchBlock(768, 128, 2); // the layers group's block and input at k = 2
const ex = new OptimizedExecutor(graph, ParamStore.create(graph.params, new Map(), { seed: 1 }), { threads: 2, keepValues: true });
ex.run(inputs); // calibrates the amplitudes
ex.run(inputs);

// the FFN's fused mul(acc, scale), add(bias), gelu: GELU's input y = fround(fround(scale * acc) + bias)
const node = graph.nodes.find((n) => n.op === "fused" && (n.attrs.program as FusedStep[]).map((q) => q.op).join() === "mul,add,gelu");
if (!node) throw new Error("the block has no fused mul,add,gelu node");
const program = node.attrs.program as FusedStep[];
const vals = node.inputs.map((id) => ex.valueOf(id)?.data as Float32Array);
const ref = (a: FusedStep["args"][number] | undefined) => (a && "in" in a ? vals[a.in]! : undefined);
const [m0, m1] = [ref(program[0]!.args[0]), ref(program[0]!.args[1])];
const [acc, scale] = m0!.length > m1!.length ? [m0!, m1!] : [m1!, m0!];
const bias = ref(program[1]!.args.find((a) => "in" in a))!;
const n = acc.length;
const y = new Float32Array(n);
const perScale = n / scale.length;
for (let i = 0; i < n; i++) y[i] = Math.fround(Math.fround(scale[Math.floor(i / perScale)]! * acc[i]!) + bias[i % bias.length]!);

const edges = [-8.485, -4.9, -1.768, -1.193, 0, 1.193, 1.768, 4.9, 8.485];
const share = (lo: number, hi: number) => `${((y.filter((v) => v >= lo && v < hi).length / n) * 100).toFixed(1)}%`;
console.log(`GELU inputs: ${n}; ${[-Infinity, ...edges].map((lo, i) => `[${lo}, ${edges[i] ?? Infinity}) ${share(lo, edges[i] ?? Infinity)}`).join(", ")}`);

const out = new Float32Array(n);
const best = (f: () => void, measure: () => number) => {
  let b = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = measure();
    f();
    b = Math.min(b, measure() - t0);
  }
  return b.toFixed(2);
};
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const on = (kind: FloatMapKind, lo: number, hi: number, threads: number) => () => nativeFloatMap(kind, y.subarray(lo, hi), out.subarray(lo, hi), threads);
for (const kind of ["geluExact", "gelu"] as FloatMapKind[]) {
  const s0 = nativeFloatFastStats()!;
  const halves = `CPU ms on one thread: first half ${best(on(kind, 0, n / 2, 1), cpuMs)}, second half ${best(on(kind, n / 2, n, 1), cpuMs)}, all ${best(on(kind, 0, n, 1), cpuMs)}`;
  const walls = `wall ms: ${best(on(kind, 0, n, 1), () => performance.now())} on one thread, ${best(on(kind, 0, n, 2), () => performance.now())} on two`;
  const s1 = nativeFloatFastStats()!;
  const aside = kind === "gelu" ? `; set aside ${s1.gelu.setAside - s0.gelu.setAside} of ${s1.gelu.elements - s0.gelu.elements} lanes` : "";
  console.log(`${kind}: ${halves}; ${walls}${aside}`);
}

// softmax's exps on the block's attention scores: w = fround(x - max of its row), e = fround(exp(w))
const sm = graph.nodes.find((nd) => nd.op === "softmax");
const scoresT = sm ? ex.valueOf(sm.inputs[0]!) : undefined;
if (scoresT) {
  const scores = scoresT.data as Float32Array;
  const row = scoresT.shape[scoresT.shape.length - 1]!;
  const w = new Float32Array(scores.length);
  for (let r = 0; r < scores.length; r += row) {
    let m = -Infinity;
    for (let i = r; i < r + row; i++) m = Math.max(m, scores[i]!);
    for (let i = r; i < r + row; i++) w[i] = Math.fround(scores[i]! - m);
  }
  const e = new Float32Array(w.length);
  const s0 = nativeFloatFastStats()!;
  const times = (["expExact", "exp"] as FloatMapKind[]).map((kind) => `${kind} ${best(() => nativeFloatMap(kind, w, e, 1), cpuMs)}`);
  const s1 = nativeFloatFastStats()!;
  console.log(`softmax exps (${w.length}): CPU ms on one thread: ${times.join(", ")}; set aside ${s1.exp.setAside - s0.exp.setAside} of ${s1.exp.elements - s0.exp.elements} lanes`);
}
await shutdownKernelPool();
