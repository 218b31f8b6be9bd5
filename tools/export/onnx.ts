/**
 * ONNX export: a compiled IR graph (interpreter/compile.ts, before any optimization pass)
 * with a calibrated parameter store becomes an ONNX inference model (opset 17).
 *
 * - The time loop is unrolled: every timed value becomes T per-step ONNX values; each neuron's
 *   nested step graph is emitted once per step, its states threaded from step to step.
 * - A spike is `Clip(Round(Div(u, alpha_t)), -1, 1)` (ONNX Round is half to even, as
 *   spikelm's); spike-driven matmuls are ordinary MatMuls on the levels, scaled by alpha_t.
 * - Weights and amplitudes are initializers. Amplitudes must be known: the caller calibrates
 *   them first (a spikelm run on the calibration input) or takes them from the weights file;
 *   an amplitude's calibration expression is not exported (it never runs again).
 * - Shapes are static: the model is specialised to the input shapes it was compiled for.
 * - With `spikes: true`, every neuron's levels [T, ...] are extra graph outputs named
 *   `spikes/<neuron path>` (as `spikelm run --record`).
 *
 * Numerics: elementwise +,-,*,/ agree with spikelm bit for bit (both round an exact result to
 * float32 once); MatMul, Softmax, LayerNormalization, ReduceMean, Exp/Erf/Tanh in ORT use
 * their own summation order and approximations, so outputs agree within a tolerance, not bit
 * for bit.
 */
import type { Program } from "../../interpreter/checker/program.js";
import type { Graph, IRNode, NeuronAttrs, StepGraph } from "../../interpreter/ir/graph.js";
import type { ParamStore } from "../../interpreter/runtime/params.js";
import { dimValue } from "../../interpreter/types/dims.js";
import type { TensorType } from "../../interpreter/types/tensor-type.js";
import { DT, type AttrValue, type DataType, type Pb, modelProto, nodeProto, tensorProto, valueInfo } from "./onnx-proto.js";
import { UnsupportedError, originText } from "./common.js";

const ONNX_OPSET = 17;

export interface OnnxExportOptions {
  readonly graph: Graph;
  /** Every parameter, amplitudes calibrated. */
  readonly params: ParamStore;
  readonly program?: Program;
  /** Expose each neuron's spike levels as extra outputs `spikes/<path>`. */
  readonly spikes?: boolean;
  readonly name?: string;
  readonly doc?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

export interface OnnxExport {
  readonly bytes: Uint8Array;
  readonly inputs: readonly { name: string; shape: number[]; dtype: "f32" | "i32" }[];
  readonly outputs: readonly { name: string; shape: number[] }[];
  readonly nodeCount: number;
}

type Val = string | string[];
interface NeuronSteps {
  value: string[];
  levels?: string[];
  scale?: string[];
}

const elemOf = (t: TensorType): DataType => (t.elem === "i32" ? DT.INT32 : DT.FLOAT);

const UNARY: Readonly<Record<string, string>> = {
  neg: "Neg",
  abs: "Abs",
  round: "Round",
  sign: "Sign",
  exp: "Exp",
  log: "Log",
  sqrt: "Sqrt",
  tanh: "Tanh",
  relu: "Relu",
  erf: "Erf",
};
const BINARY: Readonly<Record<string, string>> = { add: "Add", sub: "Sub", mul: "Mul", div: "Div", max: "Max", min: "Min" };

class Emitter {
  readonly nodes: Pb[] = [];
  readonly initializers: Pb[] = [];
  private readonly consts = new Map<string, string>();
  private counter = 0;

  constructor(
    private readonly program: Program | undefined,
    private readonly T: number,
  ) {}

  fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  node(op: string, inputs: readonly string[], attrs: Readonly<Record<string, AttrValue>> = {}, origin?: IRNode, hint?: string): string {
    const out = this.fresh(hint ?? op.toLowerCase());
    const doc = origin?.origin ? originText(origin.origin, this.program) : undefined;
    this.nodes.push(nodeProto(op, inputs, [out], `n${this.nodes.length}_${op}`, attrs, doc));
    return out;
  }

