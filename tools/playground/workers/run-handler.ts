/**
 * What the run worker answers (protocol.ts), as a plain function of a request: no worker
 * globals, so the same code runs in the page's Web Worker (browser platform, bundled files)
 * and in Node (tests compare it with `spikelm run --record`, bit for bit).
 *
 * A run is the CLI's run: the spec compiled with `compileEntry`, weights from the one loading
 * path (shipped models through `loadModel`), `runSpec` on the optimized executor with the
 * same `--record` selection, firing rates counted as the CLI's table counts them, and the
 * report (`runWithReport`, the reference interpreter observing each op: the same spikes).
 */
import { platform } from "#platform";
import type { Diagnostic } from "../../../grammar/source.js";
import { type FileHost, Program, diskHost } from "../../../interpreter/checker/program.js";
import { type ArgValue, type Compiled, SpecError, compileEntry } from "../../../interpreter/compile.js";
import { wasmReady, poolThreads } from "../../../interpreter/engine/kernels/wasm-backend.js";
import { type Tensor, i32 } from "../../../interpreter/engine/tensor.js";
import { UserError, isUserError } from "../../../interpreter/io/errors.js";
import { readTensorMap } from "../../../interpreter/io/tensor-json.js";
import { countSigns } from "../../../interpreter/report/counts.js";
import { runWithReport } from "../../../interpreter/report/run.js";
import { runSpec } from "../../../interpreter/run.js";
import { basePath } from "../../../interpreter/taps.js";
import { caseInputShapes, materialize } from "../../../interpreter/verify/case.js";
import { entrySignature } from "../../../interpreter/verify/signature.js";
import { idRanges } from "../../../interpreter/verify/verify.js";
import { MODELS, inputNames } from "../../../models/registry.js";
import { type LoadedModel, encodeTexts, loadModel } from "../../../models/tasks.js";
import type {
  CatalogExample,
  CatalogModel,
  EntriesRequest,
  Failure,
  FileRequest,
  Files,
  NeuronRate,
  PlaygroundDiagnostic,
  RunInput,
  RunProgress,
  RunRequest,
  RunSuccess,
  RunWorkerReply,
  RunWorkerRequest,
  Tap,
  TensorData,
} from "../protocol.js";
import { BUNDLED_PATHS } from "./bundled-paths.js";

const path = platform.path;

/** Free sizes a random input takes unless the request says: one sequence of 8 tokens. */
const DEFAULT_SIZES: Readonly<Record<string, number>> = { B: 1 };
const DEFAULT_FREE_SIZE = 8;

/** The small shipped models the playground offers (the base-sized ones take minutes in a browser). */
const PLAYGROUND_MODELS = ["decoder-small", "decoder-small-bpe", "mlm-small", "classifier-small", "encoder-small"];

const fileOf = (uri: string) => (uri.startsWith("file:") ? platform.fileURLToPath(uri) : path.resolve(uri));
const uriOf = (file: string) => platform.pathToFileURL(file);

/** A Program reading the request's files first, then the platform's (bundled or on disk). */
function programFor(files: Files): Program {
  const overlay = new Map(Object.entries(files).map(([uri, text]) => [fileOf(uri), text]));
  const host: FileHost = { read: (file) => overlay.get(file) ?? diskHost.read(file) };
  return new Program(host);
}

function toDiagnostic(d: Diagnostic, program: Program): PlaygroundDiagnostic {
  const lines = program.files.get(d.uri)?.lines;
  const start = lines?.position(d.span.start);
  const end = lines?.position(d.span.end);
  return {
    uri: uriOf(d.uri),
    ...(start ? { line: start.line + 1, col: start.character + 1 } : {}),
    ...(end ? { endLine: end.line + 1, endCol: end.character + 1 } : {}),
    code: d.code,
    severity: d.severity === "error" ? "error" : d.severity === "warning" ? "warning" : "info",
    message: d.message,
  };
}

