/**
 * Buffer planning: every node's output gets a typed array sized from its specialised shape,
 * allocated once per executor. Buffers are reused across nodes whose lifetimes do not
 * overlap (a node's buffer is free after its last reader ran), so a forward pass touches a
 * fixed working set and allocates no tensor memory after the first call.
 *
 * Nodes that depend only on weights and constants (a transposed weight, a causal mask) are
 * "static": computed on the first call and kept.
 */
import type { Graph, IRNode } from "../ir/graph.js";
import { numel } from "../engine/tensor.js";
import { alignedArray } from "../engine/kernels/native-backend.js";

export type StorageKind = "f32" | "i32" | "i8";
export type Storage = Float32Array | Int32Array | Int8Array;

export interface PlannedNode {
  readonly node: IRNode;
  readonly shape: readonly number[];
  readonly kind: StorageKind;
  readonly isStatic: boolean;
  /** Index in execution order of the last node reading this one (Infinity: kept). */
  readonly lastUse: number;
}

export interface Plan {
  readonly nodes: readonly PlannedNode[];
  readonly byId: ReadonlyMap<number, PlannedNode>;
  /** Arena buffer for each node that owns one (params, inputs and projections do not). */
  readonly buffers: ReadonlyMap<number, Storage>;
  readonly arenaBytes: number;
  readonly naiveBytes: number;
}

// A cache_concat's buffer is its key/value cache, kept between runs (runtime/planned-cache.ts).
const EXTERNAL = new Set(["param", "input", "neuron", "neuron_out", "cache_concat"]);

/**
 * `keepAll`: no buffer is recycled, so after a run every node's value is still in its
 * buffer (the gradient engine reads the forward's values from there).
 * `inPlace`: node id -> the id of its input whose buffer it takes over (same kind and size,
 * that input read by nobody else): the input's buffer then lives until the node's last use.
 */
export function planBuffers(g: Graph, opts: { readonly keepAll?: boolean; readonly inPlace?: ReadonlyMap<number, number> } = {}): Plan {
  const order = g.nodes;
  const index = new Map(order.map((n, i) => [n.id, i]));
  const byId = new Map(order.map((n) => [n.id, n]));
  const staticIds = new Set<number>();
  for (const n of order) {
    // An offset causal mask (incremental decoding) changes with the positions already cached.
    const src = n.op === "param" || n.op === "const" || (n.op === "causal_mask" && !n.attrs.offset);
    if (src || (!n.type.timed && n.inputs.length > 0 && n.op !== "input" && n.op !== "neuron" && n.inputs.every((i) => staticIds.has(i)))) staticIds.add(n.id);
  }
  // A projection keeps its neuron's buffers alive: uses of projections count as uses of the neuron.
  const lastUse = new Map<number, number>();
  const owner = (id: number) => (byId.get(id)?.op === "neuron_out" ? byId.get(id)!.inputs[0]! : id);
  order.forEach((n, i) => {
    for (const inp of n.inputs) lastUse.set(owner(inp), Math.max(lastUse.get(owner(inp)) ?? -1, i));
  });
  lastUse.set(owner(g.output), Infinity);
  if (opts.keepAll) for (const n of order) lastUse.set(n.id, Infinity);
  // Recorded taps are read after the run, like the output.
  for (const t of g.taps ?? []) lastUse.set(owner(t.node), Infinity);
  // In step mode a timed reader reads a static value at every step, after later nodes (in
  // this order) already ran for earlier steps: such values are never recycled.
  for (const n of order) if (n.type.timed) for (const inp of n.inputs) if (!byId.get(inp)!.type.timed) lastUse.set(owner(inp), Infinity);
  const planned: PlannedNode[] = order.map((node) => ({
    node,
    shape: node.attrs.outShape as number[],
    kind: node.attrs.int8 ? "i8" : node.type.elem === "i32" ? "i32" : "f32",
    isStatic: staticIds.has(node.id),
    lastUse: staticIds.has(node.id) ? Infinity : (lastUse.get(node.id) ?? index.get(node.id)!),
  }));
  const free = new Map<string, Storage[]>();
  const buffers = new Map<number, Storage>();
  const releaseAt = new Map<number, number[]>();
  let arenaBytes = 0;
  let naiveBytes = 0;
  const handedOver = new Set<number>();
  planned.forEach((p, i) => {
    for (const id of releaseAt.get(i - 1) ?? []) {
      if (handedOver.has(id)) continue; // its buffer is another node's now
      const b = buffers.get(id)!;
      const key = `${byId.get(id)!.type.timed ? "timed" : "static"}:${b.constructor.name}:${b.length}`;
      free.set(key, [...(free.get(key) ?? []), b]);
    }
    if (EXTERNAL.has(p.node.op)) return;
    const n = numel(p.shape);
    // Timed and static values live in separate pools: in step mode the static ones of a stage
    // run before its time loop, so sharing across the two would overwrite live values. A
    // mean_time accumulates during the loop, so it never takes a recycled buffer.
    const key = `${p.node.type.timed ? "timed" : "static"}:${p.kind === "f32" ? "Float32Array" : p.kind === "i32" ? "Int32Array" : "Int8Array"}:${n}`;
    naiveBytes += n * (p.kind === "i8" ? 1 : 4);
    const from = opts.inPlace?.get(p.node.id);
    const taken = from !== undefined ? buffers.get(from) : undefined;
    if (from !== undefined && taken !== undefined && taken.length === n && taken.constructor.name === key.split(":")[1]) {
      handedOver.add(from);
      buffers.set(p.node.id, taken);
      if (p.lastUse !== Infinity) releaseAt.set(p.lastUse, [...(releaseAt.get(p.lastUse) ?? []), p.node.id]);
      return;
    }
    const reuse = p.isStatic || p.node.op === "mean_time" ? undefined : free.get(key)?.pop();
    // on 64-byte boundaries where the native kernels run (their vector loads then touch one line each)
    const buf = reuse ?? alignedArray(p.kind, n);
    if (!reuse) arenaBytes += buf.byteLength;
    buffers.set(p.node.id, buf);
    if (p.lastUse !== Infinity) releaseAt.set(p.lastUse, [...(releaseAt.get(p.lastUse) ?? []), p.node.id]);
  });
  return { nodes: planned, byId: new Map(planned.map((p) => [p.node.id, p])), buffers, arenaBytes, naiveBytes };
}
