/**
 * Emits typed IR nodes for tensor operations: each method checks shapes, infers the value
 * set, and adds one node (or a few: a matmul with a scaled spike operand becomes
 * `scale * (levels @ W)`, which is what makes it a spike-accumulate).
 *
 * Shape and type errors are reported through `report` at the expression's span and yield
 * `undefined`, so one bad expression does not cascade.
 */
import type { Span } from "../../grammar/source.js";
import type { GraphBuilder } from "../ir/graph.js";
import { type Dim, constDim, dimEquals, dimToString, dimValue, divDim, mulDim } from "../types/dims.js";
import { INT, REAL, type TensorType, type ValueSet, isSpike, levels } from "../types/tensor-type.js";
import type { Code } from "./codes.js";
import { broadcastShapes, matmulShape, shapeStr } from "./shapes.js";
import { binaryValueRules, clampValues, constValues, unaryValueRules } from "./value-rules.js";
import type { TensorValue } from "./values.js";

export type Reporter = (code: Code, span: Span, message: string) => void;

const UNARY_OPS = ["neg", "abs", "round", "sign", "heaviside", "exp", "log", "sqrt", "tanh", "relu", "gelu", "erf"] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];
// No "max": that IR op is the reduction.
export type BinaryOp = "add" | "sub" | "mul" | "div" | "min" | "at_least";

export class Lowering {
  constructor(
    readonly b: GraphBuilder,
    readonly report: Reporter,
    readonly uri: string,
    readonly timeName: string,
  ) {}

  /** The same graph, lowering code from another file (origins and errors name that file). */
  forFile(uri: string, report: Reporter): Lowering {
    return uri === this.uri ? this : new Lowering(this.b, report, uri, this.timeName);
  }

  private add(op: string, inputs: number[], type: TensorType, span: Span, attrs: Record<string, unknown> = {}): number {
    return this.b.add(op, inputs, type, attrs, { uri: this.uri, span });
  }

  private tv(node: number, type: TensorType, extra: Partial<TensorValue> = {}): TensorValue {
    return { kind: "tensor", node, type, ...extra };
  }

  private shapeOf(t: TensorType): string {
    return shapeStr(t.shape, t.timed, this.timeName);
  }

  constant(value: number, span: Span, elem: "f32" | "i32" = "f32"): TensorValue {
    const v = elem === "f32" ? Math.fround(value) : value;
    const type: TensorType = { elem, timed: false, shape: [], values: constValues(v) };
    return this.tv(this.add("const", [], type, span, { value: v }), type);
  }

  input(name: string, type: TensorType, span: Span): TensorValue {
    return this.tv(this.add("input", [], type, span, { name }), type);
  }

  param(path: string, shape: readonly Dim[], span: Span): TensorValue {
    const type: TensorType = { elem: "f32", timed: false, shape, values: REAL };
    return this.tv(this.add("param", [], type, span, { path }), type);
  }

  unary(op: UnaryOp, x: TensorValue, span: Span): TensorValue {
    const rule = unaryValueRules[op];
    const values: ValueSet = rule ? rule(x.type.values) : REAL;
    const type: TensorType = { ...x.type, elem: "f32", values };
    return this.tv(this.add(op, [x.node], type, span), type);
  }

  binary(op: BinaryOp, a0: TensorValue, b0: TensorValue, span: Span): TensorValue | undefined {
    // Arithmetic is float32; integer tensors (ids, positions) are widened explicitly.
    const a = this.toF32(a0, span);
    const b = this.toF32(b0, span);
    const shape = broadcastShapes(a.type.shape, b.type.shape);
    if (!shape.ok) {
      this.report("SPK301", span, shape.message.replace(/^shapes \S.*? and \S.*? do/, `shapes ${this.shapeOf(a.type)} and ${this.shapeOf(b.type)} do`));
      return undefined;
    }
    const timed = a.type.timed || b.type.timed;
    let values: ValueSet = binaryValueRules[op]?.(a.type.values, b.type.values) ?? REAL;
    let extra: Partial<TensorValue> = {};
    if (op === "mul") {
      const scaled = this.scaledProduct(a, b) ?? this.scaledProduct(b, a);
      if (scaled) {
        values = scaled.values;
        extra = { levels: scaled.levels, scale: scaled.scale };
      }
    }
    const type: TensorType = { elem: "f32", timed, shape: shape.shape, values };
    return this.tv(this.add(op, [a.node, b.node], type, span), type, extra);
  }

