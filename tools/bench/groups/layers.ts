/**
 * Benchmark group "layers": what a layer really does, float activations in and float out,
 * the neuron's cost included, at the firing rates the SpikeLM neuron actually gives
 * (k = 1, the model's own; k = 2, about half of it), on the optimized executor:
 *
 *  - `layer` rows: a spiking linear layer (neuron, spike-accumulate, bias) [T*L, K] -> [T*L, N]
 *    vs onnxruntime's dense float MatMul of the same [T*L, K] x [K, N] with constant weights
 *    (what the layer costs as a dense ANN layer over the same rows);
 *  - `block` rows: the BERT-base-sized encoder block (d 768, 12 heads, FFN 3072, T 4, 128
 *    tokens) vs onnxruntime running the same block, exported by tools/export/onnx.ts (T
 *    unrolled, same weights and calibrated amplitudes) as one dense ONNX graph, at 2 threads
 *    each and at 1 thread each; and the same executor (2 threads) with its float kernels
 *    (elementwise programs, GELU, softmax, LayerNorm) in JavaScript instead of WebAssembly
 *    (`vs: spikelm js float kernels`); and the same executor with the native kernels turned off
 *    (`vs: spikelm wasm kernels (native off)`: what the WebAssembly kernels alone give, as in
 *    a browser or without a C compiler);
 *  - `neuron step` rows: one neuron's whole step over T (the block's FFN-output neuron,
 *    SpikeLMReference, float membrane input in, int8 levels out) on the WebAssembly vector
 *    machine (1 and 2 threads) vs the generated JavaScript kernel, levels checked identical.
 *
 * Block rows also carry the process's CPU time per run (every thread: ours, the kernel
 * workers, onnxruntime's) and its ratio (`cpu_ratio`, JSON only), with the load average: on
 * a shared machine wall time mostly measures the other jobs. The 2-thread row also carries
 * the kernel pool per run (JSON only): the worker's ms running jobs and spinning idle, its
 * sleeps and jobs, and the caller's share of the spike-accumulate work items.
 *
 * Spikes are checked identical to the reference interpreter once per spec (recorded levels).
 * Timing: contenders run in interleaved rounds after warm-up, medians reported (ratio =
 * baseline / spikelm, both from the same process).
 */
import { loadavg } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import * as ort from "onnxruntime-node";
import { compileEntry } from "../../../interpreter/compile.js";
import { initSpikeKernels } from "../../../interpreter/engine/kernels/spike-matmul.js";
import { kernelPoolStats, phaseTimes } from "../../../interpreter/engine/kernels/wasm-backend.js";
import { setVecTuning } from "../../../interpreter/engine/kernels/wasm-vector.js";
import { nativeStatus, setNativeEnabled } from "../../../interpreter/engine/kernels/native-backend.js";
import { streamFor } from "../../../interpreter/engine/random.js";
import { type Tensor, f32 } from "../../../interpreter/engine/tensor.js";
import type { NeuronAttrs } from "../../../interpreter/ir/graph.js";
import { OptimizedExecutor } from "../../../interpreter/optimized/executor.js";
import { compileNeuron } from "../../../interpreter/optimized/neuron-codegen.js";
import { compileNeuronWasm } from "../../../interpreter/optimized/neuron-wasm.js";
import { optimize } from "../../../interpreter/passes/pass.js";
import { ReferenceInterpreter, type RunResult } from "../../../interpreter/reference/interpreter.js";
import { ParamStore } from "../../../interpreter/runtime/params.js";
import { exportOnnx } from "../../export/onnx.js";
import { matmulModel } from "../onnx-model.js";
import { benchBlock } from "../bench-block.js";
import { type BenchContext, type BenchRow, registerGroup } from "../registry.js";
import { median, timeMs } from "../stats.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const SPEC = path.join(ROOT, "tools/bench/specs/bench-layers.spk");

const ORT_OPTIONS = {
  intraOpNumThreads: 2,
  interOpNumThreads: 1,
  graphOptimizationLevel: "all",
  extra: { session: { intra_op: { allow_spinning: "0" } } },
} as ort.InferenceSession.SessionOptions;

function sameRecords(a: RunResult, b: RunResult): boolean {
  const eq = (x: ArrayLike<number>, y: ArrayLike<number>) => x.length === y.length && Array.from(x).every((v, i) => Object.is(v, y[i]));
  return eq(a.output.data, b.output.data) && [...a.record].every(([k, r]) => eq(r.levels.data, b.record.get(k)!.levels.data));
}

function firingRate(r: RunResult): number {
  let nz = 0;
  let total = 0;
  for (const rec of r.record.values()) {
    for (const v of rec.levels.data) if (v !== 0) nz++;
    total += rec.levels.data.length;
  }
  return total ? nz / total : 0;
}

