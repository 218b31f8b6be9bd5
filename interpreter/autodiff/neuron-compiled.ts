/**
 * A neuron call's backpropagation through time compiled into one JavaScript loop over
 * elements: for each element, the forward over the T steps (scalars in locals), then the
 * backward from step T - 1 to 0, with exactly the operations of the tensor walk in ./neuron.ts
 * (the op table's per-element gradient formulas, each rounded to float32 as the kernels
 * store it; a node's gradients added in the order the walk reaches them, each sum rounded
 * once). The walk's structure (which node has a gradient at which step, in which order) does
 * not depend on the data, so it is resolved while generating the code.
 *
 * Compiled only where that is exact and simple: a body of per-element and per-step-scalar
 * nodes (no reductions, no parameters), scalars that depend only on the step (amplitudes,
 * constants), amplitudes already calibrated and not trained (their gradient is a sum over
 * elements; the scale's gradient reaches only them), and ops with a formula below.
 * Anything else returns undefined and runs the tensor walk. The forward values come from the
 * optimized executor's compiled neuron step (optimized/neuron-codegen.ts), the same bits.
 */
import type { IRNode, NeuronAttrs, StepGraph } from "../ir/graph.js";
import { erf } from "../engine/numerics.js";
import { compileNeuron, type NeuronKernel, reachableInStep } from "../optimized/neuron-codegen.js";
import { compile, literal, type ScalarEnv, scalarExpr, slotOf } from "../optimized/scalar-code.js";

export interface CompiledNeuronBackward {
  /** Amplitude paths, in the order `run` takes their [T] arrays. */
  readonly amplitudes: readonly string[];
  /** Which step inputs receive a gradient (the others: undefined, as the tensor walk). */
  readonly inputsWithGrad: readonly boolean[];
  /** xs: the step inputs [T * n]; seeds [T * n]; grads: [T * n] zeroed arrays for inputsWithGrad. */
  readonly run: (xs: readonly Float32Array[], amps: readonly Float32Array[], seedValue: Float32Array | undefined, seedLevels: Float32Array | undefined, grads: readonly (Float32Array | undefined)[], n: number) => void;
  readonly source: string;
}

type Kind = "elem" | "scalar";

const BINARY = new Set(["add", "sub", "mul", "div", "max", "min", "at_least"]);
const UNARY = new Set(["neg", "abs", "round", "sign", "heaviside", "exp", "log", "sqrt", "tanh", "relu", "gelu", "erf"]);

/** dL/dinput formulas of an elementwise op at one element: g the output's gradient, a/b the operands, y the output. Undefined: no gradient for that input. */
function ruleExprs(node: IRNode, g: string, a: string, b: string, y: string): (string | undefined)[] | null {
  const op = node.op;
  switch (op) {
    case "add":
      return [g, g];
    case "sub":
      return [g, `(-${g})`];
    case "mul":
      return [`F(${g} * ${b})`, `F(${g} * ${a})`];
    case "div":
      return [`F(${g} / ${b})`, `F((-${g} * ${a}) / (${b} * ${b}))`];
    case "max":
    case "min": {
      const wins = op === "max" ? `${a} > ${b}` : `${a} < ${b}`;
      return [`(${a} === ${b} ? F(${g} * 0.5) : ${wins} ? ${g} : 0)`, `(${a} === ${b} ? F(${g} * 0.5) : ${wins} ? 0 : ${g})`];
    }
    case "at_least":
      return [`(${a} > ${b} ? ${g} : 0)`, `(${a} > ${b} ? 0 : ${g})`];
    case "neg":
      return [`(-${g})`];
    case "abs":
      return [`(${a} > 0 ? ${g} : ${a} < 0 ? -${g} : 0)`];
    case "round":
    case "sign":
      return [g];
    case "heaviside":
      return [`(Math.abs(${a}) <= 0.5 ? ${g} : 0)`];
    case "exp":
      return [`F(${g} * ${y})`];
    case "log":
      return [`F(${g} / ${a})`];
    case "sqrt":
      return [`F(${g} / (2 * ${y}))`];
    case "tanh":
      return [`F(${g} * (1 - ${y} * ${y}))`];
    case "relu":
      return [`(${y} > 0 ? ${g} : 0)`];
    case "gelu":
      return [`F(${g} * (0.5 * (1 + ERF(${a} * Math.SQRT1_2)) + ${a} * (Math.exp(-0.5 * ${a} * ${a}) / Math.sqrt(2 * Math.PI))))`];
    case "erf":
      return [`F((${g} * 2 * Math.exp(-${a} * ${a})) / Math.sqrt(Math.PI))`];
    case "surrogate":
      return [undefined, g];
    case "detach":
      return [undefined];
    case "grad_scale":
      return [`F(${g} * ${literal(node.attrs.scale as number)})`];
    default:
      return null;
  }
}

