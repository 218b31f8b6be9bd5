/**
 * `spikelm verify` as a library: a property-based check of a user's own spec, the way
 * test/optimizer.equivalence.test.ts checks generated ones. Each case (case.ts) gives sizes,
 * inputs, weights and amplitudes at the edges of the semantics; on it every path must
 * compute the reference interpreter's bits:
 *
 * - the reference interpreter step by step vs multi-step, first call (amplitudes calibrate)
 *   and second call;
 * - the optimized executor, multi-step and step by step, first and second call (the second
 *   runs the compiled neuron kernels), on every spike-kernel path (paths.ts);
 * - gradients (GradientEngine, amplitudes trained) from the optimized and reference
 *   forwards, multi-step and step by step.
 *
 * A failing case is shrunk by fast-check; the smallest one is run again with the `trace`
 * hook on both sides to name the first op whose value differs (locate.ts).
 */
import fc from "fast-check";
import { GradientEngine } from "../autodiff/index.js";
import { Program } from "../checker/program.js";
import { type ArgValue, compileEntry } from "../compile.js";
import { type Tensor, numel } from "../engine/tensor.js";
import { UserError, isUserError } from "../io/errors.js";
import type { Graph, IRNode, Origin } from "../ir/graph.js";
import { OptimizedExecutor } from "../optimized/executor.js";
import { optimize } from "../passes/pass.js";
import { type Mode, ReferenceInterpreter, type RunResult, type TraceFn } from "../reference/interpreter.js";
import { ParamStore } from "../runtime/params.js";
import { dimValue } from "../types/dims.js";
import { type CaseShape, type Materialized, type VerifyCase, caseArb, caseInputShapes, materialize, parseCase, probeTensor } from "./case.js";
import { type Difference, gradientDifference, runDifference } from "./compare.js";
import { type NodeDifference, TraceCollector, firstDifferingNode, firstMissingNode } from "./locate.js";
import type { KernelPath } from "./paths.js";
import { entrySignature } from "./signature.js";

/**
 * Bounds: every case runs the entry about 40 times (7 to 9 kernel paths × 2 modes × 2 calls, the
 * reference, 4 gradients), and shrinking runs many cases, so verify refuses entries whose
 * tensors are large; smaller --arg values make the same spec verifiable.
 */
const VERIFY_MAX_TENSOR_ELEMENTS = 1 << 20;
const VERIFY_MAX_PARAM_ELEMENTS = 1 << 22;
/** Free sizes (B, L, T, ...) run from 1 to this. */
const DEFAULT_MAX_SIZE = 3;
/**
 * Shrinking tries at most this many candidates (each a full set of checks); after that the
 * smallest failing case found so far is reported, so a large spec cannot shrink for hours.
 */
const MAX_SHRINK_CANDIDATES = 300;

export interface VerifyOptions extends PrepareOptions {
  /** The kernel paths to compare (paths.ts `availablePaths`). */
  readonly paths: readonly KernelPath[];
}

/** Everything but the kernel paths: what `prepareVerify` checks before any kernel is started. */
export interface PrepareOptions {
  readonly file: string;
  readonly entry: string;
  readonly args?: Readonly<Record<string, ArgValue>>;
  /** Generated cases (ignored with `replay`). Default 100. */
  readonly runs?: number;
  readonly seed: number;
  /** Also NaN and ±Infinity in inputs, weights and amplitudes. */
  readonly nonfinite?: boolean;
  /** A replay file's parsed JSON (its `case`), and the file's name for messages: runs exactly that case. */
  readonly replay?: { readonly json: unknown; readonly file: string };
  readonly maxSize?: number;
  readonly onProgress?: (p: Progress) => void;
  /**
   * Test-only: called with each value the optimized executor computes, which it may alter
   * in place (a deliberately broken path, to show that verify catches, shrinks and locates it).
   */
  readonly fault?: TraceFn;
  readonly program?: Program;
}

