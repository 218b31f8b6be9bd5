/**
 * The one way weights get into a model. Every command that takes `--weights` (run, report,
 * classify, fill-mask, generate, encode, grad, train, eval) calls `loadWeightsFor` with the
 * compiled entry (or its parameter list) and the file, and passes `.weights` on (to `runSpec`,
 * `ParamStore.create`, ...); commands print `.summary` on stderr.
 *
 * Which naming a file uses is read off its tensor names, not guessed from the command: the
 * spec's own parameter paths (`blocks.0.attn.q.W`), or a declared mapping (models/spikelm/
 * mapping.ts: the reference code's `state_dict`), each also without the `bert.` prefix (a bare
 * Hugging Face `BertModel` state_dict). The candidate that recognises the most names wins;
 * among equals, spec paths first, then the mapping the caller prefers (a shipped model's own),
 * then the mapping whose rows cover the most spec parameters. A prefix every name shares
 * (`module.` from DataParallel) is looked through when that makes every name known. When no
 * candidate recognises every name, the error names the closest one and the first few names
 * it does not know (with `strict: false`, the closest is applied and the rest skipped).
 *
 * Amplitudes: absent ones are calibrated on the first call (by `ParamStore`). In a
 * reference-named file, an amplitude whose T per-step scalars are all exactly 1.0 is the
 * reference's initial value, i.e. a layer that never ran (a checkpoint saved before its first
 * forward): it is dropped, so it is calibrated on the first call as the reference would.
 * `keepAmplitudes` keeps such values as given.
 */
import { closest } from "../interpreter/checker/suggest.js";
import type { Compiled } from "../interpreter/compile.js";
import { type F32Tensor, type Tensor, f32, sameShape, shapeString } from "../interpreter/engine/tensor.js";
import { UserError } from "../interpreter/io/errors.js";
import { declareFiniteWeights } from "../interpreter/engine/kernels/spike-matmul.js";
import { findNonFinite, loadWeightsFile } from "../interpreter/io/weights.js";
import type { ParamSpec } from "../interpreter/ir/graph.js";
import { MAPPINGS } from "./spikelm/mapping.js";
import { MAX_LISTED, type WeightMapping, importWeights, recognizes, referenceNames, withoutPrefix } from "./weights-mapping.js";

/** What the weights are for: a compiled entry, or a parameter list (with the entry's name, for messages). */
export type WeightsTarget = Pick<Compiled, "graph" | "entry"> | { readonly params: readonly ParamSpec[]; readonly entry?: string };

export interface LoadWeightsOptions {
  /** Keep amplitudes that are exactly 1.0 in a reference-named file (default: calibrate them, as the reference does). */
  readonly keepAmplitudes?: boolean;
  /** The mapping to prefer among equally good candidates (a shipped model's own). */
  readonly preferred?: WeightMapping;
  /** The declared mappings to consider (default: all of models/spikelm/mapping.ts). */
  readonly mappings?: readonly WeightMapping[];
  /**
   * false: PyTorch's `strict=False` (e.g. fine-tuning a classifier from a masked-LM
   * checkpoint): the naming that knows the most names is applied, tensors it has no place
   * for are skipped (listed in `skipped`), parameters the file lacks are seeded.
   * Default true: every name must fit and every weight be given (reference naming).
   */
  readonly strict?: boolean;
}

export interface LoadedWeights {
  /** Tensors by spec path, checked against the spec (dtype, shape, finite). */
  readonly weights: Map<string, F32Tensor>;
  readonly file: string;
  /** `spec paths`, or the mapping applied (e.g. `spikelm-encoder without the "bert." prefix`). */
  readonly mappingApplied: string;
  /** The mapping applied; undefined for spec paths. */
  readonly mapping?: WeightMapping;
  /** Amplitudes the first call calibrates: absent from the file, or all 1.0 in a reference-named one. */
  readonly calibrateOnFirstCall: readonly string[];
  /** Of those, the ones that were in the file as exactly 1.0 (dropped; `keepAmplitudes` keeps them). */
  readonly uncalibratedOnes: readonly string[];
  /** Weights (not amplitudes) the file does not give: initialised from the seed. */
  readonly seeded: readonly string[];
  /** Tensors of the file this model has no place for (only with `strict: false`). */
  readonly skipped: readonly string[];
  /** One line saying what was applied, for stderr. */
  readonly summary: string;
}

