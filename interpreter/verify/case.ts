/**
 * One generated case of `spikelm verify`, as small data: the free sizes (`B`, `L`, `T`, ...),
 * and for every input, weight and amplitude a value profile and a seed (arbitraries.ts fills
 * the tensor from them); an amplitude may instead be calibrated on the first call; `probe` is
 * dL/doutput for the gradient checks. Being data, a case shrinks (fast-check shrinks
 * profiles towards `normal`, seeds and sizes towards 1) and is written to and read from a
 * replay file exactly.
 */
import fc from "fast-check";
import { type F32Tensor, type Tensor, f32, i32, numel } from "../engine/tensor.js";
import { UserError } from "../io/errors.js";
import type { ParamSpec } from "../ir/graph.js";
import { FINITE_PROFILES, type ValueProfile, fillValues, valueProfileArb } from "./arbitraries.js";
import { type EntrySignature, inputShape } from "./signature.js";

export interface FillSpec {
  readonly profile: ValueProfile;
  readonly seed: number;
}

export interface VerifyCase {
  readonly sizes: Readonly<Record<string, number>>;
  /** Float inputs: a fill; integer inputs (token ids): the fill's seed picks ids in range. */
  readonly inputs: Readonly<Record<string, FillSpec>>;
  readonly weights: Readonly<Record<string, FillSpec>>;
  /** `null`: calibrated on the first call, as a run does. */
  readonly amplitudes: Readonly<Record<string, FillSpec | null>>;
  readonly probe: FillSpec;
}

/** What a case is generated for: the signature and the parameter paths (the same for every size). */
export interface CaseShape {
  readonly signature: EntrySignature;
  readonly weights: readonly string[];
  readonly amplitudes: readonly string[];
  /** Largest free size (smallest is 1). */
  readonly maxSize: number;
}

const seedArb = fc.integer({ min: 1, max: 0x7fffffff });

function fillArb(nonfinite: boolean): fc.Arbitrary<FillSpec> {
  return fc.record({ profile: valueProfileArb({ nonfinite }), seed: seedArb });
}

function recordOf<T>(keys: readonly string[], arb: fc.Arbitrary<T>): fc.Arbitrary<Record<string, T>> {
  return fc.tuple(...keys.map(() => arb)).map((vs) => Object.fromEntries(keys.map((k, i) => [k, vs[i]!])));
}

/** Cases for an entry; with `nonfinite`, fills may hold NaN and ±Infinity. */
export function caseArb(shape: CaseShape, opts: { nonfinite: boolean }): fc.Arbitrary<VerifyCase> {
  const fill = fillArb(opts.nonfinite);
  return fc.record({
    sizes: recordOf(shape.signature.free, fc.integer({ min: 1, max: shape.maxSize })),
    inputs: recordOf(
      shape.signature.inputs.map((i) => i.name),
      fill,
    ),
    weights: recordOf(shape.weights, fill),
    // Calibration on the first call is what runs do; given amplitudes are the edge cases.
    amplitudes: recordOf(shape.amplitudes, fc.option(fill, { nil: null, freq: 2 })),
    // dL/doutput stays finite so that gradients compare on meaningful values more often.
    probe: fillArb(false),
  });
}

/** The number of time steps a case runs. */
function caseTimesteps(shape: CaseShape, c: VerifyCase): number {
  return shape.signature.timesteps ?? c.sizes.T ?? 1;
}

/** The input tensors' shapes of a case. */
export function caseInputShapes(shape: CaseShape, c: VerifyCase): Map<string, { shape: number[]; dtype: "f32" | "i32" }> {
  const T = caseTimesteps(shape, c);
  return new Map(shape.signature.inputs.map((i) => [i.name, { shape: inputShape(i, c.sizes, T), dtype: i.dtype }]));
}

/** Token ids in [0, vocab) from a seed (the same xorshift fill, scaled). */
function ids(n: number, vocab: number, seed: number): Int32Array {
  const u = fillValues(n, "normal", seed);
  return Int32Array.from(u, (v) => Math.min(vocab - 1, Math.floor(((v + 3) / 6) * vocab)));
}

export interface Materialized {
  readonly inputs: Map<string, Tensor>;
  readonly weights: Map<string, Tensor>;
}

/**
 * The tensors of a case. `params` are the compiled graph's parameters (their shapes depend
 * on T); `vocab` gives each integer input's range of values, [0, vocab).
 */
