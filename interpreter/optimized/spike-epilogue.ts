/**
 * Spiking layers whose output program can run in the spike accumulate's store: a
 * `spike_matmul` of spike levels times a weight, read by exactly one fused elementwise node
 * that computes `fround(fround(scale * acc) + bias)`, optionally `+ residual` (the layer's
 * amplitude per time step, its bias along the last axis, a residual connection of the
 * output's shape). The executor then runs the product and the program as one native pass
 * (engine/kernels/spike-matmul.ts spikeMatmulAffine) straight into the product's buffer, which
 * the fused node takes over (plan.ts `inPlace`): the product's value is never needed apart.
 * When the native pass declines (no addon, a NaN level, a non-finite weight) the product and
 * the program run apart on that same buffer, the program in place, with the same bits.
 */
import type { Graph, IRNode } from "../ir/graph.js";
import type { FusedStep } from "../passes/fuse-elementwise.js";

/** A product and the program fused into its store: the fused node's input indices. */
export interface SpikeEpilogue {
  readonly fused: number;
  readonly scale: number;
  readonly bias: number;
  readonly residual?: number;
}

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Operand index of `ref` if it reads a fused node input, else -1. */
const inIndex = (ref: FusedStep["args"][number] | undefined): number => (ref !== undefined && "in" in ref ? ref.in : -1);
const isTmp = (ref: FusedStep["args"][number] | undefined, k: number): boolean => ref !== undefined && "tmp" in ref && ref.tmp === k;

/**
 * The program's roles if it is mul(x, s) then add(that, b) then, optionally, add(that, r)
 * (each add in either order: IEEE addition and multiplication are commutative, so the order
 * changes no bit); `x` is the operand index of the product.
 */
function programRoles(program: readonly FusedStep[]): { x: number; scale: number; bias: number; residual?: number } | undefined {
  if (program.length !== 2 && program.length !== 3) return undefined;
  const [mul, add, add2] = program as [FusedStep, FusedStep, FusedStep | undefined];
  if (mul.op !== "mul" || add.op !== "add" || mul.args.length !== 2 || add.args.length !== 2) return undefined;
  const [m0, m1] = [inIndex(mul.args[0]), inIndex(mul.args[1])];
  const bias = isTmp(add.args[0], 0) ? inIndex(add.args[1]) : isTmp(add.args[1], 0) ? inIndex(add.args[0]) : -1;
  if (m0 < 0 || m1 < 0 || bias < 0) return undefined;
  let residual: number | undefined;
  if (add2) {
    if (add2.op !== "add" || add2.args.length !== 2) return undefined;
    residual = isTmp(add2.args[0], 1) ? inIndex(add2.args[1]) : isTmp(add2.args[1], 1) ? inIndex(add2.args[0]) : -1;
    if (residual < 0) return undefined;
  }
  return { x: m0, scale: m1, bias, residual };
}

/**
 * Every product in `g` whose single reader is such a program, keyed by the product's node id.
 * Shapes are whole-time (timed values lead with the time axis). Not when values are kept for
 * a reader of every node (`keepAll`), nor for a product that is an output or a recorded tap.
 */
export function findSpikeEpilogues(g: Graph, keepAll: boolean): Map<number, SpikeEpilogue> {
  const found = new Map<number, SpikeEpilogue>();
  if (keepAll) return found;
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const order = new Map(g.nodes.map((n, i) => [n.id, i]));
  const readers = new Map<number, IRNode[]>();
  for (const n of g.nodes) for (const i of new Set(n.inputs)) readers.set(i, [...(readers.get(i) ?? []), n]);
  const kept = new Set([g.output, ...(g.taps ?? []).map((t) => t.node)]);
  for (const mm of g.nodes) {
    if (mm.op !== "spike_matmul" || mm.attrs.side !== "left" || !mm.type.timed || kept.has(mm.id)) continue;
    const levels = byId.get(mm.inputs[0]!);
    const weight = byId.get(mm.inputs[1]!);
    if (!levels?.attrs.int8 || weight?.op !== "param") continue;
    const rs = readers.get(mm.id) ?? [];
    const fused = rs[0];
    if (rs.length !== 1 || fused?.op !== "fused" || !fused.type.timed) continue;
    const roles = programRoles(fused.attrs.program as FusedStep[]);
    if (!roles) continue;
    // the product is the mul's first or second operand; the other is the scale
    const [x, scale] = fused.inputs[roles.x] === mm.id ? [roles.x, roles.scale] : fused.inputs[roles.scale] === mm.id ? [roles.scale, roles.x] : [-1, -1];
    if (x < 0 || fused.inputs.filter((i) => i === mm.id).length !== 1) continue;
    const out = mm.attrs.outShape as number[];
    if ((fused.attrs.outShape as number[]).join() !== out.join()) continue;
    const T = out[0]!;
    const C = out[out.length - 1]!;
    const shapeOf = (k: number) => byId.get(fused.inputs[k]!)!.attrs.outShape as number[];
    const timed = (k: number) => byId.get(fused.inputs[k]!)!.type.timed;
    // the scale: one value per time step (a timed scalar) or one value
    const s = shapeOf(scale);
    const scaleOk = numel(s) === 1 || (timed(scale) && numel(s) === T);
    // the bias: along the last axis only, the same at every step
    const b = shapeOf(roles.bias);
    const biasOk = !timed(roles.bias) && numel(b) === C && b[b.length - 1] === C;
    const residualOk = roles.residual === undefined || (timed(roles.residual) && shapeOf(roles.residual).join() === out.join());
    // every other operand is there when the product runs, whose store reads it: a parameter,
    // constant or input, or a node computed before the product
    const ready = (i: number) => ["param", "const", "input"].includes(byId.get(i)!.op) || order.get(i)! < order.get(mm.id)!;
    const before = fused.inputs.every((i) => i === mm.id || ready(i));
    if (scaleOk && biasOk && residualOk && before) found.set(mm.id, { fused: fused.id, scale, bias: roles.bias, residual: roles.residual });
  }
  return found;
}