  /** `scale * s` where `scale` is a real per-step scalar and `s` a spike: a scaled spike. */
  private scaledProduct(scale: TensorValue, s: TensorValue): { values: ValueSet; levels: number; scale: number } | undefined {
    if (scale.type.shape.length !== 0 || scale.type.values.kind === "scaled") return undefined;
    if (s.type.values.kind !== "levels" || !isSpike(s.type.values)) return undefined;
    if (scale.type.values.kind === "levels" && scale.type.values.levels.length === 1 && scale.type.values.levels[0] === 1) return undefined;
    // The name shown in the type: an amplitude's, also through `at_least(alpha[t], eps)`.
    let scaleNode = this.b.get(scale.node);
    while (scaleNode?.op === "at_least" || scaleNode?.op === "grad_scale" || scaleNode?.op === "detach") scaleNode = this.b.get(scaleNode.inputs[0]!);
    const scaleName =
      scaleNode?.op === "amplitude" ? String(scaleNode.attrs.name) : scaleNode?.op === "const" ? String(scaleNode.attrs.value) : "scale";
    return { values: { kind: "scaled", levels: s.type.values.levels, scaleName }, levels: s.node, scale: scale.node };
  }

  /**
   * Gradient markers (`detach`, `surrogate`, `grad_scale`): the first operand's value and
   * type, unchanged forward; they only tell the backward pass what to do. A surrogate's
   * proxy must broadcast to the value's shape (its gradient is summed back to its own).
   */
  gradMarker(op: "detach" | "surrogate" | "grad_scale", args: readonly TensorValue[], span: Span, attrs: Record<string, unknown> = {}): TensorValue | undefined {
    const x = this.toF32(args[0]!, span);
    const inputs = [x.node];
    if (op === "surrogate") {
      const p = this.toF32(args[1]!, span);
      const shape = broadcastShapes(x.type.shape, p.type.shape);
      if (!shape.ok || shape.shape.length !== x.type.shape.length || !shape.shape.every((d, i) => dimEquals(d, x.type.shape[i]!)) || (p.type.timed && !x.type.timed)) {
        this.report("SPK305", span, `surrogate's proxy ${this.shapeOf(p.type)} must have the value's shape ${this.shapeOf(x.type)} (or broadcast to it)`);
        return undefined;
      }
      inputs.push(p.node);
    }
    // A marker on a scaled spike is a plain tensor of the same values: the scale is not tracked through it.
    const type: TensorType = { ...x.type, values: x.type.values.kind === "scaled" ? REAL : x.type.values };
    return this.tv(this.add(op, inputs, type, span, attrs), type);
  }

  clamp(x: TensorValue, lo: TensorValue, hi: TensorValue, span: Span): TensorValue | undefined {
    let shape = broadcastShapes(x.type.shape, lo.type.shape);
    if (shape.ok) shape = broadcastShapes(shape.shape, hi.type.shape);
    if (!shape.ok) {
      this.report("SPK301", span, shape.message);
      return undefined;
    }
    const constOf = (t: TensorValue) => {
      const n = this.b.get(t.node);
      return n?.op === "const" ? (n.attrs.value as number) : undefined;
    };
    const values = clampValues(x.type.values, constOf(lo), constOf(hi));
    const type: TensorType = { elem: "f32", timed: x.type.timed || lo.type.timed || hi.type.timed, shape: shape.shape, values };
    return this.tv(this.add("clamp", [x.node, lo.node, hi.node], type, span), type);
  }