interface Contender {
  readonly key: string;
  readonly run: () => unknown;
  readonly times: number[];
  /** CPU time of the whole process (every thread: ours, the kernel workers, onnxruntime's) per run. */
  readonly cpu?: number[];
}

async function rounds(ctx: BenchContext, label: string, cs: Contender[], n: number): Promise<void> {
  for (const c of cs) await c.run(); // warm-up
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < cs.length; i++) {
      const c = cs[(i + r) % cs.length]!;
      const cpu0 = process.cpuUsage();
      c.times.push(await timeMs(c.run));
      const cpu = process.cpuUsage(cpu0);
      c.cpu?.push((cpu.user + cpu.system) / 1000);
    }
    ctx.step(`${label} round ${r + 1}/${n}`);
  }
}

/**
 * The kernel pool over runs of `run` (2 threads: the caller and one worker): the worker's
 * time running jobs and spinning idle, its sleeps and jobs, and the caller's share of the
 * spike-accumulate work items. Where a 2-thread run loses its wall time shows here.
 */
function poolTracker(): { run: (f: () => unknown) => unknown; perRun: () => Record<string, number> } {
  const sum = { busy: 0, spin: 0, sleeps: 0, jobs: 0, items: 0, callerItems: 0, runs: 0 };
  return {
    run: (f) => {
      const w0 = kernelPoolStats()[0];
      const was = phaseTimes.enabled;
      const [i0, c0] = [phaseTimes.items, phaseTimes.callerItems];
      phaseTimes.enabled = true;
      try {
        return f();
      } finally {
        phaseTimes.enabled = was;
        const w1 = kernelPoolStats()[0];
        if (w0 && w1) {
          sum.busy += w1.busyMs - w0.busyMs;
          sum.spin += w1.spinMs - w0.spinMs;
          sum.sleeps += w1.sleeps - w0.sleeps;
          sum.jobs += w1.jobs - w0.jobs;
        }
        sum.items += phaseTimes.items - i0;
        sum.callerItems += phaseTimes.callerItems - c0;
        sum.runs++;
      }
    },
    perRun: () => {
      const n = Math.max(1, sum.runs);
      const r = (v: number) => Number((v / n).toFixed(2));
      return {
        worker_busy_ms: r(sum.busy),
        worker_spin_ms: r(sum.spin),
        worker_sleeps: r(sum.sleeps),
        worker_jobs: r(sum.jobs),
        caller_item_share: Number((sum.items ? sum.callerItems / sum.items : 1).toFixed(3)),
      };
    },
  };
}

async function layerRows(ctx: BenchContext, K: number, N: number, L: number, k: number, n: number): Promise<BenchRow[]> {
  const T = 4;
  const rng = streamFor(7, `bench-layer-${K}-${N}`);
  const x = f32([T, 1, L, K], Array.from({ length: T * L * K }, () => rng.normal()));
  const inputs = new Map<string, Tensor>([["x", x]]);
  const compiled = compileEntry({ file: SPEC, entry: "BenchLinear", args: { inp: K, out: N, k }, inputs });
  const { graph } = optimize(compiled.graph);
  const ex = new OptimizedExecutor(graph, ParamStore.create(graph.params, new Map(), { seed: 1 }));
  const ref = new ReferenceInterpreter(compiled.graph, ParamStore.create(compiled.graph.params, new Map(), { seed: 1 }));
  const r0 = ref.run(inputs, { record: true });
  const o0 = ex.run(inputs, { record: true });
  const identical = sameRecords(r0, o0);
  const W = new Float32Array(K * N).map((_, i) => Math.sin(i));
  const sess = await ort.InferenceSession.create(matmulModel(T * L, K, N, W), ORT_OPTIONS);
  const feeds = { A: new ort.Tensor("float32", new Float32Array(T * L * K).map((_, i) => Math.cos(i)), [T * L, K]) };
  const cs: Contender[] = [
    { key: "spike", run: () => ex.run(inputs), times: [] },
    { key: "ort", run: () => sess.run(feeds), times: [] },
  ];
  await rounds(ctx, `layer ${K}x${N} k=${k}`, cs, n);
  await sess.release();
  const s = median(cs[0]!.times);
  const b = median(cs[1]!.times);
  return [
    {
      name: `layer: float in, neuron + spike-accumulate + bias, float out (k=${k})`,
      shape: [T * L, K, N],
      rate: Number(firingRate(o0).toFixed(4)),
      vs: "ort-dense[const-B]",
      ratio: b / s,
      spike_ms: Number(s.toFixed(2)),
      base_ms: Number(b.toFixed(2)),
      identical_spikes: identical,
    },
  ];
}