/** A user's mistake as a failure response; anything else is a bug and propagates. */
function failure(req: RunWorkerRequest, e: unknown): Failure {
  if (e instanceof SpecError) {
    const diagnostics = e.diagnostics.map((d) => toDiagnostic(d, e.program));
    const first = diagnostics[0];
    const where = first?.line ? `${path.basename(fileOf(first.uri ?? ""))}:${first.line}:${first.col}: ` : "";
    return { type: req.type, id: req.id, ok: false, message: `${where}${first?.message ?? e.message}${diagnostics.length > 1 ? ` (+${diagnostics.length - 1} more)` : ""}`, diagnostics };
  }
  if (isUserError(e)) return { type: req.type, id: req.id, ok: false, message: e.message, diagnostics: [] };
  if (e instanceof RangeError && /Array buffer allocation failed|Invalid typed array length|Invalid array length/.test(e.message))
    return { type: req.type, id: req.id, ok: false, message: `not enough memory for this run (${e.message}); use a smaller batch, sequence length or model`, diagnostics: [] };
  throw e;
}

const tensorData = (t: Tensor): TensorData => ({ shape: [...t.shape], dtype: t.dtype, data: t.data.slice() as Float32Array | Int32Array });

function finiteInt(v: number | undefined, name: string, min: number): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < min) throw new UserError(`${name} expects a whole number >= ${min}, found ${v}`);
  return v;
}

interface Inputs {
  readonly tensors: Map<string, Tensor>;
  readonly model?: LoadedModel;
  /** Tokens, for the report (a text's token count). */
  readonly tokens?: number;
  /** The entry compiled for these inputs (and the request's taps), when making them needed it. */
  readonly compiled?: Compiled;
}

/** The input tensors a request asks for (see `RunInput`). */
function makeInputs(req: RunRequest, file: string, program: Program, model: LoadedModel | undefined): Inputs {
  const input: RunInput = req.input;
  if (input.kind === "file") return { tensors: readTensorMap(fileOf(input.uri)), model };
  if (input.kind === "text") {
    if (model) {
      if (model.info.task === "generate") {
        const ids = model.tokenizer.encode(input.text).slice(0, model.info.context);
        if (ids.length === 0) throw new UserError("the text is empty");
        return { tensors: new Map([["ids", i32([1, ids.length], ids)]]), model, tokens: ids.length };
      }
      const b = encodeTexts(model, [input.text]);
      const tensors = new Map<string, Tensor>(inputNames(model.info).map((n) => [n, b[n as "ids" | "types" | "mask"]]));
      return { tensors, model, tokens: b.tokens[0]!.length };
    }
    // A spec from the editor: bytes as token ids, for an entry whose one input is integer ids.
    const sig = entrySignature(file, req.entry, req.args, program);
    const only = sig.inputs.length === 1 ? sig.inputs[0] : undefined;
    if (!only || only.dtype !== "i32") throw new UserError(`a text input needs an entry whose one input is token ids (int[B, L]); \`${req.entry}\` takes ${sig.inputs.map((i) => i.name).join(", ") || "nothing"}: use a random input`);
    const bytes = [...new TextEncoder().encode(input.text)];
    if (bytes.length === 0) throw new UserError("the text is empty");
    return { tensors: new Map([[only.name, i32([1, bytes.length], bytes)]]), model, tokens: bytes.length };
  }
  // Random: the entry's signature with the free sizes chosen, values from the seed
  // (verify's fills: normal floats, integer ids below the smallest table they index).
  const sig = entrySignature(file, req.entry, req.args, program);
  const sizes: Record<string, number> = {};
  for (const f of sig.free) sizes[f] = finiteInt(input.sizes?.[f], `size ${f}`, 1) ?? (f === "T" ? (req.steps ?? 4) : (DEFAULT_SIZES[f] ?? DEFAULT_FREE_SIZE));
  const seed = finiteInt(input.seed, "the input seed", 0)!;
  const c = { sizes, inputs: Object.fromEntries(sig.inputs.map((i) => [i.name, { profile: "normal" as const, seed }])), weights: {}, amplitudes: {}, probe: { profile: "normal" as const, seed } };
  const shape = { signature: sig, weights: [], amplitudes: [], maxSize: 1 };
  // Integer inputs' ranges come from the compiled graph (which tables they index).
  const compiled = compileEntry({ file, entry: req.entry, args: req.args, inputs: caseInputShapes(shape, c), timesteps: req.steps, taps: req.record ?? [], program });
  return { tensors: materialize(shape, c, [], idRanges(compiled.graph)).inputs, model, compiled };
}