  matmul(a: TensorValue, b: TensorValue, span: Span): TensorValue | undefined {
    const shape = matmulShape(a.type.shape, b.type.shape);
    if (!shape.ok) {
      const code: Code = "code" in shape ? shape.code : "SPK302";
      this.report(code, span, shape.message.replace(/left \[.*?\] has/, `left ${this.shapeOf(a.type)} has`).replace(/right \[.*?\] has/, `right ${this.shapeOf(b.type)} has`));
      return undefined;
    }
    const timed = a.type.timed || b.type.timed;
    const realType: TensorType = { elem: "f32", timed, shape: shape.shape, values: REAL };
    const la = a.type.values.kind === "scaled" && a.levels !== undefined ? a.levels : undefined;
    const lb = b.type.values.kind === "scaled" && b.levels !== undefined ? b.levels : undefined;
    const spikeA = la !== undefined || isSpike(a.type.values);
    const spikeB = lb !== undefined || isSpike(b.type.values);
    const spike = spikeA && spikeB ? "both" : spikeA ? "left" : spikeB ? "right" : "none";
    const mm = this.add("matmul", [la ?? a.node, lb ?? b.node], realType, span, { spike });
    let out = this.tv(mm, realType);
    // Factor the amplitudes out: alpha * (levels @ W) is additions only, then one scale.
    const scales = [la !== undefined ? a.scale : undefined, lb !== undefined ? b.scale : undefined].filter((s) => s !== undefined);
    for (const s of scales) {
      const sNode = this.b.get(s)!;
      out = this.tv(this.add("mul", [s, out.node], { ...realType, timed: realType.timed || sNode.type.timed }, span), { ...realType, timed: realType.timed || sNode.type.timed });
    }
    return out;
  }

  /** Layout ops keep a scaled spike scaled: the same op is applied to its levels. */
  private layout(op: string, x: TensorValue, shape: Dim[], span: Span, attrs: Record<string, unknown>): TensorValue {
    const type: TensorType = { ...x.type, shape };
    const node = this.add(op, [x.node], type, span, attrs);
    if (x.levels !== undefined && x.type.values.kind === "scaled") {
      const lvType: TensorType = { ...type, values: levels(x.type.values.levels) };
      const lv = this.add(op, [x.levels], lvType, span, attrs);
      return this.tv(node, type, { levels: lv, scale: x.scale });
    }
    return this.tv(node, type);
  }

  transpose(x: TensorValue, perm: number[] | undefined, span: Span): TensorValue | undefined {
    const r = x.type.shape.length;
    const p = perm ?? [...Array(r).keys()].map((i) => (i === r - 2 ? r - 1 : i === r - 1 ? r - 2 : i));
    if (r < 2 && !perm) {
      this.report("SPK303", span, `transpose needs at least 2 axes, found ${this.shapeOf(x.type)}`);
      return undefined;
    }
    if (p.length !== r || new Set(p).size !== r || p.some((i) => i < 0 || i >= r || !Number.isInteger(i))) {
      this.report("SPK309", span, `transpose order (${p.join(", ")}) is not a permutation of the ${r} per-step axes of ${this.shapeOf(x.type)}`);
      return undefined;
    }
    return this.layout("transpose", x, p.map((i) => x.type.shape[i]!), span, { perm: p });
  }

  splitHeads(x: TensorValue, heads: Dim, span: Span): TensorValue | undefined {
    const s = x.type.shape;
    if (s.length < 2) {
      this.report("SPK303", span, `split_heads needs [..., L, d], found ${this.shapeOf(x.type)}`);
      return undefined;
    }
    const d = s[s.length - 1]!;
    const per = divDim(d, heads);
    const dv = dimValue(d);
    const hv = dimValue(heads);
    if (!per || (dv !== undefined && hv !== undefined && (hv <= 0 || dv % hv !== 0))) {
      this.report("SPK307", span, `split_heads: width ${dimToString(d)} is not divisible by ${dimToString(heads)} heads`);
      return undefined;
    }
    const h = hv ?? 0;
    return this.layout("split_heads", x, [...s.slice(0, -2), heads, s[s.length - 2]!, per], span, { heads: h });
  }

