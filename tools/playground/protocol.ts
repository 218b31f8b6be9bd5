/**
 * The messages between the playground page and its two Web Workers. Plain data only: every
 * message survives `postMessage` (structured clone); typed arrays travel as transferables.
 *
 * LSP worker (workers/lsp-worker.ts): each message either way is ONE JSON-RPC message as a
 * string (no Content-Length framing), which is what @codemirror/lsp-client's `Transport`
 * ({ send(message: string), subscribe(handler), unsubscribe(handler) }) carries. The worker
 * runs the same handlers as `spikelm lsp`. The stdlib, the examples and the shipped model specs
 * are bundled into the workers under `BUNDLED_ROOT` (file URIs like
 * `file:///spikelm/stdlib/layers.spk`), so go to definition into the stdlib answers such a URI;
 * the page gets its text with a `file` request to the run worker (or from the catalog) and
 * opens it read-only (`readOnly: true` there).
 *
 * Run worker (workers/run-worker.ts): requests carry an `id` the response repeats. Any number of
 * requests may be in flight; runs are served one at a time in arrival order, the other requests
 * as they arrive (a run computing holds the worker's thread, so they wait for it to finish).
 */

/** Virtual folder of the bundled repository files (stdlib/, examples/, models/ under it). */
export const BUNDLED_ROOT = "/spikelm";
/** Folder the page should put its own documents in (any other absolute file:/// path works too). */
export const USER_ROOT = "/playground";

// ---------------------------------------------------------------------------------------
// LSP worker

/** What the page posts to the LSP worker and receives from it: one JSON-RPC message as text. */
export type LspWireMessage = string;

// ---------------------------------------------------------------------------------------
// Run worker: requests

/** A file set: text by file URI (`file:///playground/main.spk`). Bundled files need not be sent. */
export type Files = Readonly<Record<string, string>>;

/** Input of a run: seeded random tensors for the entry's inputs, or a text for a shipped model. */
export type RunInput =
  | {
      readonly kind: "random";
      /** Seed of the input values (and integer ids). Independent of the weights' `seed`. */
      readonly seed: number;
      /** Sizes of the signature's free dimensions (`B`, `L`, `N`, `T`...); defaults: `B` 1, `T` the run's steps (else 4), any other 8. */
      readonly sizes?: Readonly<Record<string, number>>;
    }
  | {
      readonly kind: "text";
      /** Tokenized by the model's tokenizer (bytes or WordPiece), cut to its context. */
      readonly text: string;
    }
  | {
      /** The shipped prompt of a model (e.g. models/tiny/prompt.json), by bundled file URI. */
      readonly kind: "file";
      readonly uri: string;
    };

export interface RunRequest {
  readonly type: "run";
  readonly id: number;
  /** Files beyond the bundled ones (the editor's documents). */
  readonly files: Files;
  /** URI of the file that declares the entry (may be a bundled one). */
  readonly main: string;
  readonly entry: string;
  /** Constructor arguments (`--arg name=value`). */
  readonly args: Readonly<Record<string, number | boolean>>;
  /** Time steps (`--timesteps`); default: the model's own T. */
  readonly steps?: number;
  /** Seed of the weights the spec initialises (`--seed`, default 0). */
  readonly seed?: number;
  readonly input: RunInput;
  /** A shipped model's name (see `CatalogModel`): its weights and tokenizer are used. */
  readonly model?: string;
  /**
   * `--record` selection: [] or undefined = every neuron's spikes (bare `--record`);
   * patterns (`blocks.*`, `**`) = the matching layer outputs and neurons (`--record PATH`).
   */
  readonly record?: readonly string[];
  /** Also build the energy report and spike-driven proof (default true). */
  readonly report?: boolean;
  /** `multi` (default) or `step`, as `--mode`. */
  readonly mode?: "multi" | "step";
}

/** The shipped examples and models (for the menu). */
export interface CatalogRequest {
  readonly type: "catalog";
  readonly id: number;
}

/** The text of a bundled file (e.g. a stdlib file the LSP pointed at). */
export interface FileRequest {
  readonly type: "file";
  readonly id: number;
  readonly uri: string;
}

/** The runnable declarations of a file, with their constructor parameters and inputs. */
export interface EntriesRequest {
  readonly type: "entries";
  readonly id: number;
  readonly files: Files;
  readonly main: string;
}

export type RunWorkerRequest = RunRequest | CatalogRequest | FileRequest | EntriesRequest;

// ---------------------------------------------------------------------------------------
// Run worker: responses

/** A diagnostic with 1-based line and column, as the CLI prints it (`file:line:col`). */
export interface PlaygroundDiagnostic {
  readonly uri?: string;
  readonly line?: number;
  readonly col?: number;
  readonly endLine?: number;
  readonly endCol?: number;
  readonly code?: string;
  readonly severity: "error" | "warning" | "info";
  readonly message: string;
}

/** One recorded tensor, as `--out` writes it: `record.<path>.spikes` or `record.<path>.output`. */
export type Tap =
  | {
      readonly path: string;
      readonly kind: "spikes";
      /** [T, ...] (the neuron's output shape with the time axis first). */
      readonly shape: readonly number[];
      /** Spike levels, row-major; -1/0/+1 for ternary neurons (any int level otherwise). */
      readonly levels: Int8Array;
      /** Per-step amplitude of a scaled spike, length T. */
      readonly amplitudes?: Float32Array;
    }
  | {
      readonly path: string;
      readonly kind: "output";
      readonly shape: readonly number[];
      /** Float outputs (row-major). Integer outputs come as float32 too. */
      readonly values: Float32Array;
    };

