/**
 * Incremental decoding, derived from the graph: for a causal model, the key/value cache is
 * not written by hand but found by following the sequence axis of the token ids through the
 * IR. Every tensor gets, per axis, a label: Q (the new positions of this call) or K (all
 * positions so far). A matmul that contracts a K axis of one operand against a Q axis of the
 * other (`A @ V`), or whose right operand carries Q on its output axis (`Q @ Kᵀ`), needs the
 * earlier positions of that operand: a `cache_concat` node is inserted there, which appends
 * this call's values to a cache and returns everything so far (for `Q @ transpose(K)` it goes
 * before the transpose: the cache holds K, one row per position). Causal masks and position
 * ids become offset by the number of cached positions. Every node with an axis over all
 * positions so far is listed in `keyAxes`, for executors that plan buffers ahead.
 *
 * Each cache site records what its operand holds (`values`, from the operand's value set).
 * With the stdlib's attention the cached operands are the spike levels of keys and values
 * (the lowering factors their per-step amplitudes out of the matmul), which
 * runtime/spike-cache.ts stores as int8; anything that is not a spike it stores as float32.
 *
 * Anything that would mix positions in a non-causal way (reducing or reshaping over the
 * sequence axis, normalising across it, an unmasked attention) makes the model not
 * incremental: `incrementalize` throws `NotIncremental` naming the op.
 */
import type { Graph, IRNode } from "../ir/graph.js";
import { opDef } from "../ir/ops.js";
import type { CacheValues } from "../runtime/spike-cache.js";

export class NotIncremental extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotIncremental";
  }
}

/** Right-aligned axis positions (-1 = last) of the sequence axes of a node's per-step shape. */
interface Labels {
  readonly q?: number;
  readonly k?: number;
}

export interface CacheSite {
  /** The cache_concat node. */
  readonly node: number;
  /** Right-aligned axis the cache grows along. */
  readonly axis: number;
  /** What the cached operand holds: spike levels, levels × a per-step amplitude, or reals. */
  readonly values: CacheValues;
  readonly description: string;
}

export interface IncrementalGraph {
  readonly graph: Graph;
  readonly caches: readonly CacheSite[];
  /**
   * Every node with an axis over all positions so far (its length grows call after call),
   * by id: that axis, right-aligned. The optimized executor plans these nodes for a maximum
   * key length and runs them at the current one.
   */
  readonly keyAxes: ReadonlyMap<number, number>;
}

/** A transpose that swaps the last two axes and nothing else. */
function swapsLastTwo(n: IRNode): boolean {
  if (n.op !== "transpose") return false;
  const perm = n.attrs.perm as number[];
  const r = perm.length;
  return r >= 2 && perm[r - 1] === r - 2 && perm[r - 2] === r - 1 && perm.slice(0, -2).every((a, i) => a === i);
}