export const SPEC_PATHS = "spec paths";
const PREFIX = "bert.";

interface Candidate {
  readonly label: string;
  readonly mapping?: WeightMapping;
}

function paramsOf(target: WeightsTarget): { params: readonly ParamSpec[]; entry: string } {
  if ("graph" in target) return { params: target.graph.params, entry: target.entry.name.name };
  return { params: target.params, entry: target.entry ?? "the model" };
}

function uniqueParams(params: readonly ParamSpec[]): ParamSpec[] {
  const seen = new Set<string>();
  return params.filter((p) => !seen.has(p.path) && (seen.add(p.path), true));
}

/** Reads `file` (.json or .safetensors) and loads it for `target`; see the module comment. */
export function loadWeightsFor(target: WeightsTarget, file: string, opts: LoadWeightsOptions = {}): LoadedWeights {
  const { tensors } = loadWeightsFile(file);
  // The arrays were just decoded from the file and nothing else holds them: a file by spec
  // path is taken as it is (a copy of a BERT-base file was ~0.5 s of CPU and 438 MB).
  return weightsFromTensors(target, tensors, file, opts, true);
}

/**
 * `loadWeightsFor` on tensors already in memory (`source` names them in messages). The
 * result holds copies of the caller's arrays unless `owned` (the caller hands them over).
 */
export function weightsFromTensors(target: WeightsTarget, tensors: ReadonlyMap<string, Tensor>, source: string, opts: LoadWeightsOptions = {}, owned = false): LoadedWeights {
  const { params: all, entry } = paramsOf(target);
  const params = uniqueParams(all);
  const declared = opts.mappings ?? [...MAPPINGS.values()];
  const ordered = opts.preferred ? [opts.preferred, ...declared.filter((m) => m !== opts.preferred)] : declared;
  const candidates: Candidate[] = [{ label: SPEC_PATHS }, ...ordered.flatMap((m) => [m, withoutPrefix(m, PREFIX)]).map((m) => ({ label: m.name, mapping: m }))];
  const pathSet = new Set(params.map((p) => p.path));
  // How many spec parameters each mapping has a row for (spec paths cover them all).
  const covers = candidates.map((c) => (c.mapping ? params.filter((p) => referenceNames(c.mapping!, [p]).length > 0).length : params.length));
  const rank = (names: readonly string[]) =>
    candidates
      .map((c, order) => ({ c, known: names.filter((n) => (c.mapping ? recognizes(c.mapping, n) : pathSet.has(n))).length, covers: covers[order]!, order }))
      .sort((a, b) => b.known - a.known || (a.c.mapping ? 1 : 0) - (b.c.mapping ? 1 : 0) || b.covers - a.covers || a.order - b.order);
  const names = [...tensors.keys()];
  const scored = rank(names);
  // A wrapper's prefix on every name (`module.` from DataParallel, `model.`): tried without it.
  const wrapper = scored[0]!.known < names.length ? commonPrefix(names) : undefined;
  if (wrapper) {
    const inner = names.map((n) => n.slice(wrapper.length));
    const s = rank(inner);
    if (s[0]!.known === inner.length) {
      const loaded = weightsFromTensors(target, new Map([...tensors].map(([k, t]) => [k.slice(wrapper.length), t])), source, opts);
      const note = ` (every name under "${wrapper}")`;
      const applied = loaded.mappingApplied === SPEC_PATHS ? "by spec path" : `through the mapping "${loaded.mappingApplied}"`;
      return { ...loaded, mappingApplied: `${loaded.mappingApplied}${note}`, summary: loaded.summary.replace(applied, `${applied}${note}`) };
    }
  }
  if (opts.strict === false && scored[0]!.known > 0 && scored[0]!.known < names.length) {
    const c = scored[0]!.c;
    const fits = (n: string) => (c.mapping ? recognizes(c.mapping, n) : pathSet.has(n));
    const kept = new Map([...tensors].filter(([k]) => fits(k)));
    const loaded = c.mapping ? fromReference(c.mapping, kept, params, source, opts) : fromSpecPaths(kept, params, source, owned);
    return withSkipped(loaded, names.filter((n) => !fits(n)));
  }
  if (scored[0]!.known < names.length) {
    // Nothing fits. Rank by names known, then by names whose last two segments the naming
    // uses (`roberta.….query.weight` is closer to the reference naming than to spec paths).
    const tails = (c: Candidate) => {
      const ends = new Set((c.mapping ? referenceNames(c.mapping, params) : params.map((p) => p.path)).map(tail));
      return names.filter((n) => ends.has(tail(n))).length;
    };
    const ranked = scored.map((s) => ({ ...s, tails: tails(s.c) })).sort((a, b) => b.known - a.known || b.tails - a.tails || a.order - b.order);
    throw noMappingError(source, entry, names, params, ranked[0]!, ranked);
  }
  const best = scored[0]!;
  return best.c.mapping ? fromReference(best.c.mapping, tensors, params, source, opts) : fromSpecPaths(tensors, params, source, owned);
}

