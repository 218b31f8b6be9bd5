/**
 * Weights in another program's naming (the PyTorch `state_dict` of the reference code) ↔
 * the spec's parameter paths, through a declared mapping table (data, not code).
 *
 * A mapping is a list of rows `[referencePattern, specPath]`. Placeholders:
 * - `{i}`: a layer index (any whole number); the same number is substituted on both sides;
 * - `{t}`: a time step. A row with `{t}` maps T reference tensors that are 0-d scalars
 *   (`...act_clip_val.0` … `.{T-1}`) onto one spec amplitude of shape [T], stacked in order.
 * `ignored` rows are reference names a checkpoint may hold that the spec has no use for
 * (e.g. `weight_clip_val`, `bert.embeddings.position_ids`); `{*}` there matches any text.
 * `tied` rows `[alias, primary]` are two reference names of one tensor (BERT's
 * `cls.predictions.decoder.weight` IS `bert.embeddings.word_embeddings.weight`): importing,
 * the alias must hold exactly the primary's values (or stand in for it when the file has
 * only the alias); exporting writes both names, as PyTorch's `state_dict` does.
 *
 * Importing checks everything before anything is used, and reports every problem at once in
 * one UserError: missing tensors, extra (unknown) tensors, wrong dtype (integer where float),
 * wrong shape, and NaN/Infinity (with name and index). Nothing half-loads.
 */
import { closest } from "../interpreter/checker/suggest.js";
import { type F32Tensor, type Tensor, copyTensor, f32, numel, sameShape, shapeString } from "../interpreter/engine/tensor.js";
import { UserError } from "../interpreter/io/errors.js";
import { findNonFinite } from "../interpreter/io/weights.js";
import { declareFiniteWeights } from "../interpreter/engine/kernels/spike-matmul.js";
import type { ParamSpec } from "../interpreter/ir/graph.js";

export type MappingRow = readonly [reference: string, spec: string];
export type IgnoredRow = readonly [reference: string, reason: string];
export type TiedRow = readonly [alias: string, primary: string];

export interface WeightMapping {
  /** Name of the mapping, for messages ("spikelm-encoder", ...). */
  readonly name: string;
  readonly rows: readonly MappingRow[];
  readonly ignored: readonly IgnoredRow[];
  /** Reference names that are the same tensor as another (exact names, no placeholders). */
  readonly tied?: readonly TiedRow[];
}

