/**
 * Operation counts, energy and spike statistics of one real forward run, gathered through
 * the reference interpreter's `observe` hook (multi-step mode: each op is seen once with
 * its whole-time-axis values) plus the recorded spike levels of every neuron.
 *
 * What is counted, per op of the forward graph (neuron membrane updates are not counted,
 * as in the SpikeLM paper; `over_time`/`mean_time` copies and averages are not counted):
 *
 * | op | counted as |
 * |---|---|
 * | matmul, a spike operand on the left (`levels @ W`, [.., M, K] @ [K, N]) | ACs: one per nonzero spike × fan-out N |
 * | matmul, a spike operand on the right (`Q @ levelsᵀ`, `A @ levels`) | ACs: one per nonzero spike × fan-out M (rows of the left operand) |
 * | matmul, both operands spikes | ACs: nonzero spikes of the left × N |
 * | matmul, no spike operand (a float matmul) | MACs: M·K·N per batch matrix |
 * | `mul` of a spike matmul's result by its amplitude (`alpha × (levels @ W)`) | MACs: 1 per output element ("scale") |
 * | softmax | MACs: 4 per element (subtract max, exp, add to sum, divide) |
 * | layernorm | MACs: 5 per element (add to mean, subtract mean, square-accumulate, scale by 1/σ, γ·x+β) |
 * | gelu, tanh, exp, log, sqrt, erf | MACs: 1 per element ("nonlinear") |
 * | other elementwise float ops (bias and residual adds, the 1/√d scale, the mask) | MACs: 1 per element ("elementwise") |
 * | sum / mean / max over axes | MACs: 1 per input element |
 * | layout ops, gather (embedding lookup), positions, masks, indexing | nothing (memory only) |
 *
 * Energy: 0.9 pJ per AC, 4.6 pJ per MAC (45 nm, Horowitz ISSCC 2014). Every float op is
 * priced as a MAC, additions included (an upper bound on the float part).
 *
 * The same model as a dense ANN: one pass (no time steps), every matmul dense (M·K·N MACs),
 * the other float ops as above, no amplitude scaling: each timed op's count divided by T.
 *
 * Grouping ("layers"): each op is attributed to the instance path of the layer that owns it:
 * a weight's path without its last segment (`blocks.0.up.W` → `blocks.0.up`), a neuron's path
 * without its field name (`blocks.0.up.fire` → `blocks.0.up`, `blocks.0.attn.kfire` →
 * `blocks.0.attn`); an op with weight operands (directly or through a transpose) belongs to
 * their layer; otherwise to the common parent of its operands' layers when they are siblings
 * or parent and child (`word(ids) + position(p)` → `embeddings`; `Q @ Kᵀ` → `blocks.0.attn`),
 * else to the layer of its most recently computed operand (`x + proj(...)` → `blocks.0.proj`).
 * The entry's own weights and ops on the inputs only (the padding mask) belong to `(top)`.
 */
import type { Tensor } from "../engine/tensor.js";
import { numel } from "../engine/tensor.js";
import type { Graph, IRNode, NeuronAttrs } from "../ir/graph.js";
import type { NeuronRecord } from "../reference/interpreter.js";
import { dimValue } from "../types/dims.js";

export const PJ_PER_AC = 0.9;
export const PJ_PER_MAC = 4.6;

export type OpCategory = "spike_matmul" | "float_matmul" | "scale" | "softmax" | "layernorm" | "nonlinear" | "elementwise" | "reduce";