function withSkipped(loaded: LoadedWeights, skipped: readonly string[]): LoadedWeights {
  const all = [...loaded.skipped, ...skipped];
  if (all.length === 0) return loaded;
  const shown = all.slice(0, 3).map((n) => `"${n}"`).join(", ");
  return { ...loaded, skipped: all, summary: `${loaded.summary}; ${all.length} tensors not in this model skipped (${shown}${all.length > 3 ? ", ..." : ""})` };
}

/** The first path segment every name shares (with its dot), when there is one and names go deeper. */
function commonPrefix(names: readonly string[]): string | undefined {
  const first = names[0]?.split(".")[0];
  if (first === undefined || names.length === 0) return undefined;
  return names.every((n) => n.startsWith(`${first}.`) && n.length > first.length + 1) ? `${first}.` : undefined;
}

const tail = (name: string) => name.split(".").slice(-2).join(".");

function quoteList(items: readonly string[], max = 5): string {
  const shown = items.slice(0, max).join(", ");
  return items.length > max ? `${shown}, ... (${items.length - max} more)` : shown;
}

function noMappingError(
  source: string,
  entry: string,
  names: readonly string[],
  params: readonly ParamSpec[],
  best: { c: Candidate; known: number },
  scored: readonly { c: Candidate; known: number }[],
): UserError {
  const m = best.c.mapping;
  const expected = m ? referenceNames(m, params) : params.map((p) => p.path);
  const unknown = names.filter((n) => (m ? !recognizes(m, n) : !params.some((p) => p.path === n)));
  const shown = unknown.slice(0, 5).map((n) => {
    const guess = closest(n, expected);
    return `"${n}"${guess ? ` (did you mean "${guess}"?)` : ""}`;
  });
  const more = unknown.length > shown.length ? `, ... (${unknown.length - shown.length} more)` : "";
  // Other namings that know some of the names, so the user sees what else was tried.
  const tried = scored.filter((s) => s.c !== best.c && s.known > 0).slice(0, 3).map((s) => `${s.c.label} (${s.known})`);
  return new UserError(
    `${source}: the tensor names fit no weight naming of \`${entry}\`; closest: ${best.c.label} (${best.known} of ${names.length} names known)\n` +
      `  unknown to ${best.c.label} (${unknown.length}): ${shown.join(", ")}${more}\n` +
      `  ${best.c.label} names look like ${quoteList(expected.map((e) => `"${e}"`), 3)}${tried.length ? `; other namings (names known): ${tried.join(", ")}` : ""}`,
    { file: source },
  );
}