async function blockRows(ctx: BenchContext, d: number, L: number, k: number, n: number): Promise<BenchRow[]> {
  const T = 4;
  const { graph, compiled, inputs } = benchBlock(d, L, k, T);
  const x = inputs.get("x")!;
  const params = ParamStore.create(graph.params, new Map(), { seed: 1 });
  const ex = new OptimizedExecutor(graph, params, { threads: 2 });
  const ex1 = new OptimizedExecutor(graph, ParamStore.create(graph.params, new Map(), { seed: 1 }), { threads: 1 });
  // the same executor with its float kernels in JavaScript (elementwise programs, GELU, softmax, LayerNorm)
  const exJs = new OptimizedExecutor(graph, ParamStore.create(graph.params, new Map(), { seed: 1 }), { numerics: "js", threads: 2 });
  // the same executor with the native kernels turned off: the WebAssembly kernels alone
  const exWasm = new OptimizedExecutor(graph, ParamStore.create(graph.params, new Map(), { seed: 1 }), { threads: 2 });
  const withoutNative = <T>(f: () => T): T => {
    setNativeEnabled(false);
    try {
      return f();
    } finally {
      setNativeEnabled(true);
    }
  };
  const o0 = ex.run(inputs, { record: true }); // calibrates the amplitudes in `params`
  const o1 = ex1.run(inputs, { record: true });
  const oW = withoutNative(() => exWasm.run(inputs, { record: true }));
  exJs.run(inputs);
  ctx.step(`block d${d} k=${k}: first calls`);
  const ref = new ReferenceInterpreter(compiled, ParamStore.create(compiled.params, new Map(), { seed: 1 }));
  const r0 = ref.run(inputs, { record: true });
  const identical = sameRecords(r0, o0);
  const identical1 = sameRecords(r0, o1);
  const identicalW = sameRecords(r0, oW);
  ctx.step(`block d${d} k=${k}: reference`);
  // the same block, weights and calibrated amplitudes as one dense ONNX graph
  const onnx = exportOnnx({ graph: compiled, params, name: "BenchBlock" });
  const sess = await ort.InferenceSession.create(onnx.bytes, ORT_OPTIONS);
  const sess1 = await ort.InferenceSession.create(onnx.bytes, { ...ORT_OPTIONS, intraOpNumThreads: 1 });
  const feeds = { [onnx.inputs[0]!.name]: new ort.Tensor("float32", x.data as Float32Array, onnx.inputs[0]!.shape) };
  const ortOut = (await sess.run(feeds))[onnx.outputs[0]!.name]!.data as Float32Array;
  let maxDiff = 0;
  const mine = o0.output.data;
  for (let i = 0; i < mine.length; i++) maxDiff = Math.max(maxDiff, Math.abs(mine[i]! - ortOut[i]!));
  const pool = poolTracker();
  const cs: Contender[] = [
    { key: "spike", run: () => pool.run(() => ex.run(inputs)), times: [], cpu: [] },
    { key: "ort", run: () => sess.run(feeds), times: [], cpu: [] },
    { key: "spike1", run: () => ex1.run(inputs), times: [], cpu: [] },
    { key: "ort1", run: () => sess1.run(feeds), times: [], cpu: [] },
    { key: "js", run: () => exJs.run(inputs), times: [], cpu: [] },
    { key: "wasm", run: () => withoutNative(() => exWasm.run(inputs)), times: [], cpu: [] },
  ];
  const load = loadavg()[0]!;
  await rounds(ctx, `block d${d} k=${k}`, cs, n);
  await sess.release();
  await sess1.release();
  const [s, b, s1, b1, j, w] = cs.map((c) => median(c.times)) as [number, number, number, number, number, number];
  const [sc, bc, s1c, b1c, jc, wc] = cs.map((c) => median(c.cpu!)) as [number, number, number, number, number, number];
  const name = (threads: number) => `block d${d} h12 ffn${4 * d} T4 L${L} (k=${k}) ${threads}t`;
  // the machine is shared: CPU time (all threads of the process) is the load-independent view of the work
  const common = { shape: null, rate: Number(firingRate(o0).toFixed(4)), load_average: Number(load.toFixed(2)), native: nativeStatus().reason };
  const ms = (v: number) => Number(v.toFixed(2));
  const cpu = (mine: number, base: number) => ({ spike_cpu_ms: ms(mine), base_cpu_ms: ms(base), cpu_ratio: Number((base / mine).toFixed(3)) });
  return [
    { name: name(2), ...common, vs: "ort-onnx-block 2t", ratio: b / s, spike_ms: ms(s), base_ms: ms(b), ...cpu(sc, bc), identical_spikes: identical, ort_max_abs_diff: Number(maxDiff.toExponential(2)), onnx_nodes: onnx.nodeCount, ...pool.perRun() },
    { name: name(1), ...common, vs: "ort-onnx-block 1t", ratio: b1 / s1, spike_ms: ms(s1), base_ms: ms(b1), ...cpu(s1c, b1c), identical_spikes: identical1 },
    { name: name(2), ...common, vs: "spikelm js float kernels", ratio: j / s, spike_ms: ms(s), base_ms: ms(j), ...cpu(sc, jc), identical_spikes: identical },
    { name: name(2), ...common, vs: "spikelm wasm kernels (native off)", ratio: w / s, spike_ms: ms(s), base_ms: ms(w), ...cpu(sc, wc), identical_spikes: identical && identicalW },
  ];
}

