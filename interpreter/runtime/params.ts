/**
 * The parameter store of one model instance: every weight and amplitude by path, with the
 * per-step "calibrated" flags of amplitudes. Built from the IR's parameter list and an
 * optional weights map; anything not given is initialised from the seed (documented in
 * engine/random.ts), and amplitudes not given are calibrated on first use.
 *
 * Nothing half-loads: every problem with the weights map is collected and reported at once.
 */
import { closest } from "../checker/suggest.js";
import { declareFiniteWeights, knownFinite } from "../engine/kernels/spike-matmul.js";
import type { Init } from "../engine/random.js";
import { type Prefill, type SeedJob, prefillStats, seedThreadStats, seededValues } from "./seed-threads.js";
import { type F32Tensor, type Tensor, f32, numel, sameShape, shapeString } from "../engine/tensor.js";
import { UserError } from "../io/errors.js";
import type { Graph, IRNode, ParamSpec } from "../ir/graph.js";

export interface ParamEntry {
  readonly spec: ParamSpec;
  readonly tensor: F32Tensor;
  /** For amplitudes: whether step t has its value (given, or calibrated on a first call). */
  readonly calibrated?: boolean[];
}

export interface ParamStoreOptions {
  readonly seed?: number;
  /**
   * Seed only these rows (any order, repeats and out-of-range ids allowed) of these seeded
   * [rows, width] tables; their other rows stay zero. Only for a store used by one forward
   * that reads those tables solely by gathering those rows (models/tasks.ts runModel checks
   * the graph): a 30522-row embedding table then costs one row per token, not 23 M values.
   */
  readonly onlyRows?: ReadonlyMap<string, ArrayLike<number>>;
  /** Name of the weights source, for messages. */
  readonly source?: string;
  /**
   * Use the given float32 weights' arrays as they are instead of copying them (amplitudes
   * are still copied): for a store private to one forward, whose weights nothing changes
   * while the caller keeps them (models/tasks.ts runModel). A BERT-base file is 440 MB.
   */
  readonly adopt?: boolean;
  /**
   * Tensors already being seeded on another thread (seed-threads.ts, prefillOnThread): a
   * parameter seeded here takes the prefilled tensor of the same path, size, init and seed
   * instead of seeding its own (the same values: they depend on nothing else).
   */
  readonly prefill?: Prefill;
  /** Told which tensors were seeded whole (what a later prefill of this model can start with: param-list.ts). */
  readonly onSeeded?: (jobs: readonly SeedJob[]) => void;
}

export class ParamStore {
  private constructor(readonly entries: ReadonlyMap<string, ParamEntry>) {}

