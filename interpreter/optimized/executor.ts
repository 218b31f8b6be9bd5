/**
 * The optimized executor: runs an optimized IR graph (interpreter/passes) with planned
 * buffers, compiled neuron-step and elementwise kernels, and spike-accumulate kernels.
 * It computes exactly what the reference interpreter computes, bit for bit, in both modes;
 * the property tests hold it to that.
 *
 * Anything without a fast kernel runs the op table's reference forward and copies the
 * result into the planned buffer, so every graph runs, fast paths or not.
 */
import { broadcastOffsets, broadcastOffsetsInto } from "../engine/ops/broadcast.js";
import { type Tensor, f32, i32, numel } from "../engine/tensor.js";
import { gatherInto, layernormInto, meanTimeInto, overTimeInto, softmaxInto } from "../engine/fast/rows.js";
import { matmulInto } from "../engine/fast/matmul.js";
import { matmulNtInto } from "../engine/fast/matmul-nt.js";
import { permuteInto, stridedCopy } from "../engine/fast/permute.js";
import { defaultThreads } from "../engine/kernels/wasm-backend.js";
import { type SpikeBackend, type SpikeKernelOptions, type SpikeVariant, declareFiniteWeights, denseTimesSpike, denseTimesSpikeT, knownFinite, spikeMatmul, spikeMatmulAffine, releasePackedWeights } from "../engine/kernels/spike-matmul.js";
import { wasmGeluInto, wasmLayernormInto, wasmNumericsReady, wasmSoftmaxInto } from "../engine/kernels/wasm-numerics.js";
import { nativeFloatReady, nativeGeluAffineInto, nativeGeluInto, nativeLayernormInto, nativeSoftmaxInto, nativeSoftmaxPrologueInto } from "../engine/kernels/native-float.js";
import { alignedArray } from "../engine/kernels/native-backend.js";
import { levelsToF32, storeLevels } from "../engine/levels.js";
import { UserError } from "../io/errors.js";
import type { Graph, IRNode, NeuronAttrs, StepGraph } from "../ir/graph.js";
import { F32_LOWEST, opDef } from "../ir/ops.js";
import { timeStages } from "../ir/stages.js";
import type { FusedStep } from "../passes/fuse-elementwise.js";
import { type Mode, type NeuronRecord, type RunResult, type TraceFn, collectTaps } from "../reference/interpreter.js";
import { canonicalLevels, runStep, stepEvaluator } from "../reference/step.js";
import type { ParamStore } from "../runtime/params.js";
import { PlannedCache, type PlannedSequence } from "../runtime/planned-cache.js";
import { ROWS_KERNEL_MAX_ROWS, releaseRowsWeights, spikeRowsMatmul } from "../engine/kernels/spike-rows.js";
import { rowTimesLevels, rowTimesLevelsT, rowsTimesCache, rowsTimesLevelsWasm } from "./decode-attention.js";
import { compileFused, type FusedKernel, type InputIndex } from "./fused-codegen.js";
import { classifyFusedOperands, compileFusedWasm, type FusedWasm, fusedWasmWorthIt, runFusedWasm } from "./fused-wasm.js";
import { type Calibration, compileCalibration } from "./calibration-codegen.js";
import { matchAffineGelu } from "./native-affine-gelu.js";
import { compileNeuron, type NeuronKernel, reachableInStep } from "./neuron-codegen.js";
import { compileNeuronWasm, type NeuronBackend, wasmNeuronStats } from "./neuron-wasm.js";
import { type Plan, type PlannedNode, type Storage, planBuffers } from "./plan.js";
import { readThroughTransposes } from "./read-through-transposes.js";
import { findSoftmaxPrologues, type SoftmaxPrologueMatch } from "./softmax-prologue.js";
import { findSpikeEpilogues, type SpikeEpilogue } from "./spike-epilogue.js";

interface View {
  readonly data: Storage;
  readonly shape: readonly number[];
}

interface NeuronSlots {
  readonly n: number;
  readonly inputs: number[];
  readonly states: Float32Array[];
  readonly levels?: Int8Array | Float32Array;
  readonly value?: Float32Array;
  readonly scale?: Float32Array;
  kernel?: NeuronKernel | null;
  /** Compiled amplitude initialisers by amplitude node id (null: the reference calibrates it). */
  calibrations?: Map<number, Calibration | null>;
}

export interface ExecutorOptions {
  /** Keep every node's value after a run (no buffer reuse), readable with `valueOf`. */
  readonly keepValues?: boolean;
  /** Threads for the spike-accumulate kernels (including the caller). */
  readonly threads?: number;
  /**
   * Spike-accumulate backend and variant (default "auto": the kernels' cost model). Every
   * choice computes the same bits; tests force each one ("wasm" needs initSpikeKernels()).
   */
  readonly backend?: SpikeBackend;
  readonly variant?: SpikeVariant;
  /**
   * Neuron-step kernels: "js" (generated JavaScript), "wasm" (the WebAssembly SIMD vector
   * machine, rows over `threads`; needs initSpikeKernels()) or "auto" (default: WebAssembly
   * when it is ready and the step is not tiny). Bodies the vector machine cannot run use the
   * JS kernel on every setting. All compute the same bits.
   */
  readonly neurons?: NeuronBackend;
  /**
   * GELU, softmax and LayerNorm: "auto" (default) on the native kernels
   * (engine/kernels/native-float.ts) or the WebAssembly ones (engine/kernels/wasm-numerics.ts)
   * when they are ready, "js" always in JavaScript. Same bits either way.
   */
  readonly numerics?: "js" | "auto";
  /**
   * An incremental decoding graph (passes/incremental.ts): `positions` new positions per
   * run; the nodes of `keyAxes` are planned for `capacity` positions in all and run at the
   * current count. Runs then take `RunOptions.sequence`.
   */
  readonly decode?: { readonly keyAxes: ReadonlyMap<number, number>; readonly positions: number; readonly capacity: number };
}

/** Options of one run. */
export interface ExecutorRunOptions {
  readonly mode?: Mode;
  readonly record?: boolean;
  readonly trace?: TraceFn;
  /** Incremental decoding: the key/value caches (updated) and the positions they hold. */
  readonly sequence?: PlannedSequence;
}

/**
 * What executors did since the process started (diagnostics: `spikelm classify --timings`,
 * tests): elements of weight-only values computed (a transposed weight, a mask), and neuron
 * steps run on the reference step (a body no kernel compiles), and output programs run in
 * their product's store (spike-epilogue.ts).
 */