  /** A named node output (graph outputs). */
  nodeNamed(op: string, inputs: readonly string[], out: string, attrs: Readonly<Record<string, AttrValue>> = {}): void {
    this.nodes.push(nodeProto(op, inputs, [out], `n${this.nodes.length}_${op}`, attrs));
  }

  initializer(name: string, dims: readonly number[], data: Float32Array | Int32Array | BigInt64Array): string {
    this.initializers.push(tensorProto(name, dims, data));
    return name;
  }

  scalar(v: number, elem: "f32" | "i32" = "f32"): string {
    const key = `${elem}:${Object.is(v, -0) ? "-0" : String(v)}`;
    const hit = this.consts.get(key);
    if (hit) return hit;
    const name = this.initializer(`c_${this.consts.size}`, [], elem === "i32" ? Int32Array.of(v) : Float32Array.of(v));
    this.consts.set(key, name);
    return name;
  }

  int64s(vs: readonly number[]): string {
    const key = `i64:${vs.join(",")}`;
    const hit = this.consts.get(key);
    if (hit) return hit;
    const name = this.initializer(`c_${this.consts.size}`, [vs.length], BigInt64Array.from(vs.map((v) => BigInt(v))));
    this.consts.set(key, name);
    return name;
  }

  int64Scalar(v: number): string {
    const key = `i64s:${v}`;
    const hit = this.consts.get(key);
    if (hit) return hit;
    const name = this.initializer(`c_${this.consts.size}`, [], BigInt64Array.of(BigInt(v)));
    this.consts.set(key, name);
    return name;
  }