/** Firing rates of one recorded neuron (the CLI's `--record` table: rate, rate +1, rate -1). */
export interface NeuronRate {
  /** Record key: the neuron's instance path (`blocks.0.up.fire`, `path#2` for a second call). */
  readonly path: string;
  /** The layer it belongs to (as the report groups it). */
  readonly layer: string;
  readonly rate: number;
  readonly ratePos: number;
  readonly rateNeg: number;
}

export interface RunTimings {
  readonly compileMs: number;
  readonly runMs: number;
  readonly reportMs: number;
  /** Whether the WebAssembly SIMD kernels ran (false: the JavaScript kernels, same bits). */
  readonly wasm: boolean;
  /** Threads the WebAssembly kernels may use (1 without cross-origin isolation). */
  readonly threads: number;
}

/**
 * The energy report: `SpikeReport` of interpreter/report/counts.ts, as `spikelm report --json`
 * writes it plus its sampled `rasters`; `total.spike_driven`, `total.non_spike_matmul_share`
 * and `non_spike_matmuls` are the spike-driven proof. tools/report/render.ts renders it.
 */
export type { SpikeReport } from "../../interpreter/report/counts.js";
import type { SpikeReport } from "../../interpreter/report/counts.js";

export interface TensorData {
  readonly shape: readonly number[];
  readonly dtype: "f32" | "i32";
  readonly data: Float32Array | Int32Array;
}

export interface RunSuccess {
  readonly type: "run";
  readonly id: number;
  readonly ok: true;
  /** The entry's output (`output` in `--out`). */
  readonly outputs: Readonly<Record<string, TensorData>>;
  /** Recorded tensors in record order: each neuron's spikes, then each layer tap. */
  readonly taps: readonly Tap[];
  readonly rates: readonly NeuronRate[];
  readonly report?: SpikeReport;
  readonly timesteps: number;
  /** Input tensors actually used (the tokens of a text, the seeded random values). */
  readonly inputs: Readonly<Record<string, TensorData>>;
  /** The CLI command that reproduces this run (with `--input` naming the inputs as a JSON file). */
  readonly command: string;
  readonly timings: RunTimings;
}

export interface Failure {
  readonly type: RunWorkerRequest["type"];
  readonly id: number;
  readonly ok: false;
  /** One line for the user (what the CLI prints for a UserError, or "N errors in the spec"). */
  readonly message: string;
  readonly diagnostics: readonly PlaygroundDiagnostic[];
}

export interface CatalogExample {
  /** Bundled file URI. */
  readonly uri: string;
  /** Repository path (`examples/tiny_spikelm.spk`). */
  readonly path: string;
  readonly text: string;
  /** Suggested entries with arguments that run as written. */
  readonly runs: readonly { readonly entry: string; readonly args: Readonly<Record<string, number | boolean>>; readonly input: RunInput; readonly model?: string }[];
}

export interface CatalogModel {
  readonly name: string;
  readonly description: string;
  readonly task: string;
  /** Bundled URI of its spec. */
  readonly uri: string;
  readonly entry: string;
  readonly args: Readonly<Record<string, number | boolean>>;
  readonly context: number;
  /** Whether the playground has its trained weights (otherwise seeded initialisation). */
  readonly weights: boolean;
}

export interface CatalogSuccess {
  readonly type: "catalog";
  readonly id: number;
  readonly ok: true;
  readonly examples: readonly CatalogExample[];
  readonly models: readonly CatalogModel[];
  /** Every bundled file's URI (stdlib, examples, model specs). */
  readonly files: readonly string[];
}

export interface FileSuccess {
  readonly type: "file";
  readonly id: number;
  readonly ok: true;
  readonly uri: string;
  readonly text: string;
  readonly readOnly: true;
}

export interface EntryInfo {
  readonly name: string;
  readonly kind: "neuron" | "module";
  /** What the declaration is, as written. */
  readonly declKind: "neuron" | "layer" | "model";
  /**
   * Constructor parameters: `default` when it is a number or boolean literal; `required` when
   * there is no default at all (other defaults, such as `act = SpikeLMReference()`, are kept).
   */
  readonly params: readonly { readonly name: string; readonly default?: number | boolean; readonly required: boolean }[];
  /** 1-based line of the declaration. */
  readonly line: number;
}

export interface EntriesSuccess {
  readonly type: "entries";
  readonly id: number;
  readonly ok: true;
  readonly entries: readonly EntryInfo[];
}

/** Sent while a run is going (compile, run, report), zero or more times before its response. */
export interface RunProgress {
  readonly type: "progress";
  readonly id: number;
  readonly phase: "compile" | "run" | "report";
  readonly done: number;
  readonly total: number;
}

/** The one answer each request gets. */
export type RunWorkerReply = RunSuccess | CatalogSuccess | FileSuccess | EntriesSuccess | Failure;

export type RunWorkerResponse = RunWorkerReply | RunProgress;