/** MACs per output element (per input element for reductions), by op. */
const MACS_PER_ELEMENT: Readonly<Record<string, { readonly category: OpCategory; readonly macs: number }>> = {
  softmax: { category: "softmax", macs: 4 },
  layernorm: { category: "layernorm", macs: 5 },
  gelu: { category: "nonlinear", macs: 1 },
  tanh: { category: "nonlinear", macs: 1 },
  exp: { category: "nonlinear", macs: 1 },
  log: { category: "nonlinear", macs: 1 },
  sqrt: { category: "nonlinear", macs: 1 },
  erf: { category: "nonlinear", macs: 1 },
  add: { category: "elementwise", macs: 1 },
  sub: { category: "elementwise", macs: 1 },
  mul: { category: "elementwise", macs: 1 },
  div: { category: "elementwise", macs: 1 },
  max: { category: "elementwise", macs: 1 },
  min: { category: "elementwise", macs: 1 },
  at_least: { category: "elementwise", macs: 1 },
  neg: { category: "elementwise", macs: 1 },
  abs: { category: "elementwise", macs: 1 },
  relu: { category: "elementwise", macs: 1 },
  round: { category: "elementwise", macs: 1 },
  sign: { category: "elementwise", macs: 1 },
  heaviside: { category: "elementwise", macs: 1 },
  clamp: { category: "elementwise", macs: 1 },
  to_f32: { category: "elementwise", macs: 1 },
  sum: { category: "reduce", macs: 1 },
  mean: { category: "reduce", macs: 1 },
};

const LAYOUT = new Set(["transpose", "reshape", "split_heads", "merge_heads", "index"]);
/** Ops the reference interpreter does not pass to `observe` (sources, time, neurons, masks and positions, caches). */
const UNOBSERVED = new Set(["const", "input", "param", "over_time", "mean_time", "neuron", "neuron_out", "causal_mask", "positions", "cache_concat"]);
/** The layer of the entry's own ops (weights declared at the top, ops on the inputs only). */
export const TOP_SCOPE = "(top)";

/** Spikes of each sign in a levels tensor. */
export function countSigns(levels: ArrayLike<number>): { pos: number; neg: number } {
  let pos = 0;
  let neg = 0;
  for (let i = 0; i < levels.length; i++) {
    if (levels[i]! > 0) pos++;
    else if (levels[i]! < 0) neg++;
  }
  return { pos, neg };
}
const INPUTS_SCOPE = TOP_SCOPE;

export interface NeuronStats {
  readonly path: string;
  readonly neuron: string;
  /** The layer it belongs to. */
  readonly layer: string;
  /** Shape of its levels, [T, ...]. */
  readonly shape: readonly number[];
  readonly pos: number;
  readonly neg: number;
  readonly rate_pos: number;
  readonly rate_neg: number;
  readonly rate: number;
  /** Nonzero spikes over all T steps and features, per input token. */
  readonly spikes_per_token: number;
  /** Accumulates its spikes cause in the matmuls they feed. */
  readonly acs: number;
  /** The amplitude per step (undefined for unscaled spikes). */
  readonly alpha?: readonly number[];
}

export interface MatmulStats {
  readonly layer: string;
  /** `file:line:col` of the `@` in the spec. */
  readonly origin: string;
  readonly spike: "left" | "right" | "both" | "none";
  /** The neuron whose spikes are the spike operand. */
  readonly neuron?: string;
  readonly batch: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly acs: number;
  readonly macs: number;
  readonly ann_macs: number;
}

export interface LayerStats {
  readonly name: string;
  readonly neurons: readonly string[];
  readonly rate_pos: number | null;
  readonly rate_neg: number | null;
  readonly spikes_per_token: number | null;
  readonly acs: number;
  readonly macs: number;
  readonly energy_pj: number;
  readonly ann_macs: number;
  readonly ann_energy_pj: number;
  /** MACs by category, ACs under "spike_matmul". */
  readonly ops: Readonly<Partial<Record<OpCategory, number>>>;
}

export interface NonSpikeMatmul {
  readonly layer: string;
  readonly origin: string;
  readonly shape: string;
  readonly macs: number;
  /** Share of all operations (ACs + MACs) of the run. */
  readonly share_of_ops: number;
  /** Share of all matmul operations (ACs + MACs of matmuls). */
  readonly share_of_matmul_ops: number;
}