export const executorStats = { weightOnlyElements: 0, referenceNeuronSteps: 0, compiledCalibrations: 0, referenceCalibrations: 0, spikeEpilogues: 0 };

export class OptimizedExecutor {
  readonly plan: Plan;
  private readonly slots = new Map<number, Storage>();
  private readonly neurons = new Map<number, NeuronSlots>();
  /** Per fused node and mode: operand indexing, broadcast tables, and the compiled kernels (without, with a GELU tail taken off). */
  private readonly fusedTables = new Map<string, { index: InputIndex[]; tables: (Int32Array | undefined)[]; keys: number; kernels: (FusedKernel | undefined)[] }>();
  private staticsReady = false;
  /** Elementwise programs compiled for the vector machine (null: it cannot run them), by node and operand kinds. */
  private readonly fusedWasm = new Map<string, FusedWasm | null>();
  /** The current run's `trace` hook (see RunOptions.trace), if any. */
  private tracer?: TraceFn;
  private readonly T: number;
  private readonly scratch: Float64Array;
  /** Decoding: the current shape of each node with a key axis (arrays updated in place per run). */
  private readonly keyShapes = new Map<number, number[]>();
  private sequence?: PlannedSequence;
  /** Products whose output program runs in their store (spike-epilogue.ts), and the programs this run did so. */
  private readonly epilogues: ReadonlyMap<number, SpikeEpilogue>;
  private readonly epilogueRan = new Set<number>();
  /** Attention-score programs that run inside their softmax (softmax-prologue.ts), by fused node, and those this run deferred to it. */
  private readonly prologues: ReadonlyMap<number, SoftmaxPrologueMatch>;
  private readonly prologueDeferred = new Set<number>();

  constructor(
    readonly graph: Graph,
    readonly params: ParamStore,
    readonly options: ExecutorOptions = {},
  ) {
    this.T = graph.timesteps;
    const sized = options.decode ? this.atCapacity(graph, options.decode) : graph;
    // The gradient tape reads every value, transposed weights included: it plans them all.
    const planned = options.keepValues ? sized : readThroughTransposes(sized);
    this.epilogues = findSpikeEpilogues(planned, !!options.keepValues);
    const inPlace = new Map([...this.epilogues].map(([mm, e]) => [e.fused, mm]));
    this.plan = planBuffers(planned, { keepAll: options.keepValues, inPlace });
    this.prologues = findSoftmaxPrologues(planned, this.plan, !!options.keepValues);
    for (const id of options.decode?.keyAxes.keys() ?? []) {
      const p = this.plan.byId.get(id);
      if (p) this.keyShapes.set(id, [...p.shape]);
    }
    for (const [id, b] of this.plan.buffers) this.slots.set(id, b);
    let widest = 1;
    for (const p of this.plan.nodes) widest = Math.max(widest, p.shape[p.shape.length - 1] ?? 1);
    this.scratch = new Float64Array(widest);
    for (const p of this.plan.nodes) {
      if (p.node.op === "const") (this.slots.get(p.node.id) as Float32Array | Int32Array)[0] = p.node.attrs.value as number;
      if (p.node.op === "param") this.slots.set(p.node.id, params.get(p.node.attrs.path as string).tensor.data);
      if (p.node.op === "neuron") this.neurons.set(p.node.id, this.neuronSlots(p));
    }
  }

  /** The graph with each key axis planned at `capacity` positions. */
  private atCapacity(g: Graph, d: NonNullable<ExecutorOptions["decode"]>): Graph {
    const nodes = g.nodes.map((n) => {
      const ax = d.keyAxes.get(n.id);
      if (ax === undefined) return n;
      const shape = [...(n.attrs.outShape as number[])];
      shape[shape.length + ax] = d.capacity;
      return { ...n, attrs: { ...n.attrs, outShape: shape } };
    });
    return { ...g, nodes };
  }

  /** Bytes of tensor memory the executor holds (arena, neuron buffers). */
  get bytesHeld(): number {
    let n = this.plan.arenaBytes;
    for (const s of this.neurons.values()) n += s.states.reduce((a, b) => a + b.byteLength, 0) + (s.levels?.byteLength ?? 0) + (s.value?.byteLength ?? 0) + (s.scale?.byteLength ?? 0);
    return n;
  }

  private neuronSlots(p: PlannedNode): NeuronSlots {
    const attrs = p.node.attrs as unknown as NeuronAttrs;
    const users = this.graph.nodes.filter((u) => u.op === "neuron_out" && u.inputs[0] === p.node.id);
    const field = (f: string) => users.some((u) => u.attrs.field === f);
    const total = numel(p.shape);
    const n = total / this.T;
    const wantLevels = field("levels") && attrs.body.emit.levels !== undefined;
    return {
      n,
      inputs: [...p.node.inputs],
      states: attrs.body.states.map(() => alignedArray("f32", n)),
      // Levels go to int8 when the spike-accumulate pass asked for it; recording reads them too.
      levels: wantLevels || attrs.body.emit.levels !== undefined ? alignedArray(p.node.attrs.levelsInt8 ? "i8" : "f32", total) : undefined,
      // keepValues: the value too, for a reader of every neuron output (the gradient tape)
      value: field("value") || this.options.keepValues ? alignedArray("f32", total) : undefined,
      scale: attrs.body.emit.scale !== undefined ? new Float32Array(this.T) : undefined,
    };
  }

  /** `trace` reports each node's value as the reference interpreter's hook does (static nodes only on the first run, when they are computed). */
  run(inputs: ReadonlyMap<string, Tensor>, opts: ExecutorRunOptions = {}): RunResult {
    this.tracer = opts.trace;
    this.startSequence(opts.sequence);
    try {
      return this.runTraced(inputs, opts);
    } finally {
      this.tracer = undefined;
      this.sequence = undefined;
      this.epilogueRan.clear(); // a run that threw may have left one
      this.prologueDeferred.clear();
    }
  }

  /** Decoding: sets every key axis to the positions held after this run. */
  private startSequence(seq: PlannedSequence | undefined): void {
    const d = this.options.decode;
    if (!d !== !seq) throw new Error(d ? "internal: a decoding executor runs with a sequence" : "internal: a sequence needs an executor planned for decoding");
    if (!d || !seq) return;
    const keys = seq.offset + d.positions;
    if (keys > d.capacity) throw new Error(`internal: ${keys} positions, but the executor was planned for ${d.capacity}`);
    for (const [id, shape] of this.keyShapes) shape[shape.length + d.keyAxes.get(id)!] = keys;
    this.sequence = seq;
  }

