/**
 * The reference interpreter: the living definition of what an IR graph computes. Small,
 * obviously correct and never optimized; every fast path is tested against it.
 *
 * Two modes that must agree bit for bit:
 * - multi-step: each op runs once over the whole time axis (a neuron loops over its steps);
 * - step: the graph streams one time step at a time through every timed op, neurons keep
 *   their state between steps, and `mean_time` accumulates as the steps go by.
 *
 * Step mode handles graphs with several timed stages (`mean_time` then `over_time` again):
 * a node's stage counts the `mean_time`s on its longest path from the inputs.
 */
import * as K from "../engine/ops/index.js";
import { type F32Tensor, type Tensor, f32, numel, sliceLeading, stackSteps } from "../engine/tensor.js";
import type { Graph, IRNode, NeuronAttrs } from "../ir/graph.js";
import { F32_LOWEST, constTensor, opDef } from "../ir/ops.js";
import type { ParamStore } from "../runtime/params.js";
import { type CacheValues, SpikeCache } from "../runtime/spike-cache.js";
import { initialState, runStep } from "./step.js";
import { timeStages } from "../ir/stages.js";
import { dimValue } from "../types/dims.js";

export type Mode = "multi" | "step";

export interface RunOptions {
  readonly mode?: Mode;
  /** Keep every neuron's spike levels, [T, ...] per neuron instance path. */
  readonly record?: boolean;
  /**
   * With `record`: also keep each neuron's state after every step (`u_t` for the membrane
   * `u`), [T, ...] per state name. The golden files hold the reference code's membrane.
   */
  readonly recordStates?: boolean;
  /**
   * Called after each op of the forward graph with its input and output values (multi-step
   * mode: whole-time-axis values). Operation counts and reports are built on this.
   */
  readonly observe?: (node: IRNode, inputs: readonly Tensor[], output: Tensor) => void;
  /**
   * Called with every node's value as soon as it is computed, in either mode: the whole time
   * axis (t = -1) in multi-step mode and for static nodes, one step's slice (t = step) for a
   * timed node in step mode. Neuron nodes are not reported; their `neuron_out` projections
   * are. `spikelm verify` compares two paths' traces to find the first op where they differ
   * (interpreter/verify/locate.ts); the optimized executor has the same hook.
   */
  readonly trace?: TraceFn;
  /**
   * Incremental decoding (graphs from passes/incremental.ts): `offset` positions are already
   * cached; `caches` holds, per cache_concat node, everything seen so far and is updated.
   */
  readonly sequence?: SequenceState;
}

/** See `RunOptions.trace`. The value may be a view of a buffer the run reuses: copy what you keep. */
export type TraceFn = (node: IRNode, value: Tensor, t: number) => void;

export interface SequenceState {
  offset: number;
  /** Per cache_concat node: its key/value cache (runtime/spike-cache.ts). */
  readonly caches: Map<number, SpikeCache>;
}

export interface NeuronRecord {
  readonly levels: F32Tensor;
  /** The per-step amplitude, when the spike is scaled. */
  readonly scale?: Float32Array;
  /** With `recordStates`: each state after every step, [T, ...] by state name. */
  readonly states?: ReadonlyMap<string, F32Tensor>;
}

export interface RunResult {
  readonly output: Tensor;
  readonly record: Map<string, NeuronRecord>;
  /** The graph's taps (recorded layer outputs, whole time axis) by instance path; see `collectTaps`. */
  readonly taps?: Map<string, Tensor>;
}

/**
 * The values of a graph's taps by instance path; a layer called more than once gets
 * `path#2`, `path#3`, ... for its later calls (as neuron records do). Both interpreters
 * build their result through this, so the keys agree.
 */
export function collectTaps(graph: Graph, read: (node: number) => Tensor): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const t of graph.taps ?? []) {
    let key = t.path;
    for (let i = 2; out.has(key); i++) key = `${t.path}#${i}`;
    out.set(key, read(t.node));
  }
  return out;
}

interface NeuronValue {
  readonly value: Tensor;
  readonly levels?: F32Tensor;
  readonly scale?: F32Tensor;
}

type Val = Tensor | NeuronValue;
const isNeuronValue = (v: Val): v is NeuronValue => "value" in v && !("dtype" in v);