async function neuronRows(ctx: BenchContext, d: number, L: number, n: number): Promise<BenchRow[]> {
  const T = 4;
  const x = f32([T, 1, L, d], new Float32Array(T * L * d));
  const compiled = compileEntry({ file: SPEC, entry: "BenchBlock", args: { d, heads: 12, ffn: 4 * d, k: 1 }, inputs: new Map([["x", x]]) });
  const { graph } = optimize(compiled.graph);
  const node = graph.nodes.find((q) => q.op === "neuron" && (q.attrs as unknown as NeuronAttrs).path === "block.down.fire")!;
  const body = (node.attrs as unknown as NeuronAttrs).body;
  const N = (body.nodes.find((q) => q.op === "step_input")!.attrs.outShape as number[]).reduce((a, b) => a * b, 1);
  const want = { levels: true, levelsInt8: true, value: false, scale: true };
  const js = compileNeuron(body, N, want)!;
  const w1 = compileNeuronWasm(body, N, want, js, { backend: "wasm", threads: 1 })!;
  const w2 = compileNeuronWasm(body, N, want, js, { backend: "wasm", threads: 2 })!;
  // membrane inputs of about the block's spread; amplitudes so that about 0.37 of the levels fire
  const rng = streamFor(3, "bench-neuron-input");
  const input = Float32Array.from({ length: T * N }, () => rng.normal());
  const amp = new Float32Array([2.0, 2.0, 2.0, 2.0]);
  const io = (levels: Int8Array) => ({ inputs: [input], states: [new Float32Array(N), new Float32Array(N)], amplitudes: [amp], params: [], levels, scale: new Float32Array(T) });
  const lv = { js: new Int8Array(T * N), w1: new Int8Array(T * N), w2: new Int8Array(T * N) };
  const cs: Contender[] = [
    { key: "js", run: () => js.run(io(lv.js), N, 0, T), times: [] },
    { key: "w1", run: () => w1.run(io(lv.w1), N, 0, T), times: [] },
    // forced split over both threads (the default splits only much larger steps)
    {
      key: "w2",
      run: () => {
        setVecTuning({ threadMin: 0 });
        try {
          w2.run(io(lv.w2), N, 0, T);
        } finally {
          setVecTuning({});
        }
      },
      times: [],
    },
  ];
  await rounds(ctx, "neuron step", cs, n);
  const identical = lv.js.every((v, i) => v === lv.w1[i] && v === lv.w2[i]);
  let nz = 0;
  for (const v of lv.js) if (v !== 0) nz++;
  const [j, a, b] = cs.map((c) => median(c.times)) as [number, number, number];
  const row = (threads: number, ms: number): BenchRow => ({
    name: `neuron step SpikeLMReference n${N} T4, wasm simd ${threads}t`,
    shape: null,
    rate: Number((nz / (T * N)).toFixed(4)),
    vs: "js neuron kernel",
    ratio: j / ms,
    spike_ms: Number(ms.toFixed(2)),
    base_ms: Number(j.toFixed(2)),
    ns_per_element_step: Number(((ms * 1e6) / (T * N)).toFixed(2)),
    identical_spikes: identical,
  });
  return [row(1, a), row(2, b)];
}

registerGroup("layers", async (ctx) => {
  await initSpikeKernels({ threads: 2 });
  const quick = ctx.quick;
  const n = quick ? 3 : 7;
  const d = quick ? 192 : 768;
  const L = quick ? 32 : 128;
  ctx.addSteps(3 * n + 2 * (n + 2));
  const rows: BenchRow[] = [];
  rows.push(...(await neuronRows(ctx, d, L, n)));
  for (const k of [1, 2]) rows.push(...(await layerRows(ctx, d, 4 * d, L, k, n)));
  for (const k of [1, 2]) rows.push(...(await blockRows(ctx, d, L, k, n)));
  return rows;
});
