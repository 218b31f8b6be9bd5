/**
 * Attention scores whose elementwise program can run inside the softmax that reads them: a
 * fused node computing `fround(fround(fround(scale * x) / divisor) + mask)` (the key
 * amplitude per time step, the 1/sqrt(d) scaling, the additive mask), read only by a softmax
 * over its last axis that runs right after it. The executor then skips the fused node and
 * runs the program and the softmax as one native pass over the scores
 * (engine/kernels/native-float.ts nativeSoftmaxPrologueInto), saving a write and a read of
 * the scores. Matched on the planned graph: the scores' buffer may be handed to the softmax's
 * output, which the kernel allows (row by row, read before written); the mask and the divisor
 * are static values, which are never recycled.
 */
import type { Graph } from "../ir/graph.js";
import type { FusedStep } from "../passes/fuse-elementwise.js";
import type { Plan } from "./plan.js";

/** A fused node run inside its softmax: the softmax's id and the program's operand indices. */
export interface SoftmaxPrologueMatch {
  readonly softmax: number;
  readonly x: number;
  readonly scale: number;
  readonly divisor: number;
  readonly mask: number;
  /** Rows of the mask (it repeats every maskRows rows of the softmax). */
  readonly maskRows: number;
}

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
type Ref = FusedStep["args"][number] | undefined;
const inIndex = (r: Ref): number => (r !== undefined && "in" in r ? r.in : -1);
const isTmp = (r: Ref, k: number): boolean => r !== undefined && "tmp" in r && r.tmp === k;

/** Fused nodes (by id) whose program runs inside the softmax after them. None with keepAll. */
export function findSoftmaxPrologues(g: Graph, plan: Plan, keepAll: boolean): Map<number, SoftmaxPrologueMatch> {
  const found = new Map<number, SoftmaxPrologueMatch>();
  if (keepAll) return found;
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const readers = new Map<number, number>();
  for (const n of g.nodes) for (const i of new Set(n.inputs)) readers.set(i, (readers.get(i) ?? 0) + 1);
  const kept = new Set([g.output, ...(g.taps ?? []).map((t) => t.node)]);
  g.nodes.forEach((sm, i) => {
    const f = g.nodes[i - 1];
    if (sm.op !== "softmax" || !f || f.op !== "fused" || sm.inputs[0] !== f.id || readers.get(f.id) !== 1 || kept.has(f.id) || !f.type.timed || !sm.type.timed) return;
    const program = f.attrs.program as FusedStep[];
    if (program.length !== 3) return;
    const [mul, div, add] = program as [FusedStep, FusedStep, FusedStep];
    if (mul.op !== "mul" || div.op !== "div" || add.op !== "add" || mul.args.length !== 2 || div.args.length !== 2 || add.args.length !== 2) return;
    if (!isTmp(div.args[0], 0)) return;
    const divisor = inIndex(div.args[1]);
    const mask = isTmp(add.args[0], 1) ? inIndex(add.args[1]) : isTmp(add.args[1], 1) ? inIndex(add.args[0]) : -1;
    const [m0, m1] = [inIndex(mul.args[0]), inIndex(mul.args[1])];
    if (divisor < 0 || mask < 0 || m0 < 0 || m1 < 0) return;
    const out = f.attrs.outShape as number[];
    const T = out[0]!;
    const n = out[out.length - 1]!;
    const node = (k: number) => byId.get(f.inputs[k]!)!;
    const shape = (k: number) => node(k).attrs.outShape as number[];
    const isX = (k: number) => node(k).type.timed && shape(k).join() === out.join();
    const isScale = (k: number) => numel(shape(k)) === 1 || (node(k).type.timed && numel(shape(k)) === T);
    const [x, scale] = isX(m0) && isScale(m1) ? [m0, m1] : isX(m1) && isScale(m0) ? [m1, m0] : [-1, -1];
    if (x < 0) return;
    // the divisor: one static value; the mask: a static value over the trailing axes
    const isStatic = (k: number) => plan.byId.get(f.inputs[k]!)?.isStatic === true && !node(k).type.timed;
    if (!isStatic(divisor) || numel(shape(divisor)) !== 1 || !isStatic(mask)) return;
    const ms = [...shape(mask)];
    while (ms.length > 0 && ms[0] === 1) ms.shift();
    const trailing = out.slice(out.length - ms.length);
    if (ms.length === 0 || ms.length > out.length - 1 || ms.join() !== trailing.join()) return;
    found.set(f.id, { softmax: sm.id, x, scale, divisor, mask, maskRows: numel(ms) / n });
  });
  return found;
}