  private runTraced(inputs: ReadonlyMap<string, Tensor>, opts: { mode?: Mode; record?: boolean }): RunResult {
    for (const { name, node } of this.graph.inputs) {
      const x = inputs.get(name);
      const p = this.plan.byId.get(node)!;
      if (!x) throw new UserError(`missing input \`${name}\``);
      if (x.shape.join() !== p.shape.join() || (x.dtype === "i32") !== (p.kind === "i32"))
        throw new UserError(`input \`${name}\` has shape [${x.shape.join(", ")}] (${x.dtype}) but this executor was planned for [${p.shape.join(", ")}] (${p.kind})`);
      this.slots.set(node, x.data);
    }
    if (!this.staticsReady) {
      for (const p of this.plan.nodes) {
        if (!p.isStatic || p.node.op === "param" || p.node.op === "const") continue;
        this.exec(p, -1);
        executorStats.weightOnlyElements += numel(p.shape);
      }
      this.staticsReady = true;
    }
    if ((opts.mode ?? "multi") === "step") this.runStepwise();
    else for (const p of this.plan.nodes) if (!p.isStatic && p.node.op !== "input") this.exec(p, -1);
    const record = new Map<string, NeuronRecord>();
    if (opts.record) {
      for (const p of this.plan.nodes) {
        if (p.node.op !== "neuron") continue;
        const s = this.neurons.get(p.node.id)!;
        if (!s.levels) continue;
        const levels = f32(p.shape, s.levels instanceof Int8Array ? levelsToF32(s.levels) : Float32Array.from(s.levels));
        let key = (p.node.attrs as unknown as NeuronAttrs).path;
        for (let i = 2; record.has(key); i++) key = `${(p.node.attrs as unknown as NeuronAttrs).path}#${i}`;
        record.set(key, { levels: canonicalLevels(levels), scale: s.scale ? Float32Array.from(s.scale) : undefined });
      }
    }
    const out = this.plan.byId.get(this.graph.output)!;
    const data = this.outputData(out);
    const output = (out.kind === "i32" ? i32(out.shape, data as Int32Array) : f32(out.shape, data as Float32Array)) as Tensor;
    // Taps are copied out of the arena (the plan kept their buffers; the next run overwrites them).
    const taps = collectTaps(this.graph, (id) => {
      const v = this.tensorOf(id, -1);
      return (v.dtype === "i32" ? i32(v.shape, Int32Array.from(v.data)) : f32(v.shape, Float32Array.from(v.data))) as Tensor;
    });
    return { output, record, taps };
  }

  /**
   * The parameters were changed in place (an optimizer step): the weight-only nodes (a
   * transposed weight, ...) are recomputed on the next run, and the spike kernels' packed
   * copies of weight operands are dropped.
   */
  paramsChanged(): void {
    this.staticsReady = false;
    this.release();
  }

  /**
   * Drops the spike kernels' packed copies of this executor's weight operands (they live in
   * WebAssembly memory, which garbage collection does not reach): call it before discarding
   * an executor whose weights are not shared. `keepRowsWeights`: keep the few-rows kernel's
   * copies (engine/kernels/spike-rows.ts), which another executor on the same parameters
   * reads next (generation: the decoding steps after the prompt); they are freed when their
   * weights are garbage-collected.
   */
  release(opts: { readonly keepRowsWeights?: boolean } = {}): void {
    for (const p of this.plan.nodes) {
      if (!p.isStatic) continue;
      const b = this.slots.get(p.node.id);
      if (b instanceof Float32Array) {
        // Kept for another executor on the same parameters, a weight also stays known finite.
        const finite = opts.keepRowsWeights === true && knownFinite(b);
        releasePackedWeights(b);
        if (finite) declareFiniteWeights(b);
        if (!opts.keepRowsWeights) releaseRowsWeights(b);
      }
    }
  }

  /**
   * A float32 node's value after the last run (whole time axis), as a view of its buffer:
   * valid until the next run. Undefined for int8 and integer nodes, neurons and nodes this
   * graph does not have. Needs `keepValues` (otherwise buffers are recycled during a run).
   */
  valueOf(id: number): Tensor | undefined {
    if (!this.options.keepValues) throw new Error("internal: valueOf needs an executor built with keepValues");
    const p = this.plan.byId.get(id);
    if (!p || p.kind !== "f32" || p.node.op === "neuron") return undefined;
    const v = this.view(id, -1);
    return v.data instanceof Float32Array ? f32(v.shape, v.data) : undefined;
  }

  /**
   * An int8 node's spike levels after the last run (whole time axis; NaN as NAN_LEVEL), as a
   * view of its buffer: valid until the next run. Undefined for other nodes. Needs `keepValues`.
   */
  levelsOf(id: number): { readonly data: Int8Array; readonly shape: readonly number[] } | undefined {
    if (!this.options.keepValues) throw new Error("internal: levelsOf needs an executor built with keepValues");
    const p = this.plan.byId.get(id);
    if (!p || p.kind !== "i8" || p.node.op === "neuron") return undefined;
    const v = this.view(id, -1);
    return v.data instanceof Int8Array ? { data: v.data, shape: v.shape } : undefined;
  }

  /**
   * A neuron call's outputs after the last run (whole time axis; levels int8 when the
   * spike-accumulate pass chose them, else canonical floats), as its buffers: valid until
   * the next run. Needs `keepValues` (which also keeps the value nothing else reads).
   */
  neuronOutputs(id: number): { readonly value?: Float32Array; readonly levels?: Int8Array | Float32Array; readonly scale?: Float32Array } | undefined {
    if (!this.options.keepValues) throw new Error("internal: neuronOutputs needs an executor built with keepValues");
    const s = this.neurons.get(id);
    return s && { value: s.value, levels: s.levels, scale: s.scale };
  }

  private outputData(p: PlannedNode): Storage {
    if (p.node.op === "neuron_out") return this.projection(p.node);
    return this.slots.get(p.node.id)!;
  }

  // ------------------------------------------------------------------ step mode