export function materialize(shape: CaseShape, c: VerifyCase, params: readonly ParamSpec[], vocab: ReadonlyMap<string, number>): Materialized {
  const inputs = new Map<string, Tensor>();
  for (const [name, s] of caseInputShapes(shape, c)) {
    const f = c.inputs[name]!;
    inputs.set(name, s.dtype === "i32" ? i32(s.shape, ids(numel(s.shape), vocab.get(name) ?? 2, f.seed)) : f32(s.shape, fillValues(numel(s.shape), f.profile, f.seed)));
  }
  const weights = new Map<string, Tensor>();
  for (const p of params) {
    const f = p.kind === "weight" ? c.weights[p.path] : c.amplitudes[p.path];
    if (!f) continue;
    const values = fillValues(numel(p.shape), f.profile, f.seed);
    // An amplitude is a magnitude: calibration (2 * mean(abs(u))) never gives a negative one.
    if (p.kind === "amplitude") for (let i = 0; i < values.length; i++) values[i] = Math.abs(values[i]!);
    weights.set(p.path, f32(p.shape, values));
  }
  return { inputs, weights };
}

/** dL/doutput for the gradient checks, shaped like the output. */
export function probeTensor(c: VerifyCase, shape: readonly number[]): F32Tensor {
  return f32(shape, fillValues(numel(shape), c.probe.profile, c.probe.seed));
}

// ------------------------------------------------------------------ replay files

const ALL_PROFILES: readonly ValueProfile[] = [...FINITE_PROFILES, "nonfinite"];

/** Reads a case from parsed JSON, checking it against the entry; `where` names the file in messages. */
export function parseCase(json: unknown, shape: CaseShape, where: string): VerifyCase {
  const bad = (msg: string) => new UserError(`${where}: ${msg}`, { file: where });
  const obj = (v: unknown, what: string): Record<string, unknown> => {
    if (!v || typeof v !== "object" || Array.isArray(v)) throw bad(`${what} must be an object`);
    return v as Record<string, unknown>;
  };
  const fill = (v: unknown, what: string): FillSpec => {
    const o = obj(v, what);
    if (typeof o.profile !== "string" || !ALL_PROFILES.includes(o.profile as ValueProfile)) throw bad(`${what}.profile must be one of ${ALL_PROFILES.join(", ")}`);
    if (typeof o.seed !== "number" || !Number.isInteger(o.seed)) throw bad(`${what}.seed must be a whole number`);
    return { profile: o.profile as ValueProfile, seed: o.seed };
  };
  const sameKeys = (o: Record<string, unknown>, keys: readonly string[], what: string) => {
    const have = Object.keys(o).sort().join(", ");
    const want = [...keys].sort().join(", ");
    if (have !== want) throw bad(`${what} has ${have || "nothing"}, but this entry has ${want || "nothing"} (was the case written for another entry or --arg values?)`);
  };
  const c = obj(json, "the case");
  const sizes = obj(c.sizes, "sizes");
  sameKeys(sizes, shape.signature.free, "sizes");
  // Within the sizes the bounds were checked for.
  for (const [k, v] of Object.entries(sizes)) if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > shape.maxSize) throw bad(`sizes.${k} must be a whole number from 1 to ${shape.maxSize}`);
  const inputs = obj(c.inputs, "inputs");
  sameKeys(
    inputs,
    shape.signature.inputs.map((i) => i.name),
    "inputs",
  );
  const weights = obj(c.weights, "weights");
  sameKeys(weights, shape.weights, "weights");
  const amplitudes = obj(c.amplitudes, "amplitudes");
  sameKeys(amplitudes, shape.amplitudes, "amplitudes");
  return {
    sizes: sizes as Record<string, number>,
    inputs: Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, fill(v, `inputs.${k}`)])),
    weights: Object.fromEntries(Object.entries(weights).map(([k, v]) => [k, fill(v, `weights.${k}`)])),
    amplitudes: Object.fromEntries(Object.entries(amplitudes).map(([k, v]) => [k, v === null ? null : fill(v, `amplitudes.${k}`)])),
    probe: fill(c.probe, "probe"),
  };
}

/** One line per tensor, for the counterexample printout. */
export function describeCase(shape: CaseShape, c: VerifyCase): string[] {
  const f = (s: FillSpec) => `${s.profile} (seed ${s.seed})`;
  const lines: string[] = [];
  const sizes = Object.entries(c.sizes);
  if (sizes.length) lines.push(`sizes: ${sizes.map(([k, v]) => `${k} = ${v}`).join(", ")}`);
  for (const [name, s] of caseInputShapes(shape, c)) lines.push(`input ${name} [${s.shape.join(", ")}]: ${s.dtype === "i32" ? `token ids (seed ${c.inputs[name]!.seed})` : f(c.inputs[name]!)}`);
  for (const [k, v] of Object.entries(c.weights)) lines.push(`weight ${k}: ${f(v)}`);
  for (const [k, v] of Object.entries(c.amplitudes)) lines.push(`amplitude ${k}: ${v ? f(v) : "calibrated on the first call"}`);
  lines.push(`dL/doutput for the gradients: ${f(c.probe)}`);
  return lines;
}