  get timesteps(): number {
    return this.T;
  }
}

function concreteShape(node: IRNode, program: Program | undefined): number[] {
  return node.type.shape.map((d) => {
    const v = dimValue(d);
    if (v === undefined) throw new UnsupportedError(`a symbolic dimension in \`${node.op}\``, node.origin, program);
    return v;
  });
}

/** Nodes of `nodes` needed for `roots`, without following an amplitude's calibration input. */
function liveSet(nodes: readonly IRNode[], roots: Iterable<number>): Set<number> {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const live = new Set<number>();
  const stack = [...roots];
  while (stack.length) {
    const id = stack.pop()!;
    if (live.has(id)) continue;
    live.add(id);
    const n = byId.get(id);
    if (!n || n.op === "amplitude") continue;
    // a surrogate's proxy only shapes gradients: inference needs its value alone
    stack.push(...(n.op === "surrogate" ? n.inputs.slice(0, 1) : n.inputs));
  }
  return live;
}

function stepRoots(body: StepGraph, withLevels: boolean): number[] {
  const r = [body.emit.value, ...body.states.map((s) => s.write)];
  if (body.emit.levels !== undefined) r.push(body.emit.levels);
  if (body.emit.scale !== undefined) r.push(body.emit.scale);
  void withLevels;
  return r;
}

export function exportOnnx(opts: OnnxExportOptions): OnnxExport {
  const { graph, params, program } = opts;
  const T = graph.timesteps;
  const e = new Emitter(program, T);
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const values = new Map<number, Val>();
  const neurons = new Map<number, NeuronSteps>();
  const paramNames = new Map<string, string>();

  const param = (path: string): string => {
    const hit = paramNames.get(path);
    if (hit) return hit;
    const entry = params.get(path);
    const name = e.initializer(path, entry.tensor.shape, entry.tensor.data);
    paramNames.set(path, name);
    return name;
  };

  // live nodes: from the output and, when asked, every neuron's levels
  const roots = [graph.output];
  const neuronNodes = graph.nodes.filter((n) => n.op === "neuron");
  if (opts.spikes) roots.push(...neuronNodes.map((n) => n.id));
  const live = liveSet(graph.nodes, roots);

  const inputs: { name: string; shape: number[]; dtype: "f32" | "i32" }[] = [];
  const inputInfos: Pb[] = [];
  for (const inp of graph.inputs) {
    const node = byId.get(inp.node)!;
    const shape = [...(node.type.timed ? [T] : []), ...concreteShape(node, program)];
    inputs.push({ name: inp.name, shape, dtype: node.type.elem });
    inputInfos.push(valueInfo(inp.name, shape, elemOf(node.type)));
  }

  const at = (id: number, t: number): string => {
    const v = values.get(id);
    if (v === undefined) throw new Error(`internal: ONNX export: value %${id} missing`);
    return typeof v === "string" ? v : v[t]!;
  };

  for (const node of graph.nodes) {
    if (!live.has(node.id)) continue;
    const timed = node.type.timed;
    switch (node.op) {
      case "input": {
        const name = node.attrs.name as string;
        values.set(node.id, timed ? Array.from({ length: T }, (_, t) => e.node("Gather", [name, e.int64Scalar(t)], { axis: { int: 0 } }, node, `${name}_t${t}`)) : name);
        break;
      }
      case "param":
        values.set(node.id, param(node.attrs.path as string));
        break;
      case "over_time": {
        const x = values.get(node.inputs[0]!) as string;
        values.set(node.id, new Array<string>(T).fill(x));
        break;
      }
      case "mean_time": {
        const x = node.inputs[0]!;
        let acc = at(x, 0);
        for (let t = 1; t < T; t++) acc = e.node("Add", [acc, at(x, t)], {}, node);
        values.set(node.id, T === 1 ? acc : e.node("Div", [acc, e.scalar(T)], {}, node, "mean_time"));
        break;
      }
      case "neuron":
        neurons.set(node.id, emitNeuron(e, node, (t) => node.inputs.map((i) => at(i, t)), params, program, param));
        break;
      case "neuron_out": {
        const ns = neurons.get(node.inputs[0]!)!;
        const field = node.attrs.field as "value" | "levels" | "scale";
        const v = ns[field];
        if (!v) throw new UnsupportedError(`the neuron's ${field}`, node.origin, program);
        values.set(node.id, v);
        break;
      }
      default: {
        const inTypes = node.inputs.map((i) => byId.get(i)!);
        if (!timed) values.set(node.id, emitOp(e, node, node.inputs.map((i) => at(i, 0)), inTypes, program));
        else values.set(node.id, Array.from({ length: T }, (_, t) => emitOp(e, node, node.inputs.map((i) => at(i, t)), inTypes, program)));
      }
    }
  }

  // outputs
  const outNode = byId.get(graph.output)!;
  const outputs: { name: string; shape: number[] }[] = [];
  const outputInfos: Pb[] = [];
  const stackSteps = (steps: readonly string[], name: string) => {
    const un = steps.map((s) => e.node("Unsqueeze", [s, e.int64s([0])]));
    e.nodeNamed("Concat", un, name, { axis: { int: 0 } });
  };
  const outShape = [...(outNode.type.timed ? [T] : []), ...concreteShape(outNode, program)];
  if (outNode.type.timed) stackSteps(values.get(outNode.id) as string[], "output");
  else e.nodeNamed("Identity", [values.get(outNode.id) as string], "output");
  outputs.push({ name: "output", shape: outShape });
  outputInfos.push(valueInfo("output", outShape, elemOf(outNode.type)));
  if (opts.spikes) {
    const seen = new Map<string, number>();
    for (const n of neuronNodes) {
      const ns = neurons.get(n.id);
      if (!ns?.levels) continue;
      const path = (n.attrs as unknown as NeuronAttrs).path;
      const k = (seen.get(path) ?? 0) + 1;
      seen.set(path, k);
      const name = `spikes/${k === 1 ? path : `${path}#${k}`}`;
      const shape = [T, ...concreteShape(n, program)];
      stackSteps(ns.levels, name);
      outputs.push({ name, shape });
      outputInfos.push(valueInfo(name, shape, DT.FLOAT, "spike levels {-1,0,1} per step"));
    }
  }

  const bytes = modelProto({
    graphName: opts.name ?? "spikelm",
    nodes: e.nodes,
    initializers: e.initializers,
    inputs: inputInfos,
    outputs: outputInfos,
    opset: ONNX_OPSET,
    producer: "spikelm",
    doc: opts.doc,
    metadata: opts.metadata,
  });
  return { bytes, inputs, outputs, nodeCount: e.nodes.length };
}

/** One neuron, unrolled: its step graph emitted T times with the states threaded through. */
function emitNeuron(
  e: Emitter,
  neuron: IRNode,
  inputsAt: (t: number) => string[],
  params: ParamStore,
  program: Program | undefined,
  param: (path: string) => string,
): NeuronSteps {
  const body = (neuron.attrs as unknown as NeuronAttrs).body;
  const byId = new Map(body.nodes.map((n) => [n.id, n]));
  const live = liveSet(body.nodes, stepRoots(body, true));
  const out: NeuronSteps = { value: [], levels: body.emit.levels !== undefined ? [] : undefined, scale: body.emit.scale !== undefined ? [] : undefined };
  const state = new Map<string, string>();
  for (const s of body.states) {
    const read = byId.get(s.read)!;
    const shape = concreteShape(read, program);
    state.set(s.name, shape.length === 0 ? e.scalar(s.init) : e.node("Expand", [e.scalar(s.init), e.int64s(shape)], {}, read, `${s.name}_init`));
  }
  for (let t = 0; t < e.timesteps; t++) {
    const xs = inputsAt(t);
    const vals = new Map<number, string>();
    for (const n of body.nodes) {
      if (!live.has(n.id)) continue;
      let v: string;
      switch (n.op) {
        case "step_input":
          v = xs[n.attrs.index as number]!;
          break;
        case "step_index":
          v = e.scalar(t);
          break;
        case "state_read":
          v = state.get(n.attrs.name as string)!;
          break;
        case "const":
          v = e.scalar(n.attrs.value as number, n.type.elem);
          break;
        case "param":
          v = param(n.attrs.path as string);
          break;
        case "amplitude": {
          const entry = params.get(n.attrs.path as string);
          if (entry.calibrated && !entry.calibrated[t])
            throw new UnsupportedError(`amplitude \`${n.attrs.path as string}\` at step ${t} has no value (not given and not calibrated)`, n.origin, program);
          v = e.scalar(entry.tensor.data[t]!);
          break;
        }
        default:
          v = emitOp(e, n, n.inputs.map((i) => vals.get(i)!), n.inputs.map((i) => byId.get(i)!), program);
      }
      vals.set(n.id, v);
    }
    out.value.push(vals.get(body.emit.value)!);
    if (out.levels) out.levels.push(vals.get(body.emit.levels!)!);
    if (out.scale) out.scale.push(vals.get(body.emit.scale!)!);
    for (const s of body.states) state.set(s.name, vals.get(s.write)!);
  }
  return out;
}

/** One per-step op (its operands already per-step ONNX values). */
function emitOp(e: Emitter, node: IRNode, xs: readonly string[], ins: readonly IRNode[], program: Program | undefined): string {
  const op = node.op;
  if (op === "const") return e.scalar(node.attrs.value as number, node.type.elem);
  if (UNARY[op]) return e.node(UNARY[op]!, xs, {}, node);
  if (BINARY[op]) return e.node(BINARY[op]!, xs, {}, node);
  switch (op) {
    case "detach":
    case "surrogate":
    case "grad_scale":
      // gradient markers: the value of their first operand (inference has no gradients)
      return xs[0]!;
    case "heaviside":
      // x >= 0 ? 1 : 0 (NaN gives 0)
      return e.node("Cast", [e.node("GreaterOrEqual", [xs[0]!, e.scalar(0)], {}, node)], { to: { int: DT.FLOAT } }, node);
    case "gelu": {
      // 0.5 * x * (1 + erf(x / sqrt(2)))
      const x = xs[0]!;
      const erf = e.node("Erf", [e.node("Div", [x, e.scalar(Math.fround(Math.SQRT2))], {}, node)], {}, node);
      const half = e.node("Mul", [e.scalar(0.5), x], {}, node);
      return e.node("Mul", [half, e.node("Add", [e.scalar(1), erf], {}, node)], {}, node, "gelu");
    }
    case "at_least":
      // where(x > lo, x, lo): NaN gives lo
      return e.node("Where", [e.node("Greater", [xs[0]!, xs[1]!], {}, node), xs[0]!, xs[1]!], {}, node, "at_least");
    case "clamp":
      return e.node("Min", [e.node("Max", [xs[0]!, xs[1]!], {}, node), xs[2]!], {}, node, "clamp");
    case "to_f32":
      return e.node("Cast", xs, { to: { int: DT.FLOAT } }, node);
    case "matmul":
      return e.node("MatMul", xs, {}, node);
    case "softmax":
      return e.node("Softmax", xs, { axis: { int: -1 } }, node);
    case "layernorm":
      return e.node("LayerNormalization", xs, { axis: { int: -1 }, epsilon: { float: node.attrs.eps as number } }, node);
    case "split_heads": {
      const shape = concreteShape(ins[0]!, program);
      const h = node.attrs.heads as number;
      const r = shape.length;
      const [L, d] = shape.slice(-2) as [number, number];
      const lead = shape.slice(0, -2);
      const re = e.node("Reshape", [xs[0]!, e.int64s([...lead, L, h, d / h])], {}, node);
      return e.node("Transpose", [re], { perm: { ints: [...lead.keys(), r - 1, r - 2, r] } }, node, "split_heads");
    }
    case "merge_heads": {
      const shape = concreteShape(ins[0]!, program);
      const r = shape.length;
      const [h, L, dh] = shape.slice(-3) as [number, number, number];
      const lead = shape.slice(0, -3);
      const tr = e.node("Transpose", [xs[0]!], { perm: { ints: [...lead.keys(), r - 2, r - 3, r - 1] } }, node);
      return e.node("Reshape", [tr, e.int64s([...lead, L, h * dh])], {}, node, "merge_heads");
    }
    case "transpose":
      return e.node("Transpose", xs, { perm: { ints: node.attrs.perm as number[] } }, node);
    case "reshape":
      return e.node("Reshape", [xs[0]!, e.int64s(concreteShape(node, program))], {}, node);
    case "gather":
      return e.node("Gather", xs, { axis: { int: 0 } }, node);
    case "index": {
      const shape = concreteShape(ins[0]!, program);
      const items = node.attrs.items as ({ index: number } | { start: number | null; end: number | null })[];
      const starts: number[] = [];
      const ends: number[] = [];
      items.forEach((it, ax) => {
        const size = shape[ax]!;
        if ("index" in it) {
          const i = it.index < 0 ? it.index + size : it.index;
          starts.push(i);
          ends.push(i + 1);
        } else {
          const clampTo = (v: number) => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
          const s = clampTo(it.start ?? 0);
          starts.push(s);
          ends.push(Math.max(s, clampTo(it.end ?? size)));
        }
      });
      const axes = items.map((_, i) => i);
      const sl = e.node("Slice", [xs[0]!, e.int64s(starts), e.int64s(ends), e.int64s(axes)], {}, node);
      return e.node("Reshape", [sl, e.int64s(concreteShape(node, program))], {}, node, "index");
    }
    case "sum":
    case "mean":
    case "max": {
      const axis = node.attrs.axis as number | null;
      const x = xs[0]!;
      const inShape = concreteShape(ins[0]!, program);
      const axes = axis === null ? inShape.map((_, i) => i) : [axis];
      if (axes.length === 0) return e.node("Identity", [x], {}, node);
      if (op === "sum") return e.node("ReduceSum", [x, e.int64s(axes)], { keepdims: { int: 0 } }, node);
      return e.node(op === "mean" ? "ReduceMean" : "ReduceMax", [x], { axes: { ints: axes }, keepdims: { int: 0 } }, node);
    }
    case "positions": {
      const L = concreteShape(node, program)[0]!;
      return e.initializer(e.fresh("positions"), [L], Int32Array.from({ length: L }, (_, i) => i));
    }
    case "causal_mask": {
      const L = node.attrs.size as number;
      const data = new Float32Array(L * L);
      if (node.attrs.enabled) for (let i = 0; i < L; i++) for (let j = i + 1; j < L; j++) data[i * L + j] = -3.4028234663852886e38;
      return e.initializer(e.fresh("causal_mask"), [L, L], data);
    }
    default:
      throw new UnsupportedError(`the IR op \`${op}\``, node.origin, program);
  }
}