  private runStepwise(): void {
    const stage = timeStages(this.graph);
    const maxStage = Math.max(0, ...stage.values());
    for (let k = 0; k <= maxStage; k++) {
      const nodes = this.plan.nodes.filter((p) => stage.get(p.node.id) === k && !p.isStatic && p.node.op !== "input");
      for (const p of nodes) if (!p.node.type.timed && p.node.op !== "mean_time") this.exec(p, -1);
      const timed = nodes.filter((p) => p.node.type.timed);
      const means = this.plan.nodes.filter((p) => p.node.op === "mean_time" && stage.get(p.node.id) === k + 1);
      if (timed.length === 0) continue;
      for (const m of means) (this.slots.get(m.node.id) as Float32Array).fill(0);
      for (let t = 0; t < this.T; t++) {
        for (const p of timed) this.exec(p, t);
        for (const m of means) {
          const x = this.view(m.node.inputs[0]!, t).data as Float32Array;
          const acc = this.slots.get(m.node.id) as Float32Array;
          for (let i = 0; i < acc.length; i++) acc[i] = Math.fround(acc[i]! + x[i]!);
        }
      }
      for (const m of means) {
        const acc = this.slots.get(m.node.id) as Float32Array;
        for (let i = 0; i < acc.length; i++) acc[i] = Math.fround(acc[i]! / this.T);
        this.tracer?.(m.node, this.tensorOf(m.node.id, -1), -1);
      }
    }
  }

  // ------------------------------------------------------------------ values

  private projection(node: IRNode): Storage {
    const s = this.neurons.get(node.inputs[0]!)!;
    const f = node.attrs.field as string;
    const d = f === "levels" ? s.levels : f === "scale" ? s.scale : s.value;
    if (!d) throw new Error(`internal: neuron %${node.inputs[0]} has no ${f} buffer`);
    return d;
  }

  /** A node's value: whole (t = -1) or, for a timed node, the slice of step t. */
  private view(id: number, t: number): View {
    const p = this.plan.byId.get(id)!;
    let data = p.node.op === "neuron_out" ? this.projection(p.node) : p.node.op === "cache_concat" ? this.cacheOf(id).contents() : this.slots.get(id)!;
    let shape = p.shape;
    const keyed = this.keyShapes.get(id);
    if (keyed) {
      shape = keyed;
      data = data.subarray(0, numel(keyed));
    }
    if (t < 0 || !p.node.type.timed) return { data, shape };
    const n = data.length / this.T;
    return { data: data.subarray(t * n, (t + 1) * n), shape: shape.slice(1) };
  }

  private out(p: PlannedNode, t: number): View {
    return this.view(p.node.id, t);
  }

  // ------------------------------------------------------------------ ops

  private exec(p: PlannedNode, t: number): void {
    this.execOp(p, t);
    if (this.tracer && p.node.op !== "neuron") this.tracer(p.node, this.tensorOf(p.node.id, t), t);
  }

  private execOp(p: PlannedNode, t: number): void {
    const node = p.node;
    switch (node.op) {
      case "const":
      case "param":
      case "input":
      case "neuron_out":
        return;
      case "neuron":
        return this.execNeuron(p, t);
      case "fused":
        return this.execFused(p, node.attrs.program as FusedStep[], t);
      case "over_time": {
        const x = this.view(node.inputs[0]!, -1).data as Float32Array;
        const o = this.out(p, t).data as Float32Array;
        if (t < 0) overTimeInto(x, this.T, o);
        else o.set(x);
        return;
      }
      case "mean_time":
        return meanTimeInto(this.view(node.inputs[0]!, -1).data as Float32Array, this.T, this.out(p, -1).data as Float32Array);
      case "layernorm": {
        const x = this.view(node.inputs[0]!, t);
        const o = this.out(p, t);
        const d = x.shape[x.shape.length - 1]!;
        if (this.wasmNumerics && nativeLayernormInto(x.data as Float32Array, this.view(node.inputs[1]!, -1).data as Float32Array, this.view(node.inputs[2]!, -1).data as Float32Array, node.attrs.eps as number, d, o.data as Float32Array, this.threads)) return;
        if (this.wasmNumerics && wasmLayernormInto(x.data as Float32Array, this.view(node.inputs[1]!, -1).data as Float32Array, this.view(node.inputs[2]!, -1).data as Float32Array, node.attrs.eps as number, d, o.data as Float32Array, this.threads)) return;
        return layernormInto(x.data as Float32Array, this.view(node.inputs[1]!, -1).data as Float32Array, this.view(node.inputs[2]!, -1).data as Float32Array, node.attrs.eps as number, d, o.data as Float32Array, this.scratch);
      }
      case "softmax": {
        if (t < 0 && this.prologueDeferred.delete(node.inputs[0]!) && this.softmaxWithPrologue(p)) return;
        const x = this.view(node.inputs[0]!, t);
        if (this.wasmNumerics && nativeSoftmaxInto(x.data as Float32Array, x.shape[x.shape.length - 1]!, this.out(p, t).data as Float32Array, this.threads)) return;
        if (this.wasmNumerics && wasmSoftmaxInto(x.data as Float32Array, x.shape[x.shape.length - 1]!, this.out(p, t).data as Float32Array, this.threads)) return;
        return softmaxInto(x.data as Float32Array, x.shape[x.shape.length - 1]!, this.out(p, t).data as Float32Array);
      }
      case "gather": {
        const table = this.view(node.inputs[0]!, -1);
        const ids = this.view(node.inputs[1]!, t);
        const [N, D] = table.shape as [number, number];
        const bad = gatherInto(table.data as Float32Array, N, D, ids.data as Int32Array, this.out(p, t).data as Float32Array);
        if (bad >= 0) throw new UserError(`token id ${ids.data[bad]} is out of range for an embedding table of ${N} rows`);
        return;
      }
      case "positions": {
        const o = this.out(p, t).data as Int32Array;
        const first = node.attrs.offset ? (this.sequence?.offset ?? 0) : 0;
        for (let i = 0; i < o.length; i++) o[i] = first + i;
        return;
      }
      case "causal_mask":
        if (node.attrs.offset) return this.execOffsetMask(p);
        return this.execFallback(p, t);
      case "cache_concat":
        return this.execCacheConcat(p);
      case "transpose":
      case "split_heads":
      case "merge_heads":
      case "reshape":
      case "index":
        return this.execLayout(p, t);
      case "matmul":
        return this.execMatmul(p, t);
      case "spike_matmul":
        return this.execSpikeMatmul(p, t);
      case "to_f32": {
        const x = this.view(node.inputs[0]!, t).data;
        const o = this.out(p, t).data;
        for (let i = 0; i < o.length; i++) o[i] = x[i]!;
        return;
      }
      default:
        if (opDef(node.op).elementwise) return this.execFused(p, [{ op: node.op, args: node.inputs.map((_, k) => ({ in: k })) }], t);
        return this.execFallback(p, t);
    }
  }