interface CompiledRow {
  readonly row: MappingRow;
  readonly ref: RegExp;
  readonly spec: RegExp;
  readonly timed: boolean;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

function patternRegex(pattern: string): RegExp {
  const src = escape(pattern)
    .replace(/\\\{i\\\}/g, "(?<i>\\d+)")
    .replace(/\\\{t\\\}/g, "(?<t>\\d+)")
    .replace(/\\\{\\\*\\\}/g, ".+");
  return new RegExp(`^${src}$`);
}

const compiledCache = new WeakMap<WeightMapping, CompiledRow[]>();

function compileRows(m: WeightMapping): CompiledRow[] {
  const hit = compiledCache.get(m);
  if (hit) return hit;
  const rows = m.rows.map((row) => {
    if (row[1].includes("{t}")) throw new Error(`internal: mapping ${m.name}: {t} belongs on the reference side only (${row[0]})`);
    return { row, ref: patternRegex(row[0]), spec: patternRegex(row[1]), timed: row[0].includes("{t}") };
  });
  compiledCache.set(m, rows);
  return rows;
}

const fill = (pattern: string, i: string | undefined, t?: number) =>
  pattern.replace(/\{i\}/g, i ?? "{i}").replace(/\{t\}/g, t === undefined ? "{t}" : String(t));

/** The reference names one spec parameter takes (T names for an amplitude row). */
export function referenceNamesFor(mapping: WeightMapping, spec: ParamSpec): string[] | undefined {
  for (const r of compileRows(mapping)) {
    const m = r.spec.exec(spec.path);
    if (!m) continue;
    const i = m.groups?.i;
    if (!r.timed) return [fill(r.row[0], i)];
    return Array.from({ length: spec.shape[0] ?? 0 }, (_, t) => fill(r.row[0], i, t));
  }
  return undefined;
}

export interface ImportOptions {
  /** The weights file, for messages. */
  readonly source?: string;
  /**
   * Let amplitudes be absent altogether (they are then calibrated on the first call, as the
   * reference does for a layer it has never run). An amplitude given for some steps only is
   * still an error.
   */
  readonly allowMissingAmplitudes?: boolean;
  /**
   * false: like PyTorch's `load_state_dict(strict=False)`: tensors this model has no place for
   * are skipped (their names pushed to `skipped`) and parameters the file lacks are left out
   * (seeded or calibrated later). Wrong shapes, dtypes and non-finite values stay errors.
   */
  readonly strict?: boolean;
  readonly skipped?: string[];
}

/** Longest list printed per kind of problem: a wrong file should not print 114 lines. */
export const MAX_LISTED = 12;

function problemList(title: string, items: readonly string[]): string {
  const shown = items.slice(0, MAX_LISTED);
  const more = items.length > shown.length ? `\n    ... and ${items.length - shown.length} more` : "";
  return `${title} (${items.length}):\n    ${shown.join("\n    ")}${more}`;
}

/**
 * Tensors in reference naming → tensors by spec path, checked against the spec's parameters.
 * Throws one UserError listing every problem.
 */
export function importWeights(
  tensors: ReadonlyMap<string, Tensor>,
  mapping: WeightMapping,
  params: readonly ParamSpec[],
  opts: ImportOptions = {},
): Map<string, F32Tensor> {
  const rows = compileRows(mapping);
  const ignored = ignoredRegexes(mapping);
  const bySpec = new Map(params.map((p) => [p.path, p]));
  const missing: string[] = [];
  const extra: string[] = [];
  const dtype: string[] = [];
  const shape: string[] = [];
  const unmapped: string[] = [];
  const nonFinite: string[] = [];

  // 0. Tied names: one tensor. The alias must equal the primary; then only the primary is read.
  const tiedProblems: string[] = [];
  tensors = resolveTied(tensors, mapping, tiedProblems);

  // 1. Every tensor in the file: mapped, ignored, or extra.
  const used = new Set<string>();
  let allNames: string[] | undefined;
  for (const [name, t] of tensors) {
    if (ignored.some((re) => re.test(name))) continue;
    let matched = false;
    for (const r of rows) {
      const m = r.ref.exec(name);
      if (!m) continue;
      matched = true;
      const specPath = fill(r.row[1], m.groups?.i);
      const spec = bySpec.get(specPath);
      const t0 = m.groups?.t !== undefined ? Number(m.groups.t) : undefined;
      if (!spec && opts.strict === false) {
        opts.skipped?.push(name);
        break;
      }
      if (!spec) {
        extra.push(`"${name}": maps to "${specPath}", which this model does not have${m.groups?.i !== undefined ? ` (is the layer index ${m.groups.i} beyond the model's depth?)` : ""}`);
        break;
      }
      if (r.timed && t0 !== undefined && t0 >= (spec.shape[0] ?? 0)) {
        extra.push(`"${name}": time step ${t0}, but the model runs ${spec.shape[0]} steps (0..${(spec.shape[0] ?? 1) - 1})`);
        break;
      }
      used.add(name);
      if (t.dtype !== "f32") dtype.push(`"${name}" is an integer tensor (${t.dtype}) where float32 is expected (→ "${specPath}")`);
      else if (r.timed) {
        if (!(t.shape.length === 0 || (t.shape.length === 1 && t.shape[0] === 1)))
          shape.push(`"${name}" has shape ${shapeString(t.shape)} but a per-step amplitude is a 0-d scalar [] (→ "${specPath}"[${t0}])`);
      } else if (!sameShape(t.shape, spec.shape)) {
        shape.push(`"${name}" has shape ${shapeString(t.shape)} but "${specPath}" is ${shapeString(spec.shape)}`);
      }
      break;
    }
    if (!matched && opts.strict === false) opts.skipped?.push(name);
    else if (!matched) {
      allNames ??= referenceNames(mapping, params);
      const guess = closest(name, allNames);
      extra.push(`"${name}" is not a tensor of this model${guess ? ` (did you mean "${guess}"?)` : ""}`);
    }
  }
  for (const bad of findNonFinite(new Map([...tensors].filter(([k]) => used.has(k)))))
    nonFinite.push(`"${bad.name}"[${bad.index}] = ${bad.value}`);
  const scanned = nonFinite.length === 0;

  // 2. Every spec parameter: all its reference names present?
  const out = new Map<string, F32Tensor>();
  for (const spec of params) {
    if (out.has(spec.path)) continue;
    const names = referenceNamesFor(mapping, spec);
    if (!names && opts.strict === false) continue;
    if (!names) {
      unmapped.push(`"${spec.path}" ${shapeString(spec.shape)}`);
      continue;
    }
    const absent = names.filter((n) => !tensors.has(n));
    if (absent.length === names.length && spec.kind === "amplitude" && opts.allowMissingAmplitudes) continue;
    if (absent.length > 0 && opts.strict === false) continue;
    for (const n of absent) missing.push(`"${n}" (→ "${spec.path}" ${shapeString(spec.shape)})`);
    if (absent.length > 0) continue;
    const row = compileRows(mapping).find((r) => r.spec.test(spec.path))!;
    if (row.timed) {
      const vals = names.map((n) => tensors.get(n)!);
      if (vals.every((v) => v.dtype === "f32" && numel(v.shape) === 1)) out.set(spec.path, f32(spec.shape, vals.map((v) => v.data[0]!)));
    } else {
      const v = tensors.get(names[0]!)!;
      if (v.dtype === "f32" && sameShape(v.shape, spec.shape)) {
        const data = (v.data as Float32Array).slice();
        // scanned above: the parameter store and the kernels need not scan it again
        if (scanned && spec.kind === "weight") declareFiniteWeights(data);
        out.set(spec.path, f32(spec.shape, data));
      }
    }
  }

  const sections: string[] = [];
  if (missing.length) sections.push(problemList("missing", missing));
  if (extra.length) sections.push(problemList("extra (not part of this model)", extra));
  if (dtype.length) sections.push(problemList("wrong dtype", dtype));
  if (shape.length) sections.push(problemList("wrong shape", shape));
  if (nonFinite.length) sections.push(problemList("non-finite values", nonFinite));
  if (tiedProblems.length) sections.push(problemList("tied tensors that differ", tiedProblems));
  if (unmapped.length) sections.push(problemList(`spec parameters the mapping "${mapping.name}" has no row for`, unmapped));
  if (sections.length > 0) {
    const n = missing.length + extra.length + dtype.length + shape.length + nonFinite.length + unmapped.length + tiedProblems.length;
    throw new UserError(
      `${opts.source ?? "weights"}: ${n} problem${n === 1 ? "" : "s"} with the weights (reference naming, mapping "${mapping.name}"); nothing was loaded:\n  ${sections.join("\n  ")}`,
      { file: opts.source },
    );
  }
  return out;
}

/**
 * The file's tensors with every tied alias folded into its primary: dropped when it holds
 * exactly the primary's dtype, shape and values (bit for bit), renamed to the primary when the
 * file has only the alias (Hugging Face's `save_pretrained` keeps one name of a tied pair),
 * and reported in `problems`, naming both tensors, when the two differ.
 */
function resolveTied(tensors: ReadonlyMap<string, Tensor>, mapping: WeightMapping, problems: string[]): ReadonlyMap<string, Tensor> {
  if (!mapping.tied?.some(([alias]) => tensors.has(alias))) return tensors;
  const out = new Map(tensors);
  for (const [alias, primary] of mapping.tied) {
    const a = out.get(alias);
    if (!a) continue;
    out.delete(alias);
    const p = out.get(primary);
    if (!p) out.set(primary, a);
    else if (a.dtype !== p.dtype || !sameShape(a.shape, p.shape)) problems.push(`"${alias}" ${a.dtype}${shapeString(a.shape)} is tied to "${primary}" ${p.dtype}${shapeString(p.shape)} (one tensor in this model) but their shapes or dtypes differ`);
    else {
      const i = a.data.findIndex((v, k) => !Object.is(v, p.data[k]));
      if (i >= 0) problems.push(`"${alias}" is tied to "${primary}" (one tensor in this model) but they differ: element ${i} is ${a.data[i]} in "${alias}" and ${p.data[i]} in "${primary}"`);
    }
  }
  return out;
}

/** `names` (reference name → tensor) plus every tied alias of a name present, sharing its data. */
export function withTiedAliases<T extends Tensor>(named: Map<string, T>, mapping: WeightMapping): Map<string, T> {
  for (const [alias, primary] of mapping.tied ?? []) {
    const p = named.get(primary);
    if (p && !named.has(alias)) named.set(alias, p);
  }
  return named;
}

/**
 * Whether `name` is a reference name the mapping knows: it matches a row (whatever the
 * model's size) or a declared-ignored pattern. Used to pick the mapping a file is written in.
 */
export function recognizes(mapping: WeightMapping, name: string): boolean {
  return compileRows(mapping).some((r) => r.ref.test(name)) || ignoredRegexes(mapping).some((re) => re.test(name)) || (mapping.tied ?? []).some(([alias]) => alias === name);
}

const ignoredCache = new WeakMap<WeightMapping, RegExp[]>();
function ignoredRegexes(m: WeightMapping): RegExp[] {
  let hit = ignoredCache.get(m);
  if (!hit) ignoredCache.set(m, (hit = m.ignored.map(([p]) => patternRegex(p))));
  return hit;
}

const strippedCache = new WeakMap<WeightMapping, Map<string, WeightMapping>>();

/**
 * The same mapping for files whose names lack `prefix` (a bare Hugging Face `BertModel`
 * state_dict has `embeddings.…` / `encoder.layer.…` where a pretraining checkpoint has
 * `bert.embeddings.…`). Rows without the prefix (the heads: `cls.…`, `classifier.…`) stay.
 */
export function withoutPrefix(mapping: WeightMapping, prefix: string): WeightMapping {
  // Memoized: the compiled-row caches are keyed by the mapping object.
  const byPrefix = strippedCache.get(mapping) ?? new Map<string, WeightMapping>();
  strippedCache.set(mapping, byPrefix);
  const hit = byPrefix.get(prefix);
  if (hit) return hit;
  const strip = (s: string) => (s.startsWith(prefix) ? s.slice(prefix.length) : s);
  const out: WeightMapping = {
    name: `${mapping.name} without the "${prefix}" prefix`,
    rows: mapping.rows.map(([r, p]) => [strip(r), p] as const),
    ignored: mapping.ignored.map(([r, why]) => [strip(r), why] as const),
    ...(mapping.tied ? { tied: mapping.tied.map(([a, p]) => [strip(a), strip(p)] as const) } : {}),
  };
  byPrefix.set(prefix, out);
  return out;
}

/** Every reference name the model's parameters take (for suggestions and documentation). */
export function referenceNames(mapping: WeightMapping, params: readonly ParamSpec[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const p of params) {
    if (seen.has(p.path)) continue;
    seen.add(p.path);
    out.push(...(referenceNamesFor(mapping, p) ?? []));
  }
  return out;
}

export interface ExportOptions {
  /**
   * Extra tensors a reference checkpoint carries that the spec does not use (written as
   * given; e.g. `bert.embeddings.position_ids` and the `weight_clip_val`s), so the file
   * loads into the reference code with `strict=True`.
   */
  readonly buffers?: ReadonlyMap<string, Tensor>;
}

/**
 * Tensors by spec path → reference naming (amplitudes unstacked into T 0-d scalars).
 * Every parameter must be given (amplitudes calibrated), and nothing else.
 */
export function exportWeights(
  weights: ReadonlyMap<string, Tensor>,
  mapping: WeightMapping,
  params: readonly ParamSpec[],
  opts: ExportOptions = {},
): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  const problems: string[] = [];
  const known = new Set(params.map((p) => p.path));
  for (const k of weights.keys()) if (!known.has(k)) problems.push(`"${k}" is not a parameter of this model`);
  const done = new Set<string>();
  for (const spec of params) {
    if (done.has(spec.path)) continue;
    done.add(spec.path);
    const names = referenceNamesFor(mapping, spec);
    const v = weights.get(spec.path);
    if (!names) problems.push(`the mapping "${mapping.name}" has no row for "${spec.path}"`);
    else if (!v) problems.push(`"${spec.path}" has no value${spec.kind === "amplitude" ? " (an amplitude not yet calibrated: run the model once first)" : ""}`);
    else if (v.dtype !== "f32" || !sameShape(v.shape, spec.shape)) problems.push(`"${spec.path}" is ${v.dtype}${shapeString(v.shape)}, expected f32${shapeString(spec.shape)}`);
    else if (names.length === 1 && spec.kind !== "amplitude") out.set(names[0]!, f32(spec.shape, Float32Array.from(v.data)));
    else names.forEach((n, t) => out.set(n, f32([], [v.data[t]!])));
  }
  if (problems.length > 0) throw new UserError(`cannot export to reference naming (mapping "${mapping.name}"):\n  ${problems.join("\n  ")}`);
  // Both names of a tied tensor, each its own copy (a safetensors file holds each name's bytes).
  for (const [alias, primary] of mapping.tied ?? []) {
    const p = out.get(primary);
    if (p) out.set(alias, copyTensor(p));
  }
  for (const [k, v] of opts.buffers ?? []) out.set(k, copyTensor(v));
  return out;
}