/** A sampled spike raster of one neuron: first sequence, some tokens and features. */
export interface Raster {
  readonly path: string;
  readonly T: number;
  readonly tokens: number;
  readonly features: readonly number[];
  /** levels[f][token * T + t] ∈ {-1, 0, 1}. */
  readonly levels: readonly (readonly number[])[];
}

export interface SpikeReport {
  readonly model: string;
  readonly timesteps: number;
  readonly tokens: number;
  readonly costs: { readonly pj_per_ac: number; readonly pj_per_mac: number };
  readonly layers: readonly LayerStats[];
  readonly neurons: readonly NeuronStats[];
  readonly matmuls: readonly MatmulStats[];
  readonly non_spike_matmuls: readonly NonSpikeMatmul[];
  readonly total: {
    readonly acs: number;
    readonly macs: number;
    readonly energy_pj: number;
    readonly ann_macs: number;
    readonly ann_energy_pj: number;
    /** ann_energy_pj / energy_pj. */
    readonly energy_saving: number;
    readonly rate_pos: number;
    readonly rate_neg: number;
    readonly spikes_per_token: number;
    readonly spike_matmuls: number;
    readonly float_matmuls: number;
    /** True when every matmul has a spike operand. */
    readonly spike_driven: boolean;
    /** Share of all matmul operations carried by matmuls without a spike operand. */
    readonly non_spike_matmul_share: number;
    readonly ops: Readonly<Partial<Record<OpCategory, number>>>;
  };
  readonly rasters: readonly Raster[];
}

interface LayerAcc {
  acs: number;
  macs: number;
  ann: number;
  ops: Partial<Record<OpCategory, number>>;
}

/** Counts a run's operations; pass `observe` to the reference interpreter, then `finish`. */
export class OpCounter {
  private readonly byId: Map<number, IRNode>;
  private readonly order = new Map<number, number>();
  private readonly scope = new Map<number, string>();
  private readonly layers = new Map<string, LayerAcc>();
  private readonly matmuls: MatmulStats[] = [];
  private readonly neuronAcs = new Map<string, number>();
  /** Each neuron path's layer, in graph order. */
  private readonly neuronLayer = new Map<string, { layer: string; neuron: string }>();

  constructor(
    readonly graph: Graph,
    private readonly locate: (node: IRNode) => string = (n) => (n.origin ? `${n.origin.uri}@${n.origin.span.start}` : "?"),
  ) {
    this.byId = new Map(graph.nodes.map((n) => [n.id, n]));
    graph.nodes.forEach((n, i) => this.order.set(n.id, i));
    for (const n of graph.nodes) this.scope.set(n.id, this.scopeOf(n));
    // Layers in the order their first counted op or neuron appears in the graph.
    for (const n of graph.nodes) {
      if (n.op === "neuron") {
        const a = n.attrs as unknown as NeuronAttrs;
        this.neuronLayer.set(a.path, { layer: this.scope.get(n.id)!, neuron: a.neuron });
      }
      if (n.op === "neuron" || n.op === "matmul" || MACS_PER_ELEMENT[n.op]) this.layer(this.scope.get(n.id)!);
    }
  }

  private scopeOf(n: IRNode): string {
    if (n.op === "param") return parent(String(n.attrs.path));
    if (n.op === "neuron") return parent(String((n.attrs as unknown as NeuronAttrs).path));
    if (n.op === "input" || n.op === "const") return "";
    // Weights, also through layout ops (`x @ transpose(W)`), name the layer that owns the op.
    const weightScopes: string[] = [];
    for (const i of n.inputs) {
      let w = this.byId.get(i);
      while (w && LAYOUT.has(w.op)) w = this.byId.get(w.inputs[0]!);
      if (w?.op === "param") weightScopes.push(this.scope.get(w.id)!);
    }
    if (weightScopes.length > 0) return commonPrefix(weightScopes);
    let best = "";
    let bestOrder = -1;
    const scopes: string[] = [];
    for (const i of n.inputs) {
      const s = this.scope.get(i) ?? "";
      const o = this.order.get(i) ?? -1;
      if (s) scopes.push(s);
      if (s && o > bestOrder) {
        best = s;
        bestOrder = o;
      }
    }
    // Operands of sibling layers (`word(ids) + position(...)`), or of a layer and its parent
    // (`Q @ Kᵀ` in `attn`): the common parent. Otherwise the latest operand's layer.
    const cp = commonPrefix(scopes);
    if (cp && scopes.every((x) => x === cp || parent(x) === cp)) return cp;
    return best;
  }