  /** The causal mask of the new positions against all so far (the reference interpreter's offsetSequenceOp). */
  private execOffsetMask(p: PlannedNode): void {
    const o = this.out(p, -1);
    const [n, all] = o.shape as [number, number];
    const P = all - n;
    const d = o.data as Float32Array;
    d.fill(0);
    for (let i = 0; i < n; i++) d.fill(F32_LOWEST, i * all + P + i + 1, (i + 1) * all);
  }

  /** Appends this run's keys or values to the node's cache; the node's value is the whole cache. */
  private execCacheConcat(p: PlannedNode): void {
    const seq = this.sequence;
    if (!seq) throw new Error("internal: a cache_concat graph needs a sequence");
    const node = p.node;
    let cache = seq.caches.get(node.id);
    if (!cache) {
      cache = new PlannedCache(p.kind === "i8", node.attrs.axis as number, { limit: seq.limit, block: seq.block });
      seq.caches.set(node.id, cache);
    }
    const x = this.view(node.inputs[0]!, -1);
    cache.append(x.data as Int8Array | Float32Array, x.shape);
    const want = this.keyShapes.get(node.id)!;
    if (cache.shape.join() !== want.join()) throw new Error(`internal: cache %${node.id} is [${cache.shape.join(", ")}], the plan expects [${want.join(", ")}]`);
  }

  /** A cache_concat node's cache in this run's sequence. */
  private cacheOf(id: number): PlannedCache {
    const cache = this.sequence?.caches.get(id);
    if (!cache) throw new Error(`internal: no cache for %${id}`);
    return cache;
  }

  /** Reference forward, copied into the planned buffer (ops without a fast kernel). */
  private execFallback(p: PlannedNode, t: number): void {
    const node = p.node;
    const def = opDef(node.op);
    const tensors = node.inputs.map((i) => this.tensorOf(i, t));
    const timedIn = node.inputs.map((i) => this.plan.byId.get(i)!.node.type.timed);
    const o = this.out(p, t);
    if (t < 0 && node.type.timed) {
      // per step, as the reference interpreter does for axis-addressed ops
      const n = o.data.length / this.T;
      for (let s = 0; s < this.T; s++) {
        const r = def.forward!(tensors.map((x, k) => (timedIn[k] ? this.sliceTensor(x, s) : x)), { attrs: node.attrs });
        this.store(o.data, r.data, s * n);
      }
      return;
    }
    this.store(o.data, def.forward!(tensors, { attrs: node.attrs }).data, 0);
  }

  /** Copies a reference result into a planned buffer; an int8 buffer keeps NaN levels. */
  private store(dst: Storage, src: Tensor["data"], offset: number): void {
    if (dst instanceof Int8Array) storeLevels(src, dst, offset);
    else dst.set(src as never, offset);
  }

  private tensorOf(id: number, t: number): Tensor {
    const v = this.view(id, t);
    const p = this.plan.byId.get(id)!;
    const data = v.data instanceof Int8Array ? levelsToF32(v.data) : v.data;
    return (p.kind === "i32" ? i32(v.shape, data as Int32Array) : f32(v.shape, data as Float32Array)) as Tensor;
  }

  private sliceTensor(x: Tensor, s: number): Tensor {
    const n = x.data.length / x.shape[0]!;
    return { ...x, shape: x.shape.slice(1), data: x.data.subarray(s * n, (s + 1) * n) } as Tensor;
  }

  /** Time-aware broadcast shapes: in multi mode a static operand lines up under the time axis. */
  private aligned(ids: readonly number[], t: number): number[][] {
    const views = ids.map((i) => this.view(i, t));
    if (t >= 0) return views.map((v) => [...v.shape]);
    const timed = ids.map((i) => this.plan.byId.get(i)!.node.type.timed);
    const per = views.map((v, k) => (timed[k] ? v.shape.slice(1) : [...v.shape]));
    const R = Math.max(...per.map((s) => s.length));
    return per.map((s, k) => [timed[k] ? this.T : 1, ...new Array<number>(R - s.length).fill(1), ...s]);
  }

  private execFused(p: PlannedNode, program: readonly FusedStep[], t: number, deferrable = true): void {
    const node = p.node;
    // computed by its product's store (execSpikeMatmul), in this node's buffer
    if (t < 0 && this.epilogueRan.delete(node.id)) return;
    // computed by the softmax right after it, from this node's inputs
    if (deferrable && t < 0 && !this.tracer && this.prologues.has(node.id) && this.wasmNumerics && nativeFloatReady()) {
      this.prologueDeferred.add(node.id);
      return;
    }
    const o = this.out(p, t);
    const key = `${node.id}|${t < 0 ? "multi" : "step"}`;
    let plan = this.fusedTables.get(key);
    // Decoding: broadcast tables of nodes with a key axis follow the positions held.
    const keys = this.keyShapes.has(node.id) ? this.sequence!.offset : -1;
    if (!plan || plan.keys !== keys) {
      const shapes = this.aligned(node.inputs, t);
      const outShape = [...o.shape];
      const R = Math.max(outShape.length, ...shapes.map((s) => s.length));
      const outAligned = [...new Array<number>(R - outShape.length).fill(1), ...outShape];
      const index: InputIndex[] = [];
      const tables: (Int32Array | undefined)[] = [];
      for (const s of shapes) {
        const n = numel(s);
        if (n === 1) {
          index.push("scalar");
          tables.push(undefined);
        } else if (n === numel(outAligned) && s.length <= R && s.join() === outAligned.slice(R - s.length).join()) {
          index.push("same");
          tables.push(undefined);
        } else {
          index.push("table");
          // Decoding: the table is rewritten in place each step, in a buffer sized for the plan's capacity.
          const prev = plan?.tables[tables.length];
          tables.push(keys < 0 ? broadcastOffsets(s, outAligned) : broadcastOffsetsInto(s, outAligned, prev ?? new Int32Array(numel(p.shape))));
        }
      }
      // (a decoding step rebuilds the tables, not the kernels, unless the indexing changed)
      plan = { index, tables, keys, kernels: plan && plan.index.join() === index.join() ? plan.kernels : [] };
      this.fusedTables.set(key, plan);
    }
    const ins = node.inputs.map((i) => this.view(i, t).data as Float32Array);
    const out = o.data as Float32Array;
    const wasm = this.wasmNumerics && wasmNumericsReady();
    const native = this.wasmNumerics && nativeFloatReady();
    if (native && program.length === 3 && program[2]!.op === "gelu" && this.affineGeluNative(node, program, t, ins, o.shape, out)) return;
    // A trailing GELU runs as the native or WebAssembly kernel over the program's output (same
    // bits: the step before it is already rounded to float32, which is what `out` stores).
    const last = program[program.length - 1]!;
    const arg = last.args[0];
    const geluTail = (native || wasm) && program.length > 1 && last.op === "gelu" && arg !== undefined && "tmp" in arg && arg.tmp === program.length - 2;
    const body = geluTail ? program.slice(0, -1) : program;
    if (!(wasm && t < 0 && this.fusedOnWasm(node, body, ins, plan.tables, o.shape, out))) (plan.kernels[geluTail ? 1 : 0] ??= compileFused(body, plan.index))(ins, plan.tables, out);
    if (geluTail && !(native && nativeGeluInto(out, out, this.threads))) wasmGeluInto(out, out, this.threads);
  }