export interface Progress {
  readonly phase: "run" | "shrink";
  /** Cases run so far (in the shrink phase: candidates tried). */
  readonly done: number;
  readonly total: number;
}

/** Which comparison failed. */
export type FailingPath =
  | { readonly kind: "reference-step"; readonly call: number }
  | { readonly kind: "optimized"; readonly kernels: string; readonly mode: Mode; readonly call: number }
  | { readonly kind: "gradients"; readonly optimize: boolean; readonly mode: Mode };

export interface Failure {
  /** A sentence naming both sides (`optimized step (wasm dense) vs reference multi-step, call 2`). */
  readonly check: string;
  readonly path: FailingPath;
  readonly difference?: Difference;
  /** The path threw instead of computing. */
  readonly error?: string;
}

export interface Location {
  readonly node?: NodeDifference;
  /** The op's (or, for a gradient, the parameter's) origin in the spec. */
  readonly origin?: Origin;
  /** What the location names, e.g. `neuron_out (levels of fire)` or `parameter W`. */
  readonly what: string;
}

export interface Counterexample {
  readonly case: VerifyCase;
  readonly failure: Failure;
  readonly location?: Location;
  readonly shrinks: number;
}

export interface VerifyResult {
  readonly runs: number;
  readonly checks: number;
  readonly failures: number;
  readonly seed: number;
  readonly timeMs: number;
  /** Every comparison made, by name. */
  readonly paths: readonly string[];
  /** The spike-kernel paths of the optimized executor that were compared. */
  readonly kernels: readonly string[];
  readonly shape: CaseShape;
  readonly counterexample?: Counterexample;
}

interface CompiledCase {
  readonly graph: Graph;
  /** The optimized graph (computed on first use: the bounds check needs only `graph`). */
  readonly optimized: Graph;
  /** The range of each integer input's values (see `idRanges`). */
  readonly vocab: ReadonlyMap<string, number>;
}

const MODES: readonly Mode[] = ["multi", "step"];

/** The verification session for one entry: compiled graphs per size, and the checks. */
class Verifier {
  readonly shape: CaseShape;
  private readonly compiled = new Map<string, CompiledCase>();
  checks = 0;
  /** The kernel paths compared (set before checking). */
  paths: readonly KernelPath[] = [];

  private readonly program: Program;

  constructor(private readonly opts: PrepareOptions) {
    this.program = opts.program ?? new Program();
    const signature = entrySignature(opts.file, opts.entry, opts.args ?? {}, this.program);
    const maxSize = opts.maxSize ?? DEFAULT_MAX_SIZE;
    const ones = Object.fromEntries(signature.free.map((f) => [f, 1]));
    const largest = Object.fromEntries(signature.free.map((f) => [f, maxSize]));
    const base = { signature, weights: [] as string[], amplitudes: [] as string[], maxSize };
    const small = this.compile(base, ones);
    this.shape = {
      ...base,
      weights: [...new Set(small.graph.params.filter((p) => p.kind === "weight").map((p) => p.path))],
      amplitudes: [...new Set(small.graph.params.filter((p) => p.kind === "amplitude").map((p) => p.path))],
    };
    // Parameters first: they do not depend on the free sizes, and a model too large to
    // verify is usually too large there (and costs another elaboration to find out).
    this.checkParamBounds(small.graph);
    this.checkTensorBounds(this.compile(this.shape, largest).graph);
  }

  private compile(shape: CaseShape, sizes: Readonly<Record<string, number>>): CompiledCase {
    const key = JSON.stringify(sizes);
    let c = this.compiled.get(key);
    if (c) return c;
    const inputs = caseInputShapes(shape, { sizes, inputs: {}, weights: {}, amplitudes: {}, probe: { profile: "normal", seed: 1 } });
    // The time steps come from the timed inputs' leading axis (or the model's declaration).
    const { graph } = compileEntry({ file: this.opts.file, entry: this.opts.entry, args: this.opts.args, inputs, program: this.program });
    let optimized: Graph | undefined;
    c = {
      graph,
      get optimized() {
        optimized ??= optimize(graph).graph;
        return optimized;
      },
      vocab: idRanges(graph),
    };
    this.compiled.set(key, c);
    return c;
  }