  private layer(name: string): LayerAcc {
    const key = name || INPUTS_SCOPE;
    let l = this.layers.get(key);
    if (!l) {
      l = { acs: 0, macs: 0, ann: 0, ops: {} };
      this.layers.set(key, l);
    }
    return l;
  }

  /** The neuron whose levels reach `id` through layout ops only. */
  private spikeSource(id: number): string | undefined {
    let n = this.byId.get(id);
    while (n && LAYOUT.has(n.op)) n = this.byId.get(n.inputs[0]!);
    if (n?.op !== "neuron_out") return undefined;
    const neuron = this.byId.get(n.inputs[0]!);
    return neuron ? (neuron.attrs as unknown as NeuronAttrs).path : undefined;
  }

  private isScaleMul(n: IRNode): boolean {
    if (n.op !== "mul" || n.inputs.length !== 2) return false;
    const [s, m] = n.inputs.map((i) => this.byId.get(i)!);
    return s!.op === "neuron_out" && s!.attrs.field === "scale" && m!.op === "matmul" && m!.attrs.spike !== "none";
  }

  private add(node: IRNode, category: OpCategory, acs: number, macs: number, ann: number): void {
    const l = this.layer(this.scope.get(node.id) ?? "");
    l.acs += acs;
    l.macs += macs;
    l.ann += ann;
    l.ops[category] = (l.ops[category] ?? 0) + acs + macs;
  }

  /** The reference interpreter's `observe` hook: one op with its operand and result values. */
  readonly observe = (node: IRNode, inputs: readonly Tensor[], output: Tensor): void => {
    this.count(
      node,
      inputs.map((x) => x.shape),
      output.shape,
      (i) => countNonzero(inputs[i]!),
    );
  };

  /**
   * Counts every op the reference interpreter's `observe` sees, in its order, from shapes
   * alone, with the nonzero count of each spike operand from `nonzeros` (node id): for a run
   * on another executor (see run.ts), whose graph is not this one.
   */
  countFromShapes(nonzeros: (id: number) => number): void {
    const T = this.graph.timesteps;
    const shapeOf = (id: number): number[] => {
      const n = this.byId.get(id)!;
      const dims = n.type.shape.map((d) => {
        const v = dimValue(d);
        if (v === undefined) throw new Error(`internal: node %${id} has a symbolic shape`);
        return v;
      });
      return n.type.timed ? [T, ...dims] : dims;
    };
    for (const node of this.graph.nodes) {
      if (UNOBSERVED.has(node.op)) continue;
      this.count(
        node,
        node.inputs.map(shapeOf),
        shapeOf(node.id),
        (i) => nonzeros(node.inputs[i]!),
      );
    }
  }