function fromSpecPaths(tensors: ReadonlyMap<string, Tensor>, params: readonly ParamSpec[], source: string, owned: boolean): LoadedWeights {
  const problems: string[] = [];
  const weights = new Map<string, F32Tensor>();
  const byPath = new Map(params.map((p) => [p.path, p]));
  for (const [name, t] of tensors) {
    const spec = byPath.get(name)!;
    if (t.dtype !== "f32") problems.push(`"${name}" is an integer tensor (${t.dtype}) where float32 is expected`);
    else if (!sameShape(t.shape, spec.shape)) problems.push(`"${name}" has shape ${shapeString(t.shape)} but the spec declares ${shapeString(spec.shape)}`);
    else weights.set(name, f32(spec.shape, owned ? (t.data as Float32Array) : (t.data as Float32Array).slice()));
  }
  for (const bad of findNonFinite(tensors)) problems.push(`"${bad.name}"[${bad.index}] = ${bad.value} (non-finite)`);
  if (problems.length > 0) {
    const shown = problems.slice(0, MAX_LISTED);
    const more = problems.length > shown.length ? `\n  ... and ${problems.length - shown.length} more` : "";
    throw new UserError(`${source}: ${problems.length} problem${problems.length === 1 ? "" : "s"} with the weights (spec paths); nothing was loaded:\n  ${shown.join("\n  ")}${more}`, { file: source });
  }
  // scanned above: the parameter store and the kernels need not scan them again
  for (const [name, t] of weights) if (byPath.get(name)!.kind === "weight") declareFiniteWeights(t.data);
  const absent = params.filter((p) => !weights.has(p.path));
  const calibrate = absent.filter((p) => p.kind === "amplitude").map((p) => p.path);
  const seeded = absent.filter((p) => p.kind === "weight").map((p) => p.path);
  const notes = [`${weights.size} of ${params.length} parameters`];
  if (seeded.length) notes.push(`${seeded.length} weights not given: seeded`);
  if (calibrate.length) notes.push(`${calibrate.length} amplitudes calibrated on the first call`);
  return { weights, file: source, mappingApplied: SPEC_PATHS, calibrateOnFirstCall: calibrate, uncalibratedOnes: [], seeded, skipped: [], summary: `weights: ${source} by spec path (${notes.join("; ")})` };
}

function fromReference(mapping: WeightMapping, tensors: ReadonlyMap<string, Tensor>, params: readonly ParamSpec[], source: string, opts: LoadWeightsOptions): LoadedWeights {
  const skipped: string[] = [];
  const weights = importWeights(tensors, mapping, params, { source, allowMissingAmplitudes: true, strict: opts.strict, skipped });
  const ones: string[] = [];
  if (!opts.keepAmplitudes) {
    for (const p of params) {
      const w = weights.get(p.path);
      if (p.kind === "amplitude" && w && w.data.every((v) => v === 1)) {
        weights.delete(p.path);
        ones.push(p.path);
      }
    }
  }
  const calibrate = params.filter((p) => p.kind === "amplitude" && !weights.has(p.path)).map((p) => p.path);
  const amps = params.filter((p) => p.kind === "amplitude").length;
  const notes: string[] = [];
  if (ones.length) notes.push(`${ones.length} of ${amps} amplitudes were exactly 1.0 (the reference's "not yet calibrated"): calibrated on the first call (--keep-amplitudes keeps them)`);
  const absent = calibrate.length - ones.length;
  if (absent) notes.push(`${absent} of ${amps} amplitudes absent: calibrated on the first call`);
  const seeded = params.filter((p) => p.kind === "weight" && !weights.has(p.path)).map((p) => p.path);
  if (seeded.length) notes.push(`${seeded.length} weights not given: seeded`);
  return withSkipped(
    {
      weights,
      file: source,
      mappingApplied: mapping.name,
      mapping,
      calibrateOnFirstCall: calibrate,
      uncalibratedOnes: ones,
      seeded,
      skipped: [],
      summary: `weights: ${source} through the mapping "${mapping.name}"${notes.length ? `; ${notes.join("; ")}` : ""}`,
    },
    skipped,
  );
}