  /**
   * The softmax `p` over the program of the fused node before it (deferred by execFused), in
   * one native pass. False when the kernel declines: the fused node has then run, into its own
   * buffer, and the caller's plain softmax reads it.
   */
  private softmaxWithPrologue(p: PlannedNode): boolean {
    const f = this.plan.byId.get(p.node.inputs[0]!)!;
    const m = this.prologues.get(f.node.id)!;
    const ins = f.node.inputs.map((i) => this.view(i, -1).data as Float32Array);
    const x = ins[m.x]!;
    const n = f.shape[f.shape.length - 1]!;
    const rows = x.length / n;
    const scale = ins[m.scale]!;
    const ok =
      rows % scale.length === 0 &&
      nativeSoftmaxPrologueInto(x, n, this.out(p, -1).data as Float32Array, this.threads, { scale, rowsPerScale: rows / scale.length, divisor: ins[m.divisor]![0]!, mask: ins[m.mask]!, maskRows: m.maskRows });
    if (ok) return true;
    this.execFused(f, f.node.attrs.program as FusedStep[], -1, false);
    return false;
  }

  /** mul, add, gelu of a spiking layer's output as one native pass (native-affine-gelu.ts), when the program is that. */
  private affineGeluNative(node: IRNode, program: readonly FusedStep[], t: number, ins: Float32Array[], outShape: readonly number[], out: Float32Array): boolean {
    const m = matchAffineGelu(program, this.aligned(node.inputs, t), outShape);
    if (!m || ins[m.x]!.length !== m.n || ins[m.scale]!.length < m.S || ins[m.bias]!.length < m.C) return false;
    return nativeGeluAffineInto(ins[m.x]!, ins[m.scale]!.subarray(0, m.S), ins[m.bias]!.subarray(0, m.C), out, this.threads);
  }

  /** Whole-time-axis elementwise programs on the WebAssembly vector machine, when their operands fit it (fused-wasm.ts). */
  private fusedOnWasm(node: IRNode, program: readonly FusedStep[], ins: Float32Array[], tables: readonly (Int32Array | undefined)[], outShape: readonly number[], out: Float32Array): boolean {
    if (!node.type.timed || !fusedWasmWorthIt(out.length)) return false;
    const shapes = this.aligned(node.inputs, -1);
    const R = Math.max(outShape.length, ...shapes.map((s) => s.length));
    const kinds = classifyFusedOperands(shapes, [...new Array<number>(R - outShape.length).fill(1), ...outShape], this.T);
    if (!kinds) return false;
    const key = `${node.id}|${program.length}|${kinds.join()}`;
    let fw = this.fusedWasm.get(key);
    if (fw === undefined) this.fusedWasm.set(key, (fw = compileFusedWasm(program, kinds) ?? null));
    return fw !== null && runFusedWasm(fw, ins, tables, this.T, out.length / this.T, out, this.threads);
  }

  /** Threads for the WebAssembly kernels (including the caller). */
  private get threads(): number {
    return this.options.threads ?? defaultThreads();
  }

  /** GELU, softmax and LayerNorm on the native or WebAssembly kernels when ready, unless `numerics: "js"`. */
  private get wasmNumerics(): boolean {
    return (this.options.numerics ?? "auto") !== "js";
  }

  private execLayout(p: PlannedNode, t: number): void {
    const node = p.node;
    const x = this.view(node.inputs[0]!, t);
    const o = this.out(p, t);
    const lead = t < 0 && node.type.timed ? 1 : 0;
    const shape = x.shape;
    const r = shape.length;
    switch (node.op) {
      case "reshape":
        o.data.set(x.data as never);
        return;
      case "transpose": {
        const perm = [...Array(lead).keys(), ...(node.attrs.perm as number[]).map((a) => a + lead)];
        return permuteInto(x.data, shape, perm, o.data);
      }
      case "split_heads": {
        const h = node.attrs.heads as number;
        const L = shape[r - 2]!;
        const e = shape[r - 1]! / h;
        const s = [...shape.slice(0, r - 2), L, h, e];
        const perm = [...Array(r - 2).keys(), r - 1, r - 2, r];
        return permuteInto(x.data, s, perm, o.data);
      }
      case "merge_heads": {
        const perm = [...Array(r - 3).keys(), r - 2, r - 3, r - 1];
        return permuteInto(x.data, shape, perm, o.data);
      }
      case "index": {
        const items = node.attrs.items as ({ index: number } | { start: number | null; end: number | null })[];
        const strides: number[] = [];
        let acc = 1;
        for (let i = r - 1; i >= 0; i--) {
          strides[i] = acc;
          acc *= shape[i]!;
        }
        let offset = 0;
        const oShape: number[] = [];
        const oStrides: number[] = [];
        for (let ax = 0; ax < r; ax++) {
          const it = ax < lead ? undefined : items[ax - lead];
          const n = shape[ax]!;
          if (it && "index" in it) offset += (it.index < 0 ? it.index + n : it.index) * strides[ax]!;
          else if (it) {
            const norm = (v: number) => Math.min(n, Math.max(0, v < 0 ? v + n : v));
            const a = norm(it.start ?? 0);
            const b = norm(it.end ?? n);
            offset += a * strides[ax]!;
            oShape.push(Math.max(0, b - a));
            oStrides.push(strides[ax]!);
          } else {
            oShape.push(n);
            oStrides.push(strides[ax]!);
          }
        }
        return stridedCopy(x.data, offset, oShape, oStrides, o.data);
      }
    }
  }