  mergeHeads(x: TensorValue, span: Span): TensorValue | undefined {
    const s = x.type.shape;
    if (s.length < 3) {
      this.report("SPK303", span, `merge_heads needs [..., heads, L, e], found ${this.shapeOf(x.type)}`);
      return undefined;
    }
    return this.layout("merge_heads", x, [...s.slice(0, -3), s[s.length - 2]!, mulDim(s[s.length - 3]!, s[s.length - 1]!)], span, {});
  }

  reshape(x: TensorValue, dims: Dim[], span: Span): TensorValue | undefined {
    const known = (sh: readonly Dim[]) => sh.map(dimValue);
    const a = known(x.type.shape);
    const b = known(dims);
    if (a.every((v) => v !== undefined) && b.every((v) => v !== undefined)) {
      const na = (a as number[]).reduce((p, q) => p * q, 1);
      const nb = (b as number[]).reduce((p, q) => p * q, 1);
      if (na !== nb) {
        this.report("SPK303", span, `reshape from ${this.shapeOf(x.type)} (${na} elements per step) to [${dims.map(dimToString).join(", ")}] (${nb}) changes the element count`);
        return undefined;
      }
    }
    return this.layout("reshape", x, dims, span, { shape: b });
  }

  /** Basic indexing on the per-step axes: integers drop an axis, slices keep it. */
  index(x: TensorValue, items: ({ index: number } | { start?: number; end?: number })[], span: Span): TensorValue | undefined {
    const s = x.type.shape;
    if (items.length > s.length) {
      this.report("SPK309", span, `${items.length} indices into ${this.shapeOf(x.type)}, which has ${s.length} per-step axes`);
      return undefined;
    }
    const shape: Dim[] = [];
    for (let i = 0; i < s.length; i++) {
      const it = items[i];
      if (!it) shape.push(s[i]!);
      else if ("index" in it) {
        const n = dimValue(s[i]!);
        if (n !== undefined && (it.index >= n || it.index < -n)) {
          this.report("SPK309", span, `index ${it.index} is out of range for axis ${i} of size ${n}`);
          return undefined;
        }
      } else {
        const n = dimValue(s[i]!);
        if (n === undefined) {
          if (it.start === undefined && it.end === undefined) shape.push(s[i]!);
          else shape.push(constDim(Math.max(0, (it.end ?? 0) - (it.start ?? 0))));
        } else {
          const norm = (v: number) => Math.min(n, Math.max(0, v < 0 ? v + n : v));
          shape.push(constDim(Math.max(0, norm(it.end ?? n) - norm(it.start ?? 0))));
        }
      }
    }
    const attrs = { items: items.map((it) => ("index" in it ? { index: it.index } : { start: it.start ?? null, end: it.end ?? null })) };
    return this.layout("index", x, shape, span, attrs);
  }

  reduce(op: "sum" | "mean" | "max", x: TensorValue, axis: number | undefined, span: Span): TensorValue | undefined {
    const s = x.type.shape;
    if (axis !== undefined && (axis >= s.length || axis < -s.length)) {
      this.report("SPK309", span, `${op} over axis ${axis}, but ${this.shapeOf(x.type)} has ${s.length} per-step axes${x.type.timed ? " (the time axis is reduced only by mean_time)" : ""}`);
      return undefined;
    }
    const ax = axis === undefined ? undefined : axis < 0 ? axis + s.length : axis;
    const shape = ax === undefined ? [] : s.filter((_, i) => i !== ax);
    const values = op === "max" ? (x.type.values.kind === "scaled" ? REAL : x.type.values) : x.type.values.kind === "levels" && op === "sum" ? INT : REAL;
    const type: TensorType = { elem: "f32", timed: x.type.timed, shape, values };
    return this.tv(this.add(op, [x.node], type, span, { axis: ax ?? null }), type);
  }