/** Reshapes operands so the time axis and the per-step axes broadcast separately. */
function alignForTime(node: IRNode, inputs: readonly Tensor[], timed: readonly boolean[]): Tensor[] {
  const perStepRank = inputs.map((x, i) => x.shape.length - (timed[i] ? 1 : 0));
  const R = Math.max(...perStepRank);
  return inputs.map((x, i) => {
    const pad = new Array<number>(R - perStepRank[i]!).fill(1);
    const shape = timed[i] ? [x.shape[0]!, ...pad, ...x.shape.slice(1)] : [1, ...pad, ...x.shape];
    return K.reshape(x, shape);
  });
}

export class ReferenceInterpreter {
  private readonly byId: Map<number, IRNode>;
  constructor(
    readonly graph: Graph,
    readonly params: ParamStore,
  ) {
    this.byId = new Map(graph.nodes.map((n) => [n.id, n]));
  }

  run(inputs: ReadonlyMap<string, Tensor>, opts: RunOptions = {}): RunResult {
    return (opts.mode ?? "multi") === "step" ? this.runStepwise(inputs, opts) : this.runMulti(inputs, opts);
  }

  private source(node: IRNode, inputs: ReadonlyMap<string, Tensor>): Tensor | undefined {
    switch (node.op) {
      case "const":
        return constTensor(node.attrs.value as number, node.type.elem);
      case "input": {
        const v = inputs.get(node.attrs.name as string);
        if (!v) throw new Error(`internal: input "${String(node.attrs.name)}" missing`);
        return v;
      }
      case "param":
        return this.params.get(node.attrs.path as string).tensor;
      default:
        return undefined;
    }
  }

  private isTimed(id: number): boolean {
    return this.byId.get(id)!.type.timed;
  }

  // ------------------------------------------------------------------ multi-step

  private runMulti(inputs: ReadonlyMap<string, Tensor>, opts: RunOptions): RunResult {
    const T = this.graph.timesteps;
    const values = new Map<number, Val>();
    const record = new Map<string, NeuronRecord>();
    const get = (id: number) => values.get(id) as Tensor;
    for (const node of this.graph.nodes) {
      const src = this.source(node, inputs);
      if (src) {
        values.set(node.id, src);
        opts.trace?.(node, src, -1);
        continue;
      }
      switch (node.op) {
        case "over_time":
          values.set(node.id, K.overTime(get(node.inputs[0]!), T));
          break;
        case "cache_concat":
          values.set(node.id, this.cacheConcat(node, get(node.inputs[0]!), opts.sequence));
          break;
        case "causal_mask":
        case "positions":
          if (node.attrs.offset) {
            values.set(node.id, this.offsetSequenceOp(node, node.op === "positions" ? get(node.inputs[0]!) : undefined, opts.sequence));
            break;
          }
          values.set(node.id, opDef(node.op).forward!(node.inputs.map(get), { attrs: node.attrs }));
          break;
        case "mean_time":
          values.set(node.id, K.meanTime(get(node.inputs[0]!)));
          break;
        case "neuron": {
          const attrs = node.attrs as unknown as NeuronAttrs;
          const xs = node.inputs.map(get);
          let state = initialState(attrs.body, xs.map((x) => sliceLeading(x, 0)));
          const vals: Tensor[] = [];
          const lvs: F32Tensor[] = [];
          const scs: number[] = [];
          const sts: Map<string, Tensor>[] = [];
          for (let t = 0; t < T; t++) {
            const r = runStep(attrs.body, xs.map((x) => sliceLeading(x, t)), state, t, this.params);
            state = r.state;
            vals.push(r.value);
            if (r.levels) lvs.push(r.levels);
            if (r.scale !== undefined) scs.push(r.scale);
            if (opts.recordStates) sts.push(r.state);
          }
          const nv: NeuronValue = {
            value: stackSteps(vals),
            levels: lvs.length ? (stackSteps(lvs) as F32Tensor) : undefined,
            scale: scs.length ? f32([T], scs) : undefined,
          };
          values.set(node.id, nv);
          if (opts.record && nv.levels) addRecord(record, attrs.path, { levels: nv.levels, scale: nv.scale?.data, states: opts.recordStates ? stackStates(sts) : undefined });
          break;
        }
        case "neuron_out":
          values.set(node.id, pick(values.get(node.inputs[0]!) as NeuronValue, node.attrs.field as string));
          break;
        default: {
          const def = opDef(node.op);
          const xs = node.inputs.map(get);
          const timed = node.inputs.map((i) => this.isTimed(i));
          if (!node.type.timed) values.set(node.id, def.forward!(xs, { attrs: node.attrs }));
          else if (def.time === "batched") {
            const aligned = def.elementwise || node.op === "matmul" ? alignForTime(node, xs, timed) : xs;
            values.set(node.id, def.forward!(aligned, { attrs: node.attrs }));
          } else {
            const steps: Tensor[] = [];
            for (let t = 0; t < T; t++) steps.push(def.forward!(xs.map((x, i) => (timed[i] ? sliceLeading(x, t) : x)), { attrs: node.attrs }));
            values.set(node.id, stackSteps(steps));
          }
          opts.observe?.(node, xs, get(node.id));
        }
      }
      if (opts.trace && node.op !== "neuron") opts.trace(node, get(node.id), -1);
    }
    return { output: get(this.graph.output), record, taps: collectTaps(this.graph, get) };
  }