  private execMatmul(p: PlannedNode, t: number): void {
    const node = p.node;
    const [sa, sb] = this.aligned(node.inputs, t) as [number[], number[]];
    const a = this.view(node.inputs[0]!, t).data as Float32Array;
    const b = this.view(node.inputs[1]!, t).data as Float32Array;
    const o = this.out(p, t).data as Float32Array;
    const [M, K] = sa.slice(-2) as [number, number];
    const batchA = numel(sa.slice(0, -2));
    // form "nt" (read-through-transposes.ts): b is a 2-D operand as stored, [N, K]
    if (node.attrs.form === "nt") return matmulNtInto(a, 0, b, 0, M * batchA, K, sb[sb.length - 2]!, o, 0);
    const N = sb[sb.length - 1]!;
    const batchB = numel(sb.slice(0, -2));
    if (batchB === 1) return matmulInto(a, 0, b, 0, M * batchA, K, N, o, 0);
    if (batchA === batchB && sa.slice(0, -2).join() === sb.slice(0, -2).join()) {
      for (let i = 0; i < batchA; i++) matmulInto(a, i * M * K, b, i * K * N, M, K, N, o, i * M * N);
      return;
    }
    this.execFallback(p, t);
  }

  private execSpikeMatmul(p: PlannedNode, t: number): void {
    const node = p.node;
    if (t < 0 && node.attrs.side === "right" && this.attendToCache(p)) return;
    const [sa, sb] = this.aligned(node.inputs, t) as [number[], number[]];
    const a = this.view(node.inputs[0]!, t).data;
    const b = this.view(node.inputs[1]!, t).data;
    const o = this.out(p, t).data as Float32Array;
    const side = node.attrs.side as string;
    const form = node.attrs.form as string;
    const { threads, backend, variant } = this.options;
    const int8 = (x: Storage) => x instanceof Int8Array;
    const batchA = numel(sa.slice(0, -2));
    const batchB = numel(sb.slice(0, -2));
    if (side === "left" && int8(a) && !int8(b) && batchB === 1) {
      // form "nt": b is the weight as declared, [N, K] (x @ transpose(W)), read through strides.
      const K = sa[sa.length - 1]!;
      const N = sb[sb.length - (form === "nt" ? 2 : 1)]!;
      const M = (a.length / K) | 0;
      const weightLayout = form === "nt" ? "nk" : "kn";
      // A few rows (a decoding step): the weights as stored, read once, on this thread.
      // A weight as declared ([N, K]) is copied transposed for it: worth it when decoding
      // steps read the copy again, not in a one-shot forward.
      // Both kernels keep their copy of b, keyed by the array: only a weight (a static value,
      // whose copies release() drops when the parameters change) may be kept. A float
      // activation also lands here at one time step and one batch (S @ transpose(h)).
      const weight = this.plan.byId.get(node.inputs[1]!)!.isStatic;
      const rows = weight && M <= ROWS_KERNEL_MAX_ROWS && (weightLayout === "kn" || this.options.decode !== undefined);
      if (rows && backend !== "js" && (variant ?? "auto") === "auto" && spikeRowsMatmul(a as Int8Array, M, K, b as Float32Array, N, o, weightLayout)) return;
      const epi = t < 0 && !this.tracer ? this.epilogues.get(node.id) : undefined;
      if (epi && weight && this.wasmNumerics && this.runEpilogue(epi, M, a as Int8Array, K, b as Float32Array, N, o, { cacheWeights: true, weightLayout, threads, backend, variant })) return;
      spikeMatmul(a as Int8Array, M, K, b as Float32Array, N, o, { cacheWeights: weight, weightLayout, threads, backend, variant });
      return;
    }
    const sameBatch = batchA === batchB && sa.slice(0, -2).join() === sb.slice(0, -2).join();
    if (side === "right" && int8(b) && !int8(a) && sameBatch) {
      const [M, K] = sa.slice(-2) as [number, number];
      if (M === 1) return this.rowAttention(a as Float32Array, K, b as Int8Array, sb, form, batchA, o);
      // every step and head in one call (the kernels batch them)
      const opts = { threads, backend, variant, batch: batchA };
      if (form === "nt") denseTimesSpikeT(a as Float32Array, M, K, b as Int8Array, sb[sb.length - 2]!, o, opts);
      else denseTimesSpike(a as Float32Array, M, K, b as Int8Array, sb[sb.length - 1]!, o, opts);
      return;
    }
    this.execFallback(p, t);
  }

  /**
   * The product and its output program in one native pass (spike-epilogue.ts), into this
   * buffer, which the program's node owns too (plan.ts inPlace). False when the native kernel
   * declines: the product then runs alone and the program after it, in place.
   */
  private runEpilogue(epi: SpikeEpilogue, M: number, S: Int8Array, K: number, W: Float32Array, N: number, o: Float32Array, opts: SpikeKernelOptions): boolean {
    const f = this.plan.byId.get(epi.fused)!.node;
    const scale = this.view(f.inputs[epi.scale]!, -1).data as Float32Array;
    const bias = this.view(f.inputs[epi.bias]!, -1).data as Float32Array;
    const residual = epi.residual === undefined ? undefined : (this.view(f.inputs[epi.residual]!, -1).data as Float32Array);
    if (M % scale.length !== 0) return false;
    if (!spikeMatmulAffine(S, M, K, W, N, o, opts, { scale, scaleBlock: M / scale.length, bias: bias.subarray(0, N), ...(residual ? { residual } : {}) })) return false;
    this.epilogueRan.add(epi.fused);
    executorStats.spikeEpilogues++;
    return true;
  }

  /**
   * A decoding step's attention: one query row per batch matrix against the int8 key/value
   * cache, read where it is stored (decode-attention.ts rowsTimesCache). False: not that shape.
   */
  private attendToCache(p: PlannedNode): boolean {
    const cache = this.sequence?.caches.get(p.node.inputs[1]!);
    if (!cache?.int8 || cache.axis !== -2) return false;
    const a = this.view(p.node.inputs[0]!, -1);
    const cs = cache.shape;
    const lead = a.shape.slice(0, -2);
    if (!(a.data instanceof Float32Array) || a.shape[a.shape.length - 2] !== 1 || lead.join() !== cs.slice(0, -2).join()) return false;
    const form = p.node.attrs.form === "nt" ? "nt" : "nn";
    const K = a.shape[a.shape.length - 1]!;
    const N = cs[cs.length - (form === "nt" ? 2 : 1)]!;
    rowsTimesCache(form, a.data, K, cache, N, numel(lead), this.out(p, -1).data as Float32Array, this.options.backend !== "js");
    return true;
  }