/** The neuron's layer, as the report groups it: its path without the field name. */
const layerOf = (key: string) => {
  const p = basePath(key);
  const dot = p.lastIndexOf(".");
  return dot < 0 ? "(top)" : p.slice(0, dot);
};

/** A repository file by its repository path; any other by its name. */
const shown = (file: string) => (path.relative(platform.repoRoot, file).startsWith("..") ? path.basename(file) : path.relative(platform.repoRoot, file));

function cliCommand(req: RunRequest, file: string, timesteps: number | undefined, record: readonly string[], weights: string | undefined): string {
  const q = (s: string) => (/^[\w./:=@+-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);
  const parts = ["spikelm", "run", q(shown(file)), "--entry", q(req.entry)];
  for (const [k, v] of Object.entries(req.args)) parts.push("--arg", q(`${k}=${v}`));
  if (weights) parts.push("--weights", q(shown(weights)));
  if (req.seed) parts.push("--seed", String(req.seed));
  if (timesteps !== undefined) parts.push("--timesteps", String(timesteps));
  if (req.mode === "step") parts.push("--mode", "step");
  parts.push("--input", "inputs.json");
  if (record.length === 0) parts.push("--record");
  for (const r of record) parts.push("--record", q(r));
  return parts.join(" ");
}

const now = () => (globalThis as { performance?: { now(): number } }).performance?.now() ?? Date.now();

export async function run(req: RunRequest, progress: (p: RunProgress) => void = () => undefined): Promise<RunSuccess | Failure> {
  const program = programFor(req.files);
  try {
    const t0 = now();
    progress({ type: "progress", id: req.id, phase: "compile", done: 0, total: 1 });
    const seed = finiteInt(req.seed, "the weights seed", 0) ?? 0;
    const steps = finiteInt(req.steps, "steps", 1);
    const model = req.model !== undefined ? loadModel("any", { model: req.model, args: req.args, seed, noTokenizer: req.input.kind !== "text" }) : undefined;
    const file = model ? model.info.spec : fileOf(req.main);
    const entry = model ? model.info.entry : req.entry;
    const args: Record<string, ArgValue> = model ? { ...model.info.args } : { ...req.args };
    const inputs = makeInputs({ ...req, entry, args }, file, program, model);
    const record = req.record ?? [];
    const compiled = inputs.compiled ?? compileEntry({ file, entry, args, inputs: inputs.tensors, timesteps: steps, taps: record, program });
    const t1 = now();
    progress({ type: "progress", id: req.id, phase: "run", done: 0, total: 1 });
    // What the run and the report's run are given alike: the same spec, inputs and weights.
    const sameRun = { file, entry, args, inputs: inputs.tensors, compiled, weights: model?.weights, weightsSource: model?.weightsSource, seed };
    const r = runSpec({
      ...sameRun,
      timesteps: steps,
      mode: req.mode ?? "multi",
      record: record.length === 0,
      taps: record,
      optimize: true,
    });
    const t2 = now();
    let report: RunSuccess["report"];
    if (req.report !== false) {
      progress({ type: "progress", id: req.id, phase: "report", done: 0, total: compiled.graph.nodes.length });
      report = runWithReport({
        ...sameRun,
        model: model?.info.name ?? entry,
        ...(inputs.tokens !== undefined ? { tokens: inputs.tokens } : {}),
        onProgress: (done, total) => {
          if (done === total || done % 64 === 0) progress({ type: "progress", id: req.id, phase: "report", done, total });
        },
      }).report;
    }
    const t3 = now();
    const layerByPath = new Map(report?.neurons.map((n) => [n.path, n.layer]) ?? []);
    const taps: Tap[] = [];
    const rates: NeuronRate[] = [];
    for (const [key, rec] of r.record) {
      const levels = Int8Array.from(rec.levels.data);
      taps.push({ path: key, kind: "spikes", shape: [...rec.levels.shape], levels, ...(rec.scale ? { amplitudes: rec.scale.slice() } : {}) });
      const { pos, neg } = countSigns(rec.levels.data);
      const n = rec.levels.data.length;
      rates.push({ path: key, layer: layerByPath.get(key) ?? layerOf(key), rate: (pos + neg) / n, ratePos: pos / n, rateNeg: neg / n });
    }
    for (const [key, t] of r.taps) taps.push({ path: key, kind: "output", shape: [...t.shape], values: Float32Array.from(t.data) });
    return {
      type: "run",
      id: req.id,
      ok: true,
      outputs: { output: tensorData(r.output) },
      taps,
      rates,
      ...(report ? { report } : {}),
      timesteps: compiled.graph.timesteps,
      inputs: Object.fromEntries([...inputs.tensors].map(([k, t]) => [k, tensorData(t)])),
      command: cliCommand({ ...req, entry, args }, file, steps, record, model?.weightsSource),
      timings: { compileMs: t1 - t0, runMs: t2 - t1, reportMs: t3 - t2, wasm: wasmReady(), threads: poolThreads() },
    };
  } catch (e) {
    return failure(req, e);
  }
}

function entries(req: EntriesRequest): RunWorkerReply {
  const program = programFor(req.files);
  const file = fileOf(req.main);
  try {
    const loaded = program.load(file);
    if (!loaded) return { type: "entries", id: req.id, ok: false, message: `cannot read ${req.main}`, diagnostics: [] };
    const out = loaded.ast.decls.flatMap((d) =>
      d.kind === "Const" || !d.name.name
        ? []
        : [
            {
              name: d.name.name,
              kind: d.kind === "Neuron" ? ("neuron" as const) : ("module" as const),
              declKind: d.kind === "Neuron" ? ("neuron" as const) : d.kind === "Layer" ? ("layer" as const) : ("model" as const),
              params: d.params.map((p) => {
                const lit = p.default;
                const value = lit?.kind === "Number" || lit?.kind === "Bool" ? lit.value : undefined;
                return { name: p.name.name, ...(value !== undefined ? { default: value } : {}), required: lit === undefined };
              }),
              line: loaded.lines.position(d.span.start).line + 1,
            },
          ],
    );
    return { type: "entries", id: req.id, ok: true, entries: out };
  } catch (e) {
    return failure(req, e);
  }
}

function bundledFile(req: FileRequest): RunWorkerReply {
  const file = fileOf(req.uri);
  const text = diskHost.read(file);
  if (text === undefined) return { type: "file", id: req.id, ok: false, message: `no bundled file ${req.uri}`, diagnostics: [] };
  return { type: "file", id: req.id, ok: true, uri: req.uri, text, readOnly: true };
}

/** Example runs that work as written (what the menu offers). */
const EXAMPLE_RUNS: Readonly<Record<string, CatalogExample["runs"]>> = {
  "examples/tiny_spikelm.spk": [
    { entry: "TinySpikeLM", args: {}, input: { kind: "text", text: "The spiking model reads" } },
    { entry: "SpikeLinear", args: { inp: 16, out: 8 }, input: { kind: "random", seed: 1 } },
  ],
  "examples/neurons.spk": [{ entry: "SpikeLMReference", args: {}, input: { kind: "random", seed: 1, sizes: { N: 16 } } }],
  "models/tiny/tiny_spikelm.spk": [{ entry: "TinySpikeLM", args: {}, input: { kind: "file", uri: uriOf(path.join(platform.repoRoot, "models/tiny/prompt.json")) } }],
};

function catalog(id: number): RunWorkerReply {
  const abs = (p: string) => path.join(platform.repoRoot, p);
  const examples: CatalogExample[] = Object.entries(EXAMPLE_RUNS).map(([p, runs]) => ({ uri: uriOf(abs(p)), path: p, text: diskHost.read(abs(p)) ?? "", runs }));
  const models: CatalogModel[] = MODELS.filter((m) => PLAYGROUND_MODELS.includes(m.name)).map((m) => ({
    name: m.name,
    description: m.description,
    task: m.task,
    uri: uriOf(m.spec),
    entry: m.entry,
    args: m.args,
    context: m.context,
    weights: m.weights !== undefined && platform.exists(m.weights),
  }));
  const files = [...BUNDLED_PATHS.specs, ...BUNDLED_PATHS.data].map((p) => uriOf(abs(p)));
  return { type: "catalog", id, ok: true, examples, models, files };
}

/** Answers one request (`progress` receives a run's progress messages). */
export async function handle(req: RunWorkerRequest, progress?: (p: RunProgress) => void): Promise<RunWorkerReply> {
  switch (req.type) {
    case "run":
      return run(req, progress);
    case "entries":
      return entries(req);
    case "file":
      return bundledFile(req);
    case "catalog":
      return catalog(req.id);
  }
}