  private tooLarge(what: string, elements: number, limit: number): UserError {
    const hint = Object.keys(this.opts.args ?? {}).length ? "smaller --arg values" : "smaller sizes with --arg (e.g. the width or depth)";
    return new UserError(
      `\`${this.opts.entry}\` is too large to verify: ${what} ${elements.toLocaleString("en-US")} elements, more than verify's limit of ${limit.toLocaleString("en-US")} (each case runs the entry about 40 times); pass ${hint}`,
    );
  }

  /** Refuses parameters too large to fill and run ~40 times per case (see VERIFY_MAX_*). */
  private checkParamBounds(graph: Graph): void {
    const largest = [...graph.params].sort((a, b) => numel(b.shape) - numel(a.shape))[0];
    if (largest && numel(largest.shape) > VERIFY_MAX_TENSOR_ELEMENTS) throw this.tooLarge(`${largest.kind} ${largest.path} [${largest.shape.join(", ")}] has`, numel(largest.shape), VERIFY_MAX_TENSOR_ELEMENTS);
    const total = graph.params.reduce((a, p) => a + numel(p.shape), 0);
    if (total > VERIFY_MAX_PARAM_ELEMENTS) throw this.tooLarge("its parameters have", total, VERIFY_MAX_PARAM_ELEMENTS);
  }

  /** Refuses intermediate tensors too large at the largest free sizes. */
  private checkTensorBounds(graph: Graph): void {
    const T = graph.timesteps;
    const free = this.shape.signature.free;
    const sizes = free.length ? ` with ${free.join(", ")} = ${this.shape.maxSize}` : "";
    for (const n of graph.nodes) {
      const elements = numel(n.type.shape.map((d) => dimValue(d) ?? 1)) * (n.type.timed ? T : 1);
      if (elements > VERIFY_MAX_TENSOR_ELEMENTS) throw this.tooLarge(`\`${n.op}\` gives a tensor${sizes} of`, elements, VERIFY_MAX_TENSOR_ELEMENTS);
    }
  }

  prepare(c: VerifyCase): { compiled: CompiledCase; data: Materialized } {
    const compiled = this.compile(this.shape, c.sizes);
    return { compiled, data: materialize(this.shape, c, compiled.graph.params, compiled.vocab) };
  }

  /**
   * A fresh parameter store holding the case's values. They are written in directly rather
   * than given as a weights map: a weights file with NaN weights or a zero amplitude is a
   * user's mistake and refused, but those values are part of the semantics verify checks
   * (a calibration on an all-zero or overflowing input stores them).
   */
  private params(graph: Graph, data: Materialized): ParamStore {
    const store = ParamStore.create(graph.params);
    for (const [path, t] of data.weights) {
      const e = store.get(path);
      (e.tensor.data as Float32Array).set(t.data);
      e.calibrated?.fill(true);
    }
    return store;
  }