  static create(specs: readonly ParamSpec[], weights: ReadonlyMap<string, Tensor> = new Map(), opts: ParamStoreOptions = {}): ParamStore {
    const seed = opts.seed ?? 0;
    const source = opts.source ?? "weights";
    const entries = new Map<string, ParamEntry>();
    const problems: string[] = [];
    const seeded: ParamSpec[] = [];
    for (const spec of specs) {
      if (entries.has(spec.path)) continue;
      const given = weights.get(spec.path);
      if (given) {
        if (given.dtype !== "f32") problems.push(`tensor "${spec.path}" must be f32, found ${given.dtype}`);
        else if (!sameShape(given.shape, spec.shape)) problems.push(`tensor "${spec.path}" has shape ${shapeString(given.shape)} but the spec declares ${shapeString(spec.shape)}`);
        // (a weight a loader already found finite is not scanned again: a BERT-base file is 110 M values)
        else if (!(spec.kind === "weight" && knownFinite(given.data as Float32Array)) && badValue(spec, given)) problems.push(badValue(spec, given)!);
        else {
          const data = given.data as Float32Array;
          const tensor = f32(spec.shape, opts.adopt && spec.kind === "weight" ? data : data.slice());
          entries.set(spec.path, { spec, tensor, calibrated: spec.kind === "amplitude" ? new Array<boolean>(numel(spec.shape)).fill(true) : undefined });
          // badValue found every value finite
          if (spec.kind === "weight") declareFiniteWeights(tensor.data);
          continue;
        }
      }
      if (spec.kind === "amplitude") entries.set(spec.path, { spec, tensor: f32(spec.shape), calibrated: new Array<boolean>(numel(spec.shape)).fill(false) });
      else if (spec.init.kind === "fill") {
        const tensor = f32(spec.shape, new Float32Array(numel(spec.shape)).fill(spec.init.value));
        if (Number.isFinite(Math.fround(spec.init.value))) declareFiniteWeights(tensor.data);
        entries.set(spec.path, { spec, tensor });
      } else {
        // Filled below, all at once (on two threads when there are many); set now to keep the order.
        seeded.push(spec);
        entries.set(spec.path, { spec, tensor: f32([0]) });
      }
    }
    const jobs: SeedJob[] = seeded.map((spec) => ({ path: spec.path, init: spec.init as Init, size: numel(spec.shape), rows: rowsOf(spec, opts.onlyRows?.get(spec.path)) }));
    opts.onSeeded?.(jobs.filter((j) => !j.rows));
    const prefilled = prefilledValues(opts.prefill, jobs, seed);
    const rest = jobs.flatMap((j, i) => (prefilled[i] ? [] : [i]));
    const made = seededValues(rest.map((i) => jobs[i]!), seed);
    // Tensors prefilled during the compile were seeded on the other thread too.
    if (prefillStats.tensors > 0) {
      seedThreadStats.pieces += prefillStats.tensors;
      seedThreadStats.filledByThread = true;
    }
    const values = prefilled.slice();
    for (const [k, i] of rest.entries()) values[i] = made[k];
    for (const [i, spec] of seeded.entries()) {
      entries.set(spec.path, { spec, tensor: f32(spec.shape, values[i]!) });
      if (seededFinite(spec.init as Init)) declareFiniteWeights(values[i]!);
    }
    const unknown = [...weights.keys()].filter((k) => !entries.has(k));
    for (const [i, k] of unknown.entries()) {
      // Only the first 20 problems are shown; guessing for the rest would cost a pass over
      // every parameter per name (a file of a million unknown names must not hang).
      const guess = i < 20 ? closest(k, entries.keys()) : undefined;
      problems.push(`tensor "${k}" is not a parameter of this spec${guess ? ` (did you mean "${guess}"?)` : ""}`);
    }
    if (problems.length > 0) {
      const shown = problems.slice(0, 20);
      const more = problems.length > shown.length ? `\n  ... and ${problems.length - shown.length} more` : "";
      throw new UserError(`${source}: ${problems.length} problem${problems.length === 1 ? "" : "s"} with the weights:\n  ${shown.join("\n  ")}${more}`, { file: opts.source });
    }
    return new ParamStore(entries);
  }

  get(path: string): ParamEntry {
    const e = this.entries.get(path);
    if (!e) throw new Error(`internal: no parameter "${path}"`);
    return e;
  }

  /** Every parameter's current value (amplitudes included once calibrated). */
  snapshot(): Map<string, F32Tensor> {
    const out = new Map<string, F32Tensor>();
    for (const [k, e] of this.entries) if (!e.calibrated || e.calibrated.every(Boolean)) out.set(k, e.tensor);
    return out;
  }

  /** An independent copy (same values and calibration state). */
  clone(): ParamStore {
    const m = new Map<string, ParamEntry>();
    for (const [k, e] of this.entries) m.set(k, { spec: e.spec, tensor: f32(e.tensor.shape, Float32Array.from(e.tensor.data)), calibrated: e.calibrated ? [...e.calibrated] : undefined });
    return new ParamStore(m);
  }
}

/**
 * The tables of `graph` read only by gathering rows whose ids are one of `inputs`, with
 * those ids: what a store for one forward of `graph` on `inputs` may seed row by row
 * (`onlyRows`). A table with any other use (a tied output layer, a neuron body) is not listed.
 */
export function gatheredRows(graph: Graph, inputs: ReadonlyMap<string, Tensor>): Map<string, number[]> {
  const inputIds = new Map(graph.inputs.map((i) => [i.node, inputs.get(i.name)]));
  const pathOf = new Map(graph.nodes.filter((n) => n.op === "param").map((n) => [n.id, n.attrs.path as string]));
  const rows = new Map<string, number[]>();
  const otherUse = new Set<string>();
  const visit = (nodes: readonly IRNode[]) => {
    for (const n of nodes) {
      const body = (n.attrs as { body?: { nodes?: readonly IRNode[] } }).body;
      if (body?.nodes) {
        // Anything a neuron body names by path is used by the neuron.
        for (const b of body.nodes) if (typeof b.attrs.path === "string") otherUse.add(b.attrs.path);
        visit(body.nodes);
      }
      n.inputs.forEach((id, k) => {
        const path = pathOf.get(id);
        if (path === undefined) return;
        const ids = n.op === "gather" && k === 0 ? inputIds.get(n.inputs[1]!) : undefined;
        if (ids) rows.set(path, [...(rows.get(path) ?? []), ...Array.from(ids.data)]);
        else otherUse.add(path);
      });
    }
  };
  visit(graph.nodes);
  for (const path of otherUse) rows.delete(path);
  return rows;
}