  /** Counts one op from its operand and result shapes; `nonzeros(i)`: nonzero elements of operand i. */
  private count(node: IRNode, shapes: readonly (readonly number[])[], outShape: readonly number[], nonzeros: (input: number) => number): void {
    const T = this.graph.timesteps;
    const perPass = node.type.timed ? T : 1;
    if (node.op === "matmul") {
      const [a, b] = shapes as [readonly number[], readonly number[]];
      const M = a[a.length - 2] ?? 1;
      const K = a[a.length - 1] ?? 1;
      const N = b[b.length - 1] ?? 1;
      const batch = numel(outShape) / (M * N);
      const dense = batch * M * K * N;
      const spike = (node.attrs.spike as MatmulStats["spike"] | undefined) ?? "none";
      let acs = 0;
      let neuron: string | undefined;
      if (spike !== "none") {
        const left = spike !== "right";
        const s = left ? a : b;
        const nnz = nonzeros(left ? 0 : 1);
        const spikeBatch = numel(s) / (left ? M * K : K * N);
        acs = nnz * (left ? N : M) * (batch / spikeBatch);
        neuron = this.spikeSource(node.inputs[left ? 0 : 1]!);
        if (neuron) this.neuronAcs.set(neuron, (this.neuronAcs.get(neuron) ?? 0) + acs);
      }
      const macs = spike === "none" ? dense : 0;
      const stats: MatmulStats = { layer: this.scope.get(node.id) || INPUTS_SCOPE, origin: this.locate(node), spike, neuron, batch, m: M, k: K, n: N, acs, macs, ann_macs: dense / perPass };
      this.matmuls.push(stats);
      this.add(node, spike === "none" ? "float_matmul" : "spike_matmul", acs, macs, dense / perPass);
      return;
    }
    if (this.isScaleMul(node)) {
      this.add(node, "scale", 0, numel(outShape), 0);
      return;
    }
    const cost = MACS_PER_ELEMENT[node.op];
    if (!cost) return;
    const elements = cost.category === "reduce" ? numel(shapes[0]!) : numel(outShape);
    const macs = cost.macs * elements;
    this.add(node, cost.category, 0, macs, macs / perPass);
  }