  /** Runs a path `calls` times on fresh parameters (the first call calibrates), tracing the last; returns every call's result. */
  runPath(path: FailingPath | { kind: "reference" }, compiled: CompiledCase, data: Materialized, calls: number, trace?: TraceFn): RunResult[] {
    const out: RunResult[] = [];
    if (path.kind === "reference" || path.kind === "reference-step") {
      const ref = new ReferenceInterpreter(compiled.graph, this.params(compiled.graph, data));
      const mode: Mode = path.kind === "reference" ? "multi" : "step";
      for (let k = 0; k < calls; k++) out.push(ref.run(data.inputs, { mode, record: true, trace: k === calls - 1 ? trace : undefined }));
      return out;
    }
    if (path.kind !== "optimized") throw new Error("internal: runPath takes a forward path");
    const kernels = this.paths.find((p) => p.name === path.kernels)!;
    const exec = new OptimizedExecutor(compiled.optimized, this.params(compiled.optimized, data), kernels);
    const fault = this.opts.fault;
    for (let k = 0; k < calls; k++) {
      const t = k === calls - 1 ? trace : undefined;
      const hook: TraceFn | undefined = fault && t ? (n, v, s) => (fault(n, v, s), t(n, v, s)) : (fault ?? t);
      out.push(copyResult(exec.run(data.inputs, { mode: path.mode, record: true, trace: hook })));
    }
    return out;
  }

  /** Every check on one case; stops at the first failure. */
  check(c: VerifyCase): Failure | undefined {
    const { compiled, data } = this.prepare(c);
    const ref = this.runPath({ kind: "reference" }, compiled, data, 2);
    const compare = (path: FailingPath, check: string, expected: RunResult[], run: () => RunResult[]): Failure | undefined => {
      let got: RunResult[];
      try {
        got = run();
      } catch (e) {
        if (isUserError(e)) throw e;
        return { check, path, error: e instanceof Error ? e.message : String(e) };
      }
      for (let call = 0; call < expected.length; call++) {
        this.checks++;
        const d = runDifference(expected[call]!, got[call]!);
        if (d) return { check: `${check}, call ${call + 1}`, path: { ...path, call } as FailingPath, difference: d };
      }
      return undefined;
    };
    const refStep = compare({ kind: "reference-step", call: 0 }, "reference step-by-step vs multi-step", ref, () => this.runPath({ kind: "reference-step", call: 0 }, compiled, data, 2));
    if (refStep) return refStep;
    for (const k of this.paths)
      for (const mode of MODES) {
        const path: FailingPath = { kind: "optimized", kernels: k.name, mode, call: 0 };
        const f = compare(path, `optimized ${mode === "multi" ? "multi-step" : "step-by-step"} (${k.name}) vs reference multi-step`, ref, () => this.runPath(path, compiled, data, 2));
        if (f) return f;
      }
    return this.checkGradients(c, compiled, data, ref[0]!.output);
  }

  private checkGradients(c: VerifyCase, compiled: CompiledCase, data: Materialized, output: Tensor): Failure | undefined {
    if (output.dtype !== "f32") return undefined;
    const probe = probeTensor(c, output.shape);
    const grads = (optimizeForward: boolean, mode: Mode) => {
      const engine = new GradientEngine(compiled.graph, this.params(compiled.graph, data), { optimize: optimizeForward, mode, trainAmplitudes: true });
      const r = engine.run(data.inputs, probe);
      // The engine reuses its arrays: copy.
      const copy = (m: ReadonlyMap<string, Float32Array>) => new Map([...m].map(([k, v]) => [k, Float32Array.from(v)]));
      return { grads: copy(r.grads), inputGrads: copy(r.inputGrads) };
    };
    const base = grads(false, "multi");
    for (const [optimizeForward, mode] of [
      [false, "step"],
      [true, "multi"],
      [true, "step"],
    ] as const) {
      const path: FailingPath = { kind: "gradients", optimize: optimizeForward, mode };
      const check = `gradients after the ${optimizeForward ? "optimized" : "reference"} ${mode === "multi" ? "multi-step" : "step-by-step"} forward vs after the reference multi-step forward`;
      this.checks++;
      try {
        const d = gradientDifference(base, grads(optimizeForward, mode));
        if (d) return { check, path, difference: d };
      } catch (e) {
        if (isUserError(e)) throw e;
        return { check, path, error: e instanceof Error ? e.message : String(e) };
      }
    }
    return undefined;
  }