  /** One query row per batch matrix (a decoding step) against spike levels: decode-attention.ts. */
  private rowAttention(a: Float32Array, K: number, b: Int8Array, sb: readonly number[], form: string, batch: number, o: Float32Array): void {
    const N = sb[sb.length - (form === "nt" ? 2 : 1)]!;
    if (this.options.backend !== "js" && rowsTimesLevelsWasm(form === "nt" ? "nt" : "nn", a, K, b, N, batch, o)) return;
    for (let i = 0; i < batch; i++) {
      if (form === "nt") rowTimesLevelsT(a, i * K, K, b, i * N * K, N, o, i * N);
      else rowTimesLevels(a, i * K, K, b, i * K * N, N, o, i * N);
    }
  }

  // ------------------------------------------------------------------ neurons

  private execNeuron(p: PlannedNode, t: number): void {
    const node = p.node;
    const attrs = node.attrs as unknown as NeuronAttrs;
    const s = this.neurons.get(node.id)!;
    const t0 = t < 0 ? 0 : t;
    const t1 = t < 0 ? this.T : t + 1;
    if (t0 === 0) attrs.body.states.forEach((st, k) => s.states[k]!.fill(st.init));
    const inputs = s.inputs.map((i) => this.view(i, -1).data as Float32Array);
    if (s.kernel === undefined) {
      const want = { levels: s.levels !== undefined, levelsInt8: s.levels instanceof Int8Array, value: s.value !== undefined, scale: s.scale !== undefined };
      const js = compileNeuron(attrs.body, s.n, want);
      const backend = this.options.neurons ?? "auto";
      const wasm = js && backend !== "js" ? compileNeuronWasm(attrs.body, s.n, want, js, { backend, threads: this.options.threads ?? defaultThreads() }) : undefined;
      if (js && backend !== "js" && !wasm) wasmNeuronStats.declined++;
      s.kernel = wasm ?? js ?? null;
    }
    const k = s.kernel;
    const calibrated = (path: string) => {
      const c = this.params.get(path).calibrated!;
      for (let u = t0; u < t1; u++) if (!c[u]) return false;
      return true;
    };
    const stateShape = p.shape.slice(1);
    if (k) {
      const io = {
        inputs,
        states: s.states,
        amplitudes: k.amplitudes.map((a) => this.params.get(a).tensor.data),
        params: k.params.map((q) => this.params.get(q).tensor.data),
        levels: s.levels,
        value: s.value,
        scale: s.scale,
      };
      if (k.amplitudes.every(calibrated)) return k.run(io, s.n, t0, t1);
      // The first call: step by step, amplitudes calibrated, then the compiled step.
      for (let u = t0; u < t1; u++) {
        this.calibrateStep(attrs.body, s, inputs, stateShape, u);
        k.run(io, s.n, u, u + 1);
      }
      return;
    }
    // Reference step: a body the compiler declined.
    executorStats.referenceNeuronSteps += t1 - t0;
    for (let u = t0; u < t1; u++) {
      const xs = inputs.map((x) => f32(stateShape, x.subarray(u * s.n, (u + 1) * s.n)));
      const state = new Map<string, Tensor>(attrs.body.states.map((st, j) => [st.name, f32(stateShape, s.states[j]!)]));
      const r = runStep(attrs.body, xs, state, u, this.params);
      attrs.body.states.forEach((st, j) => s.states[j]!.set(r.state.get(st.name)!.data as Float32Array));
      if (s.levels instanceof Int8Array && r.levels) storeLevels(r.levels.data, s.levels, u * s.n);
      else if (s.levels && r.levels) s.levels.set(r.levels.data as Float32Array, u * s.n);
      if (s.value) s.value.set(r.value.data as Float32Array, u * s.n);
      if (s.scale && r.scale !== undefined) s.scale[u] = r.scale;
    }
  }

  /**
   * Calibrates the amplitudes step `u` reads that are not calibrated yet: each is the
   * reference's own evaluation of its initialiser on this step's inputs and state (the state
   * before the step), so it is the value runStep would calibrate. The amplitudes are the
   * ones runStep's results reach (value, levels, scale, state writes), whether or not the
   * kernel reads them.
   */
  private calibrateStep(body: StepGraph, s: NeuronSlots, inputs: readonly Float32Array[], stateShape: readonly number[], u: number): void {
    const byId = new Map(body.nodes.map((x) => [x.id, x]));
    const roots = [body.emit.value, ...body.states.map((st) => st.write)];
    if (body.emit.levels !== undefined) roots.push(body.emit.levels);
    if (body.emit.scale !== undefined) roots.push(body.emit.scale);
    const amplitudes = [...reachableInStep(byId, roots)].filter((id) => {
      const x = byId.get(id)!;
      return x.op === "amplitude" && !this.params.get(x.attrs.path as string).calibrated![u];
    });
    if (amplitudes.length === 0) return;
    // Compiled initialisers first (one loop each, the reference's bits: calibration-codegen.ts);
    // an initialiser reads no amplitude, so the order among them does not matter.
    const calibrations = (s.calibrations ??= new Map<number, Calibration | null>());
    const rest: number[] = [];
    for (const id of amplitudes) {
      let c = calibrations.get(id);
      if (c === undefined) calibrations.set(id, (c = compileCalibration(body, id, s.n) ?? null));
      if (c === null) {
        rest.push(id);
        continue;
      }
      const entry = this.params.get(byId.get(id)!.attrs.path as string);
      if (entry.calibrated![u]) continue; // two nodes of one amplitude: the first one calibrates
      const io = { inputs, states: s.states, params: c.params.map((q) => this.params.get(q).tensor.data) };
      entry.tensor.data[u] = c.run(io, s.n, u);
      entry.calibrated![u] = true;
      executorStats.compiledCalibrations++;
    }
    if (rest.length === 0) return;
    executorStats.referenceCalibrations += rest.length;
    const xs = inputs.map((x) => f32(stateShape, x.subarray(u * s.n, (u + 1) * s.n)));
    const state = new Map<string, Tensor>(body.states.map((st, j) => [st.name, f32(stateShape, s.states[j]!)]));
    const evaluate = stepEvaluator(byId, xs, state, u, this.params);
    for (const id of rest) evaluate(id);
  }
}