  finish(record: ReadonlyMap<string, NeuronRecord>, meta: { model: string; tokens: number; rasterTokens?: number; rasterFeatures?: number }): SpikeReport {
    const T = this.graph.timesteps;
    const tokens = Math.max(1, meta.tokens);
    const neurons: NeuronStats[] = [];
    const rasters: Raster[] = [];
    for (const [path, r] of record) {
      const base = path.replace(/#\d+$/, "");
      const info = this.neuronLayer.get(base);
      const d = r.levels.data;
      const { pos, neg } = countSigns(d);
      const n = Math.max(1, d.length);
      neurons.push({
        path,
        neuron: info?.neuron ?? "?",
        layer: info?.layer || INPUTS_SCOPE,
        shape: r.levels.shape,
        pos,
        neg,
        rate_pos: pos / n,
        rate_neg: neg / n,
        rate: (pos + neg) / n,
        spikes_per_token: (pos + neg) / tokens,
        acs: path === base ? (this.neuronAcs.get(base) ?? 0) : 0,
        alpha: r.scale ? Array.from(r.scale) : undefined,
      });
      rasters.push(sampleRaster(path, r, T, meta.rasterTokens ?? 16, meta.rasterFeatures ?? 32));
    }

    const layers: LayerStats[] = [];
    const totalOps: Partial<Record<OpCategory, number>> = {};
    for (const [name, l] of this.layers) {
      const ns = neurons.filter((x) => x.layer === name);
      const el = ns.reduce((s, x) => s + numel(x.shape), 0);
      const pos = ns.reduce((s, x) => s + x.pos, 0);
      const neg = ns.reduce((s, x) => s + x.neg, 0);
      if (l.acs === 0 && l.macs === 0 && ns.length === 0) continue;
      for (const [k, v] of Object.entries(l.ops)) totalOps[k as OpCategory] = (totalOps[k as OpCategory] ?? 0) + v;
      layers.push({
        name,
        neurons: ns.map((x) => x.path),
        rate_pos: ns.length ? pos / Math.max(1, el) : null,
        rate_neg: ns.length ? neg / Math.max(1, el) : null,
        spikes_per_token: ns.length ? (pos + neg) / tokens : null,
        acs: l.acs,
        macs: l.macs,
        energy_pj: l.acs * PJ_PER_AC + l.macs * PJ_PER_MAC,
        ann_macs: l.ann,
        ann_energy_pj: l.ann * PJ_PER_MAC,
        ops: l.ops,
      });
    }
    const acs = layers.reduce((s, l) => s + l.acs, 0);
    const macs = layers.reduce((s, l) => s + l.macs, 0);
    const ann = layers.reduce((s, l) => s + l.ann_macs, 0);
    const energy = acs * PJ_PER_AC + macs * PJ_PER_MAC;
    const matmulOps = this.matmuls.reduce((s, m) => s + m.acs + m.macs, 0);
    const float = this.matmuls.filter((m) => m.spike === "none");
    const non_spike_matmuls: NonSpikeMatmul[] = float.map((m) => ({
      layer: m.layer,
      origin: m.origin,
      shape: `${m.batch}×[${m.m}×${m.k}]@[${m.k}×${m.n}]`,
      macs: m.macs,
      share_of_ops: m.macs / Math.max(1, acs + macs),
      share_of_matmul_ops: m.macs / Math.max(1, matmulOps),
    }));
    const el = neurons.reduce((s, x) => s + numel(x.shape), 0);
    const pos = neurons.reduce((s, x) => s + x.pos, 0);
    const neg = neurons.reduce((s, x) => s + x.neg, 0);
    return {
      model: meta.model,
      timesteps: T,
      tokens,
      costs: { pj_per_ac: PJ_PER_AC, pj_per_mac: PJ_PER_MAC },
      layers,
      neurons,
      matmuls: this.matmuls,
      non_spike_matmuls,
      total: {
        acs,
        macs,
        energy_pj: energy,
        ann_macs: ann,
        ann_energy_pj: ann * PJ_PER_MAC,
        energy_saving: (ann * PJ_PER_MAC) / Math.max(Number.MIN_VALUE, energy),
        rate_pos: pos / Math.max(1, el),
        rate_neg: neg / Math.max(1, el),
        spikes_per_token: (pos + neg) / tokens,
        spike_matmuls: this.matmuls.length - float.length,
        float_matmuls: float.length,
        spike_driven: float.length === 0,
        non_spike_matmul_share: float.reduce((s, m) => s + m.macs, 0) / Math.max(1, matmulOps),
        ops: totalOps,
      },
      rasters,
    };
  }
}

const parent = (p: string) => (p.includes(".") ? p.slice(0, p.lastIndexOf(".")) : "");

/** The longest common prefix of dotted paths, by whole segments. */
function commonPrefix(paths: readonly string[]): string {
  if (paths.length === 0) return "";
  const parts = paths.map((p) => p.split("."));
  const common: string[] = [];
  for (let k = 0; parts.every((p) => p[k] !== undefined && p[k] === parts[0]![k]); k++) common.push(parts[0]![k]!);
  return common.join(".");
}

function countNonzero(t: Tensor): number {
  const d = t.data;
  let c = 0;
  for (let i = 0; i < d.length; i++) if (d[i] !== 0) c++;
  return c;
}

/** Levels [T, B, ..., L, F] → the first sequence's first tokens and evenly spaced features. */
function sampleRaster(path: string, r: NeuronRecord, T: number, maxTokens: number, maxFeatures: number): Raster {
  const shape = r.levels.shape;
  const F = shape[shape.length - 1] ?? 1;
  const L = shape.length >= 3 ? shape[shape.length - 2]! : 1;
  const perStep = numel(shape.slice(1));
  const tokens = Math.min(L, maxTokens);
  const nf = Math.min(F, maxFeatures);
  const features = Array.from({ length: nf }, (_, i) => Math.floor((i * F) / nf));
  const levels = features.map((f) => {
    const row: number[] = [];
    for (let l = 0; l < tokens; l++) for (let t = 0; t < T; t++) row.push(r.levels.data[t * perStep + l * F + f]! + 0);
    return row;
  });
  return { path, T, tokens, features, levels };
}