  /** Runs the failing comparison again with traces on both sides and names the first differing op. */
  locate(c: VerifyCase, failure: Failure): Location | undefined {
    const { compiled, data } = this.prepare(c);
    const p = failure.path;
    if (p.kind === "gradients") {
      const what = failure.difference?.what ?? "";
      const param = compiled.graph.params.find((q) => what === `gradient of ${q.path}`);
      if (param) return { what: `the gradient of parameter ${param.path}`, origin: param.origin };
      if (what.startsWith("gradient of input ")) return { what: `the gradient of input ${what.slice("gradient of input ".length)}` };
      // The engine found its forward differing from the reference's: locate that forward.
      if (!p.optimize) return this.locateForward({ kind: "reference-step", call: 0 }, compiled, data);
      return this.locateForward({ kind: "optimized", kernels: "auto", mode: p.mode, call: 0 }, compiled, data);
    }
    return this.locateForward(p, compiled, data);
  }

  private locateForward(p: FailingPath, compiled: CompiledCase, data: Materialized): Location | undefined {
    if (p.kind === "gradients") return undefined;
    if (p.kind === "optimized" && !this.paths.some((k) => k.name === p.kernels)) return undefined;
    const expected = new TraceCollector();
    const actual = new TraceCollector();
    this.runPath({ kind: "reference" }, compiled, data, p.call + 1, expected.trace);
    let threw = false;
    try {
      this.runPath(p, compiled, data, p.call + 1, actual.trace);
    } catch {
      // A path that throws: its trace ends where it failed.
      threw = true;
    }
    const graph = p.kind === "optimized" ? compiled.optimized : compiled.graph;
    const d = firstDifferingNode(graph, expected, actual);
    if (d) return { node: d, origin: d.node.origin ?? neuronOrigin(graph, d.node), what: nodeLabel(graph, d.node) };
    const stop = threw ? firstMissingNode(graph, expected, actual) : undefined;
    return stop && { origin: stop.origin ?? neuronOrigin(graph, stop), what: `%${stop.id} ${nodeLabel(graph, stop)}, where the path failed` };
  }
}

/**
 * Integer inputs' ranges: an input that indexes embedding tables (token ids, token types)
 * stays below the smallest table's rows; any other (an attention mask) takes 0 or 1.
 */
export function idRanges(graph: Graph): Map<string, number> {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  for (const { name, node } of graph.inputs) {
    const rows = graph.nodes
      .filter((n) => n.op === "gather" && n.inputs[1] === node)
      .map((n) => byId.get(n.inputs[0]!)?.type.shape[0])
      .map((d) => (d ? dimValue(d) : undefined))
      .filter((v): v is number => v !== undefined && v > 0);
    out.set(name, rows.length ? Math.min(...rows) : 2);
  }
  return out;
}

/** A neuron projection's origin is its neuron call's. */
function neuronOrigin(graph: Graph, node: IRNode): Origin | undefined {
  if (node.op !== "neuron_out") return undefined;
  return graph.nodes.find((n) => n.id === node.inputs[0])?.origin;
}

/** `spike_matmul`, `neuron_out levels of blocks.0.up.fire (SpikeLMReference)`, `fused (mul, add)`. */
function nodeLabel(graph: Graph, node: IRNode): string {
  if (node.op === "neuron_out") {
    const n = graph.nodes.find((m) => m.id === node.inputs[0]);
    const a = n?.attrs as { path?: string; neuron?: string } | undefined;
    // The entry itself is a neuron at path "".
    return a?.path ? `${String(node.attrs.field)} of neuron ${a.path} (${a.neuron ?? "?"})` : `${String(node.attrs.field)} of neuron ${a?.neuron ?? "?"}`;
  }
  if (node.op === "fused") return `fused (${String(node.attrs.ops).split(",").join(", ")})`;
  return node.op;
}

function copyResult(r: RunResult): RunResult {
  const o = r.output;
  const data = o.data.slice();
  return { ...r, output: { ...o, data } as Tensor };
}