export function incrementalize(g: Graph, idsInput: string): IncrementalGraph {
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const labels = new Map<number, Labels>();
  const rank = (n: IRNode) => n.type.shape.length;
  const where = (n: IRNode) => `\`${n.op}\` (node %${n.id}${n.origin ? ` at offset ${n.origin.span.start}` : ""})`;
  const nextId = { value: Math.max(...g.nodes.map((n) => n.id)) + 1 };
  const out: IRNode[] = [];
  const caches: CacheSite[] = [];
  const replaced = new Map<number, number>();
  const inputOf = (id: number) => replaced.get(id) ?? id;

  const extend = (operand: number, axis: number, why: string): number => {
    const src = byId.get(operand)!;
    // Keys arrive transposed (Q @ transpose(K)): the cache holds K itself, growing along its
    // rows, and the transpose is applied to the whole cache. Same values; appending a
    // position then adds a row per head rather than a column, and the optimized executor's
    // spike kernels read the cache in the K-major layout they take for Q @ Kᵀ.
    if (axis === -1 && swapsLastTwo(src)) {
      const inner = extend(src.inputs[0]!, -2, why);
      const id = nextId.value++;
      out.push({ ...src, id, inputs: [inner] });
      labels.set(id, { k: -1 });
      return id;
    }
    const id = nextId.value++;
    const kind = src.type.values.kind;
    const values: CacheValues = kind === "levels" || kind === "scaled" ? kind : "real";
    out.push({ id, op: "cache_concat", inputs: [operand], attrs: { axis, values }, type: src.type, origin: src.origin });
    caches.push({ node: id, axis, values, description: why });
    labels.set(id, { k: axis });
    return id;
  };

  for (const n0 of g.nodes) {
    const n: IRNode = { ...n0, inputs: n0.inputs.map(inputOf) };
    const ins = n.inputs.map((i) => labels.get(i) ?? {});
    const any = ins.some((l) => l.q !== undefined || l.k !== undefined);
    let lab: Labels = {};
    switch (n.op) {
      case "input":
        if (n.attrs.name === idsInput) lab = { q: -1 };
        break;
      case "positions":
        out.push({ ...n, attrs: { ...n.attrs, offset: true } });
        labels.set(n.id, { q: -1 });
        continue;
      case "causal_mask":
        if (!n.attrs.enabled) throw new NotIncremental(`attention without a causal mask at ${where(n)}: every position sees the future`);
        out.push({ ...n, attrs: { ...n.attrs, offset: true } });
        labels.set(n.id, { q: -2, k: -1 });
        continue;
      case "gather":
        lab = ins[1]!.q !== undefined ? { q: ins[1]!.q - 1 } : {};
        break;
      case "over_time":
      case "mean_time":
      case "neuron":
      case "neuron_out":
      case "to_f32":
        lab = ins[0] ?? {};
        if (n.op === "neuron_out" && n.attrs.field === "scale") lab = {};
        break;
      case "split_heads":
      case "merge_heads": {
        const l = ins[0]!;
        if (l.q === -1 || l.k === -1) throw new NotIncremental(`${n.op} over the sequence axis at ${where(n)}`);
        lab = l;
        break;
      }
      case "transpose": {
        const perm = n.attrs.perm as number[];
        const r = rank(n);
        const map = (ax: number | undefined) => (ax === undefined ? undefined : perm.indexOf(r + ax) - r);
        lab = { q: map(ins[0]!.q), k: map(ins[0]!.k) };
        break;
      }
      case "layernorm":
      case "softmax":
        if (ins[0]!.q === -1) throw new NotIncremental(`${n.op} across the sequence axis at ${where(n)}`);
        lab = ins[0]!;
        break;
      case "matmul": {
        const [a, b] = ins as [Labels, Labels];
        if (a.q === -1) throw new NotIncremental(`a matmul contracting over the query positions at ${where(n)}`);
        let bId = n.inputs[1]!;
        let bl = b;
        if (b.q === -1) {
          bId = extend(bId, -1, "keys (the right operand of Q @ Kᵀ)");
          bl = { k: -1 };
        } else if (b.q === -2 && a.k === -1) {
          bId = extend(bId, -2, "values (the right operand of A @ V)");
          bl = { k: -2 };
        }
        if ((a.q !== undefined && a.q < -2) || (bl.q !== undefined && bl.q !== -2) || (bl.k !== undefined && bl.k < -2)) throw new NotIncremental(`a batched matmul over the sequence axis at ${where(n)}`);
        lab = { q: a.q === -2 ? -2 : undefined, k: bl.k === -1 ? -1 : undefined };
        out.push({ ...n, inputs: [n.inputs[0]!, bId] });
        labels.set(n.id, lab);
        continue;
      }
      default: {
        const def = opDef(n.op);
        if (def.elementwise) {
          const qs = new Set(ins.map((l) => l.q).filter((x) => x !== undefined));
          const ks = new Set(ins.map((l) => l.k).filter((x) => x !== undefined));
          if (qs.size > 1 || ks.size > 1) throw new NotIncremental(`operands of ${where(n)} disagree on the sequence axis`);
          lab = { q: [...qs][0], k: [...ks][0] };
        } else if (any) {
          throw new NotIncremental(`${where(n)} works across the sequence axis`);
        }
      }
    }
    out.push(n);
    labels.set(n.id, lab);
  }
  const keyAxes = new Map<number, number>();
  for (const [id, l] of labels) if (l.k !== undefined) keyAxes.set(id, l.k);
  return { graph: { ...g, nodes: out }, caches, keyAxes };
}