  lastAxis(op: "softmax", x: TensorValue, span: Span): TensorValue | undefined {
    if (x.type.shape.length === 0) {
      this.report("SPK303", span, `${op} needs at least one axis, found a scalar`);
      return undefined;
    }
    const type: TensorType = { ...x.type, elem: "f32", values: REAL };
    return this.tv(this.add(op, [x.node], type, span), type);
  }

  layernorm(x: TensorValue, gamma: TensorValue, beta: TensorValue, eps: number, span: Span): TensorValue | undefined {
    const d = x.type.shape[x.type.shape.length - 1];
    for (const [name, p] of [["gamma", gamma], ["beta", beta]] as const) {
      if (!d || p.type.shape.length !== 1 || !dimEquals(p.type.shape[0]!, d)) {
        this.report("SPK305", span, `layernorm ${name} must be [${d ? dimToString(d) : "d"}] to match ${this.shapeOf(x.type)}, found ${this.shapeOf(p.type)}`);
        return undefined;
      }
    }
    const type: TensorType = { ...x.type, elem: "f32", values: REAL };
    return this.tv(this.add("layernorm", [x.node, gamma.node, beta.node], type, span, { eps: Math.fround(eps) }), type);
  }

  gather(table: TensorValue, ids: TensorValue, span: Span, pad = -1): TensorValue | undefined {
    if (table.type.shape.length !== 2) {
      this.report("SPK303", span, `gather needs a table [N, D], found ${this.shapeOf(table.type)}`);
      return undefined;
    }
    if (ids.type.elem !== "i32") {
      this.report("SPK306", span, `gather needs integer ids (int[...]), found f32 ${this.shapeOf(ids.type)}`);
      return undefined;
    }
    const type: TensorType = { elem: "f32", timed: ids.type.timed, shape: [...ids.type.shape, table.type.shape[1]!], values: REAL };
    return this.tv(this.add("gather", [table.node, ids.node], type, span, pad >= 0 ? { pad } : {}), type);
  }

  positions(ids: TensorValue, span: Span): TensorValue | undefined {
    const s = ids.type.shape;
    if (s.length === 0) {
      this.report("SPK303", span, "positions needs a tensor with a sequence axis, found a scalar");
      return undefined;
    }
    const type: TensorType = { elem: "i32", timed: false, shape: [s[s.length - 1]!], values: INT };
    return this.tv(this.add("positions", [ids.node], type, span), type);
  }

  causalMask(L: Dim, enabled: boolean, span: Span): TensorValue {
    const type: TensorType = { elem: "f32", timed: false, shape: [L, L], values: REAL };
    return this.tv(this.add("causal_mask", [], type, span, { size: dimValue(L) ?? null, enabled }), type);
  }

  overTime(x: TensorValue, span: Span): TensorValue | undefined {
    if (x.type.timed) {
      this.report("SPK308", span, `over_time repeats a tensor over the time axis, but ${this.shapeOf(x.type)} already has one`);
      return undefined;
    }
    const type: TensorType = { ...x.type, timed: true };
    return this.tv(this.add("over_time", [x.node], type, span), type);
  }

  meanTime(x: TensorValue, span: Span): TensorValue | undefined {
    if (!x.type.timed) {
      this.report("SPK308", span, `mean_time averages over the time axis, but ${this.shapeOf(x.type)} has none`);
      return undefined;
    }
    const type: TensorType = { ...x.type, elem: "f32", timed: false, values: REAL };
    return this.tv(this.add("mean_time", [x.node], type, span), type);
  }

  toF32(x: TensorValue, span: Span): TensorValue {
    if (x.type.elem === "f32") return x;
    const type: TensorType = { ...x.type, elem: "f32" };
    return this.tv(this.add("to_f32", [x.node], type, span), type);
  }
}