/** A verification ready to run: the entry compiled, its bounds and any replay file checked. */
export interface PreparedVerify {
  readonly shape: CaseShape;
  /** Runs the cases (or the replayed one) on these kernel paths. */
  run(paths: readonly KernelPath[]): VerifyResult;
}

/**
 * Everything that can be wrong with the request, found before any kernel is started: the
 * spec, the entry and its arguments, the bounds, the replay file.
 */
export function prepareVerify(opts: PrepareOptions): PreparedVerify {
  const start = performance.now();
  const v = new Verifier(opts);
  const replayed = opts.replay ? parseCase(opts.replay.json, v.shape, opts.replay.file) : undefined;
  return { shape: v.shape, run: (kernelPaths) => runVerify(opts, v, kernelPaths, start, replayed) };
}

/** Runs the verification (or one replayed case) and reports what it found. */
export function verify(opts: VerifyOptions): VerifyResult {
  return prepareVerify(opts).run(opts.paths);
}

function runVerify(opts: PrepareOptions, v: Verifier, kernelPaths: readonly KernelPath[], start: number, replayed: VerifyCase | undefined): VerifyResult {
  v.paths = kernelPaths;
  const paths = ["reference step-by-step", ...kernelPaths.flatMap((p) => [`optimized multi-step (${p.name})`, `optimized step-by-step (${p.name})`]), "gradients (reference and optimized forward, both modes)"];
  const done = (runs: number, counterexample?: Counterexample): VerifyResult => ({
    runs,
    checks: v.checks,
    failures: counterexample ? 1 : 0,
    seed: opts.seed,
    timeMs: performance.now() - start,
    paths,
    kernels: kernelPaths.map((p) => p.name),
    shape: v.shape,
    counterexample,
  });

  if (replayed) {
    const c = replayed;
    opts.onProgress?.({ phase: "run", done: 0, total: 1 });
    const failure = v.check(c);
    opts.onProgress?.({ phase: "run", done: 1, total: 1 });
    return done(1, failure ? { case: c, failure, location: v.locate(c, failure), shrinks: 0 } : undefined);
  }

  const total = opts.runs ?? 100;
  let ran = 0;
  let shrinking = false;
  let tried = 0;
  let userError: unknown;
  const property = fc.property(caseArb(v.shape, { nonfinite: opts.nonfinite ?? false }), (c) => {
    if (userError) return true;
    // Past the bound every candidate "passes", which ends fast-check's shrinking at the best so far.
    if (shrinking && tried >= MAX_SHRINK_CANDIDATES) return true;
    if (shrinking) opts.onProgress?.({ phase: "shrink", done: ++tried, total });
    else ran++;
    let f: Failure | undefined;
    try {
      f = v.check(c);
    } catch (e) {
      // A mistake in the spec or its arguments (a token id out of range, ...) is not a disagreement.
      if (!isUserError(e)) throw e;
      const sizes = Object.entries(c.sizes).map(([k, n]) => `${k} = ${n}`);
      userError = new UserError(`${sizes.length ? `with ${sizes.join(", ")}: ` : ""}${e.message}`);
      return true;
    }
    if (!shrinking) opts.onProgress?.({ phase: "run", done: ran, total });
    if (f) shrinking = true;
    return f === undefined;
  });
  const details = fc.check(property, { numRuns: total, seed: opts.seed });
  if (userError) throw userError;
  if (!details.failed) return done(ran);
  if (!details.counterexample) throw new Error(`internal: verification failed without a counterexample: ${String(details.errorInstance ?? "")}`);
  const c = details.counterexample[0];
  const failure = v.check(c);
  if (!failure) throw new Error("internal: the shrunk counterexample passes when run again");
  return done(ran, { case: c, failure, location: v.locate(c, failure), shrinks: details.numShrinks });
}