/**
 * For each job, the prefilled tensor seeded exactly as it would be here (same path, size,
 * init and seed, the whole tensor), once the thread is done; undefined for the others (and
 * for all when the thread failed).
 */
function prefilledValues(prefill: Prefill | undefined, jobs: readonly SeedJob[], seed: number): (Float32Array | undefined)[] {
  prefillStats.tensors = 0;
  prefillStats.values = 0;
  if (!prefill || prefill.seed !== seed) return jobs.map(() => undefined);
  const byPath = new Map(prefill.jobs.map((j, i) => [j.path, i]));
  const matches = jobs.map((j) => {
    const i = byPath.get(j.path);
    const p = i === undefined ? undefined : prefill.jobs[i]!;
    return p && !j.rows && !p.rows && p.size === j.size && sameInit(p.init, j.init) ? i : undefined;
  });
  if (matches.every((i) => i === undefined) || !prefill.wait()) return jobs.map(() => undefined);
  return matches.map((i) => {
    if (i === undefined) return undefined;
    prefillStats.tensors++;
    prefillStats.values += prefill.values[i]!.length;
    return prefill.values[i];
  });
}

function sameInit(a: Init, b: Init): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === "uniform") return Object.is(a.bound, (b as typeof a).bound);
  if (a.kind === "normal") return Object.is(a.std, (b as typeof a).std);
  return true;
}

/** The rows of a [n, width] table to seed, ascending and in range (undefined: the whole table). */
function rowsOf(spec: ParamSpec, ids: ArrayLike<number> | undefined): { width: number; indices: number[] } | undefined {
  if (!ids || spec.shape.length !== 2) return undefined;
  const [n, width] = spec.shape as [number, number];
  if (spec.init.kind === "normal" && width % 2 !== 0) return undefined;
  const indices = [...new Set(Array.from(ids))].filter((r) => Number.isInteger(r) && r >= 0 && r < n).sort((a, b) => a - b);
  return { width, indices };
}

/** Largest finite float32. */
const F32_MAX = 3.4028234663852886e38;
/**
 * Whether every value `init` seeds is finite in float32, so the spike kernels need not scan
 * the tensor (engine/kernels/spike-matmul.ts, declareFiniteWeights). Uniform values are
 * fround(bound * v) with |v| <= 1; normal values fround(std * z) with |z| <= 6.67 (Box–Muller
 * on 32-bit words: r = sqrt(-2 ln u1) with u1 >= 2^-32). A bound or std that could overflow
 * float32 is left to the scan.
 */
export function seededFinite(init: Init): boolean {
  switch (init.kind) {
    case "zeros":
    case "ones":
      return true;
    case "uniform":
      return Math.abs(init.bound) <= F32_MAX;
    case "normal":
      return Math.abs(init.std) * 6.67 <= F32_MAX;
  }
}

/**
 * A given value no run can use: a NaN or infinite weight poisons every output, and an
 * amplitude is a spike's magnitude, so it must be positive (the neuron clamps it at 1e-5 to
 * survive a calibration that lands on 0, not to accept a file that says 0 or -2).
 */
function badValue(spec: ParamSpec, given: Tensor): string | undefined {
  const d = given.data as Float32Array;
  const amplitude = spec.kind === "amplitude";
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    // v - v is NaN exactly for NaN and ±Infinity
    if (v - v !== 0) return `tensor "${spec.path}"[${i}] = ${v}: ${amplitude ? "amplitudes" : "weights"} must be finite numbers`;
    if (amplitude && v <= 0) return `amplitude "${spec.path}"[${i}] = ${v}: an amplitude is a spike's magnitude and must be > 0`;
  }
  return undefined;
}
