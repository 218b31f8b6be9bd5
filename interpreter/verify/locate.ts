/**
 * Locating a disagreement: both paths run once more with the `trace` hook (every node's
 * value, interpreter/reference/interpreter.ts `RunOptions.trace`), and the first node of the
 * path under test, in its graph's order, whose value differs from the reference's value for
 * the same node id is the culprit. Passes keep ids (a fused group takes its last op's id and
 * origin, a spike-accumulate its matmul's), so ids line up; nodes a pass created have no
 * counterpart and are skipped.
 */
import { type Tensor, copyTensor } from "../engine/tensor.js";
import type { Graph, IRNode, Origin } from "../ir/graph.js";
import type { TraceFn } from "../reference/interpreter.js";
import { firstDiffIndex } from "./compare.js";

/** Every traced node's value, whole time axis (step-mode slices stacked). */
export class TraceCollector {
  private readonly parts = new Map<number, { node: IRNode; whole?: Tensor; steps: Tensor[] }>();
  /** Nodes in the order they were first reported. */
  readonly order: number[] = [];

  readonly trace: TraceFn = (node, value, t) => {
    let e = this.parts.get(node.id);
    if (!e) {
      e = { node, steps: [] };
      this.parts.set(node.id, e);
      this.order.push(node.id);
    }
    const copy: Tensor = copyTensor(value);
    if (t < 0) e.whole = copy;
    else e.steps.push(copy);
  };

  value(id: number): Tensor | undefined {
    const e = this.parts.get(id);
    if (!e) return undefined;
    if (e.whole) return e.whole;
    if (e.steps.length === 0) return undefined;
    const first = e.steps[0]!;
    const n = first.data.length;
    const data = first.dtype === "i32" ? new Int32Array(n * e.steps.length) : new Float32Array(n * e.steps.length);
    e.steps.forEach((s, k) => data.set(s.data, k * n));
    return { dtype: first.dtype, shape: [e.steps.length, ...first.shape], data } as Tensor;
  }
}

export interface NodeDifference {
  readonly node: IRNode;
  /** Flat index of the first differing element, and its time step when the node is timed. */
  readonly index: number;
  readonly step?: number;
  readonly expected?: number;
  readonly actual?: number;
  readonly shape: readonly number[];
}

/**
 * Spike levels held as int8 have no -0 (docs/language.md: "-0 is stored as 0"), so a level
 * node compares with -0 equal to +0; every other value keeps its sign of zero.
 */
function signedZero(node: IRNode): boolean {
  if (node.op === "neuron_out" && node.attrs.field === "levels") return false;
  return !node.attrs.int8;
}

/** The first node (in `graph` order) whose value in `actual` differs from the one in `expected`. */
export function firstDifferingNode(graph: Graph, expected: TraceCollector, actual: TraceCollector): NodeDifference | undefined {
  for (const node of graph.nodes) {
    if (node.op === "input" || node.op === "neuron") continue;
    const a = actual.value(node.id);
    const e = expected.value(node.id);
    if (!a || !e) continue;
    if (a.shape.join() !== e.shape.join()) return { node, index: -1, shape: a.shape };
    const i = firstDiffIndex(e.data, a.data, signedZero(node));
    if (i < 0) continue;
    const perStep = node.type.timed && a.shape.length > 0 ? a.data.length / a.shape[0]! : 0;
    return { node, index: i, step: perStep ? Math.floor(i / perStep) : undefined, expected: e.data[i], actual: a.data[i], shape: a.shape };
  }
  return undefined;
}

/**
 * For a path that threw: the first node (in `graph` order) the reference computed and the
 * path did not, i.e. the op it failed in. Sources (params, constants, inputs) are never traced
 * by the executor, and neurons only through their projections, so they are skipped.
 */
export function firstMissingNode(graph: Graph, expected: TraceCollector, actual: TraceCollector): IRNode | undefined {
  return graph.nodes.find((n) => !["input", "param", "const", "neuron"].includes(n.op) && expected.value(n.id) !== undefined && actual.value(n.id) === undefined);
}

/** `file:line:col` of an origin, through a function that maps a uri and offset to a position. */
export function originText(origin: Origin | undefined, position: (uri: string, offset: number) => { line: number; character: number } | undefined, show: (uri: string) => string = (u) => u): string | undefined {
  if (!origin) return undefined;
  const p = position(origin.uri, origin.span.start);
  return p ? `${show(origin.uri)}:${p.line + 1}:${p.character + 1}` : show(origin.uri);
}