export function compileNeuronBackward(node: IRNode, T: number, n: number, seeds: { value: boolean; levels: boolean }): CompiledNeuronBackward | undefined {
  const body = (node.attrs as unknown as NeuronAttrs).body as StepGraph;
  const byId = new Map(body.nodes.map((x) => [x.id, x]));
  const kind = new Map<number, Kind>();
  for (const x of body.nodes) {
    const shape = x.attrs.outShape as number[] | undefined;
    if (!shape) return undefined;
    const m = shape.reduce((p, d) => p * d, 1);
    if (x.type.shape.length === 0) kind.set(x.id, "scalar");
    else if (m === n) kind.set(x.id, "elem");
  }
  // What the tensor walk's forward evaluates: the emitted value, levels, scale and the state writes.
  const needed = reachableInStep(byId, [body.emit.value, ...(body.emit.levels !== undefined ? [body.emit.levels] : []), ...(body.emit.scale !== undefined ? [body.emit.scale] : []), ...body.states.map((s) => s.write)]);
  for (const id of needed) {
    const x = byId.get(id)!;
    const k = kind.get(id);
    if (!k || x.op === "param" || x.type.elem !== "f32") return undefined;
    if (k === "scalar" && x.inputs.some((i) => kind.get(i) !== "scalar")) return undefined;
    if (k === "elem" && !["step_input", "state_read", "const", "step_index", "amplitude"].includes(x.op)) {
      if (x.op === "clamp") {
        if (kind.get(x.inputs[1]!) !== "scalar" || kind.get(x.inputs[2]!) !== "scalar") return undefined;
      } else if (!BINARY.has(x.op) && !UNARY.has(x.op) && ruleExprs(x, "g", "a", "b", "y") === null) return undefined;
    }
  }

  const env: ScalarEnv = { functions: new Map(), constants: new Map() };
  const amplitudes: string[] = [];
  const stateIndex = new Map(body.states.map((s, k) => [s.read, k]));
  const v = (id: number, t: number) => `v${id}_${t}`;
  const scalarLines: string[] = [];
  const elemLines: string[] = [];
  // Forward, unrolled over the steps.
  for (let t = 0; t < T; t++) {
    for (const x of body.nodes) {
      if (!needed.has(x.id)) continue;
      let expr: string | undefined;
      switch (x.op) {
        case "step_input":
          expr = `x${x.attrs.index as number}[${t} * n + i]`;
          break;
        case "state_read": {
          const s = body.states[stateIndex.get(x.id)!]!;
          // the initial state is stored in a float32 tensor (rounded), as the tensor walk's
          expr = t === 0 ? literal(Math.fround(s.init)) : v(s.write, t - 1);
          break;
        }
        case "const":
          expr = literal(Math.fround(x.attrs.value as number));
          (env.constants as Map<string, number>).set(v(x.id, t), Math.fround(x.attrs.value as number));
          break;
        case "step_index":
          expr = String(t);
          break;
        case "amplitude":
          expr = `amp${slotOf(amplitudes, x.attrs.path as string)}[${t}]`;
          break;
        default:
          expr = scalarExpr(x.op, x.inputs.map((i) => v(i, t)), env);
      }
      if (expr === undefined) return undefined;
      (kind.get(x.id) === "scalar" && x.op !== "state_read" ? scalarLines : elemLines).push(`const ${v(x.id, t)} = ${expr};`);
    }
  }

  // Backward: the tensor walk, resolved statically. grads: node id -> the local holding its gradient.
  const lines: string[] = [];
  let counter = 0;
  const inputsWithGrad = body.inputs.map(() => false);
  let carried = new Map<string, string>();
  for (let t = T - 1; t >= 0; t--) {
    const grads = new Map<number, string>();
    const add = (id: number, expr: string) => {
      const name = `g${counter++}`;
      const prev = grads.get(id);
      lines.push(`const ${name} = ${prev ? `F(${prev} + ${expr})` : expr};`);
      grads.set(id, name);
    };
    if (seeds.value) add(body.emit.value, `sv[${t} * n + i]`);
    if (seeds.levels && body.emit.levels !== undefined) add(body.emit.levels, `sl[${t} * n + i]`);
    for (const s of body.states) {
      const c = carried.get(s.name);
      if (c) add(s.write, c);
    }
    const next = new Map<string, string>();
    for (let j = body.nodes.length - 1; j >= 0; j--) {
      const x = body.nodes[j]!;
      const g = grads.get(x.id);
      grads.delete(x.id);
      if (!g || !needed.has(x.id)) continue;
      switch (x.op) {
        case "step_input": {
          const k = x.attrs.index as number;
          inputsWithGrad[k] = true;
          lines.push(`gx${k}[${t} * n + i] = ${g};`);
          break;
        }
        case "state_read":
          if (t > 0) next.set(x.attrs.name as string, g);
          break;
        case "amplitude":
        case "const":
        case "step_index":
          break;
        default: {
          // a scalar's gradient only reaches scalars (amplitudes, constants): not computed
          if (kind.get(x.id) === "scalar") break;
          const ins = x.inputs.map((i) => v(i, t));
          let exprs: (string | undefined)[] | null;
          if (x.op === "clamp") exprs = [`(${ins[0]} < ${ins[1]} ? 0 : ${ins[0]} > ${ins[2]} ? 0 : ${ins[0]} >= ${ins[1]} && ${ins[0]} <= ${ins[2]} ? ${g} : 0)`, undefined, undefined];
          else exprs = ruleExprs(x, g, ins[0] ?? "", ins[1] ?? "", v(x.id, t));
          if (exprs === null) return undefined;
          exprs.forEach((e, k) => {
            const input = x.inputs[k]!;
            if (e === undefined || kind.get(input) !== "elem") return;
            add(input, e);
          });
        }
      }
    }
    carried = next;
  }

  env.functions.set("ERF", erf);
  const src = [
    "return function neuronBackward(xs, amps, sv, sl, gs, n) {",
    ...body.inputs.map((_, k) => `  const x${k} = xs[${k}], gx${k} = gs[${k}];`),
    ...amplitudes.map((_, k) => `  const amp${k} = amps[${k}];`),
    ...scalarLines.map((l) => `  ${l}`),
    "  for (let i = 0; i < n; i++) {",
    ...elemLines.map((l) => `    ${l}`),
    ...lines.map((l) => `    ${l}`),
    "  }",
    "};",
  ].join("\n");
  const run = compile<CompiledNeuronBackward["run"]>(src, env);
  return { amplitudes, inputsWithGrad, run, source: src };
}

/** The forward of a neuron call on the optimized executor's compiled step (value and canonical levels as floats), or undefined. */
export function compileNeuronForward(body: StepGraph, n: number): NeuronKernel | undefined {
  return compileNeuron(body, n, { levels: true, levelsInt8: false, value: true, scale: true });
}