  // ------------------------------------------------------------------ incremental decoding

  private cacheConcat(node: IRNode, x: Tensor, seq: SequenceState | undefined): Tensor {
    if (!seq) throw new Error("internal: a cache_concat graph needs RunOptions.sequence");
    let cache = seq.caches.get(node.id);
    if (!cache) {
      cache = new SpikeCache(node.attrs.values as CacheValues, node.attrs.axis as number, node.type.timed);
      seq.caches.set(node.id, cache);
    }
    return cache.append(x);
  }

  private offsetSequenceOp(node: IRNode, ids: Tensor | undefined, seq: SequenceState | undefined): Tensor {
    const P = seq?.offset ?? 0;
    if (node.op === "positions") {
      const L = ids!.shape[ids!.shape.length - 1]!;
      return { dtype: "i32", shape: [L], data: Int32Array.from({ length: L }, (_, i) => P + i) } as Tensor;
    }
    const n = node.attrs.size as number;
    const full = P + n;
    const data = new Float32Array(n * full);
    for (let i = 0; i < n; i++) for (let j = P + i + 1; j < full; j++) data[i * full + j] = F32_LOWEST;
    return f32([n, full], data);
  }

  // ------------------------------------------------------------------ step by step

  private runStepwise(inputs: ReadonlyMap<string, Tensor>, opts: RunOptions): RunResult {
    if (opts.observe) throw new Error("internal: observe is supported in multi-step mode only");
    const T = this.graph.timesteps;
    const stage = timeStages(this.graph);
    const maxStage = Math.max(0, ...stage.values());
    const statics = new Map<number, Tensor>();
    const recordSteps = new Map<string, { levels: F32Tensor[]; scale: number[]; states: Map<string, Tensor>[] }>();
    const outNode = this.byId.get(this.graph.output)!;
    const outSteps: Tensor[] = [];
    // Timed taps are seen one step at a time: kept per step and stacked at the end.
    const tapSteps = new Map<number, Tensor[]>();
    for (const tp of this.graph.taps ?? []) if (this.byId.get(tp.node)!.type.timed) tapSteps.set(tp.node, []);
    for (let k = 0; k <= maxStage; k++) {
      const nodes = this.graph.nodes.filter((n) => stage.get(n.id) === k);
      // static nodes of this stage (mean_time nodes were finished by the previous loop)
      for (const node of nodes) {
        if (node.type.timed || node.op === "mean_time") continue;
        const src = this.source(node, inputs);
        statics.set(node.id, src ?? opDef(node.op).forward!(node.inputs.map((i) => statics.get(i)!), { attrs: node.attrs }));
        opts.trace?.(node, statics.get(node.id)!, -1);
      }
      const timedNodes = nodes.filter((n) => n.type.timed);
      const means = this.graph.nodes.filter((n) => n.op === "mean_time" && stage.get(n.id) === k + 1);
      if (timedNodes.length === 0) continue;
      const acc = new Map<number, Float32Array>();
      const neuronState = new Map<number, Map<string, Tensor>>();
      for (let t = 0; t < T; t++) {
        const cur = new Map<number, Val>();
        const get = (id: number): Tensor => (cur.get(id) as Tensor | undefined) ?? statics.get(id)!;
        for (const node of timedNodes) {
          if (node.op === "input") {
            cur.set(node.id, sliceLeading(inputs.get(node.attrs.name as string)!, t));
            continue;
          }
          switch (node.op) {
            case "over_time":
              cur.set(node.id, get(node.inputs[0]!));
              break;
            case "neuron": {
              const attrs = node.attrs as unknown as NeuronAttrs;
              const xs = node.inputs.map(get);
              const state = neuronState.get(node.id) ?? initialState(attrs.body, xs);
              const r = runStep(attrs.body, xs, state, t, this.params);
              neuronState.set(node.id, r.state);
              cur.set(node.id, { value: r.value, levels: r.levels, scale: r.scale !== undefined ? f32([], [r.scale]) : undefined });
              if (opts.record && r.levels) {
                const rec = recordSteps.get(attrs.path) ?? { levels: [], scale: [], states: [] };
                rec.levels.push(r.levels);
                if (r.scale !== undefined) rec.scale.push(r.scale);
                if (opts.recordStates) rec.states.push(r.state);
                recordSteps.set(attrs.path, rec);
              }
              break;
            }
            case "neuron_out":
              cur.set(node.id, pick(cur.get(node.inputs[0]!) as NeuronValue, node.attrs.field as string));
              break;
            default:
              cur.set(node.id, opDef(node.op).forward!(node.inputs.map(get), { attrs: node.attrs }));
          }
          if (opts.trace && node.op !== "neuron") opts.trace(node, get(node.id), t);
        }
        for (const m of means) {
          const x = get(m.inputs[0]!);
          const a = acc.get(m.id) ?? new Float32Array(numel(x.shape));
          for (let i = 0; i < a.length; i++) a[i] = Math.fround(a[i]! + x.data[i]!);
          acc.set(m.id, a);
        }
        if (outNode.type.timed && stage.get(outNode.id) === k) outSteps.push(get(outNode.id));
        for (const [id, steps] of tapSteps) if (stage.get(id) === k) steps.push(get(id));
      }
      for (const m of means) {
        const a = acc.get(m.id)!;
        for (let i = 0; i < a.length; i++) a[i] = Math.fround(a[i]! / T);
        statics.set(m.id, f32(this.meanShape(m, a.length), a));
        opts.trace?.(m, statics.get(m.id)!, -1);
      }
    }
    const record = new Map<string, NeuronRecord>();
    for (const [path, r] of recordSteps) {
      // A neuron instance called twice in one forward records each call separately.
      const perCall = r.levels.length / T;
      for (let c = 0; c < perCall; c++) {
        const lv = r.levels.filter((_, i) => i % perCall === c);
        const sc = r.scale.length ? Float32Array.from(r.scale.filter((_, i) => i % perCall === c)) : undefined;
        const st = opts.recordStates ? stackStates(r.states.filter((_, i) => i % perCall === c)) : undefined;
        addRecord(record, path, { levels: stackSteps(lv) as F32Tensor, scale: sc, states: st });
      }
    }
    const taps = collectTaps(this.graph, (id) => (tapSteps.has(id) ? stackSteps(tapSteps.get(id)!) : statics.get(id)!));
    return { output: outNode.type.timed ? stackSteps(outSteps) : statics.get(outNode.id)!, record, taps };
  }

  private meanShape(m: IRNode, n: number): number[] {
    const dims = m.type.shape.map((d) => dimValue(d));
    if (dims.some((d) => d === undefined) || dims.reduce((p, q) => p! * q!, 1) !== n) throw new Error("internal: mean_time shape is not concrete");
    return dims as number[];
  }

}

function pick(v: NeuronValue, field: string): Tensor {
  const out = field === "levels" ? v.levels : field === "scale" ? v.scale : v.value;
  if (!out) throw new Error(`internal: neuron has no ${field}`);
  return out;
}

/** Per-step state maps → one [T, ...] tensor per state name. */
function stackStates(steps: readonly ReadonlyMap<string, Tensor>[]): Map<string, F32Tensor> {
  const out = new Map<string, F32Tensor>();
  for (const name of steps[0]?.keys() ?? []) out.set(name, stackSteps(steps.map((s) => s.get(name)!)) as F32Tensor);
  return out;
}

function addRecord(record: Map<string, NeuronRecord>, path: string, r: NeuronRecord): void {
  let key = path;
  for (let i = 2; record.has(key); i++) key = `${path}#${i}`;
  record.set(key, r);
}
