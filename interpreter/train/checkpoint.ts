/**
 * Training checkpoints: an ordinary safetensors weights file (every parameter under its
 * spec path, so `spikelm run --weights`, `generate --weights` and `eval --weights` load it
 * as they load any weights) whose `__metadata__` also carries the training state:
 *
 *   "spikelm.checkpoint"       "1" (format version)
 *   "spikelm.train"            JSON: {step, rng: [4 words], config, model, task, ...}
 *   "spikelm.adam.m.<path>"    base64 of the float32 (little-endian) first moment of <path>
 *   "spikelm.adam.v.<path>"    the same for the second moment
 *
 * Keeping the optimizer state in the header (exact bytes, base64) rather than as extra
 * tensors means no weights loader has to know about it. `--resume` reads all of it back.
 */
import type { F32Tensor, Tensor } from "../engine/tensor.js";
import { UserError } from "../io/errors.js";
import { readSafetensors, writeSafetensors } from "../io/safetensors.js";

const CHECKPOINT_VERSION = "1";
const TRAIN_KEY = "spikelm.train";
const M_PREFIX = "spikelm.adam.m.";
const V_PREFIX = "spikelm.adam.v.";

export interface TrainState {
  /** Optimizer updates done. */
  readonly step: number;
  /** The data RNG's state after `step` updates. */
  readonly rng: readonly number[];
  /** Anything JSON the trainer wants back (config, model, task, tokens seen...). */
  readonly info: Readonly<Record<string, unknown>>;
}

export interface Checkpoint {
  readonly weights: Map<string, Tensor>;
  readonly state?: TrainState;
  readonly m: Map<string, Float32Array>;
  readonly v: Map<string, Float32Array>;
}

function toBase64(a: Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");
}

// Buffer.from(s, "base64") skips characters outside the alphabet, so a damaged entry would
// decode to fewer (or other) numbers without complaint: check the text first.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function fromBase64(s: string, file: string, key: string): Float32Array {
  const b = BASE64.test(s) ? Buffer.from(s, "base64") : undefined;
  if (b === undefined || b.length % 4 !== 0) throw new UserError(`${file}: checkpoint entry "${key}" is not a float32 array (base64 of little-endian float32 values)`, { file });
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}

export function saveCheckpoint(file: string, weights: ReadonlyMap<string, F32Tensor>, state: TrainState, m: ReadonlyMap<string, Float32Array>, v: ReadonlyMap<string, Float32Array>): void {
  const meta: Record<string, string> = { "spikelm.checkpoint": CHECKPOINT_VERSION, [TRAIN_KEY]: JSON.stringify(state) };
  for (const [k, a] of m) meta[M_PREFIX + k] = toBase64(a);
  for (const [k, a] of v) meta[V_PREFIX + k] = toBase64(a);
  writeSafetensors(file, weights, meta);
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);

/** The header's training state, checked: a hand-edited or damaged one is the user's mistake, not a crash. */
function parseTrainState(raw: string, file: string): TrainState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new UserError(`${file}: the training state in the header is not valid JSON`, { file });
  }
  const bad = (what: string, found: unknown) => new UserError(`${file}: the training state in the header is damaged: ${what}, found ${JSON.stringify(found) ?? String(found)}`, { file });
  if (!isObject(parsed)) throw bad("expected a JSON object", parsed);
  const { step, rng, info } = parsed;
  if (!Number.isSafeInteger(step) || (step as number) < 0) throw bad("step must be a whole number >= 0", step);
  if (!Array.isArray(rng) || rng.length !== 4 || rng.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffffffff)) throw bad("rng must be four unsigned 32-bit integers", rng);
  if (info !== undefined && !isObject(info)) throw bad("info must be a JSON object", info);
  for (const k of ["tokens", "elapsed_s"]) {
    const x = info?.[k];
    if (x !== undefined && !(typeof x === "number" && Number.isFinite(x) && x >= 0)) throw bad(`info.${k} must be a number >= 0`, x);
  }
  return { step: step as number, rng: rng as number[], info: info ?? {} };
}

/**
 * Throws a UserError naming the parameter and both sizes unless `ckpt` holds both Adam moments
 * of every parameter, each as long as the parameter (resuming with a missing or short moment
 * would silently restart that tensor's optimizer from zero).
 */
export function checkOptimizerState(file: string, ckpt: Checkpoint, params: readonly { readonly path: string; readonly data: { readonly length: number } }[]): void {
  for (const p of params) {
    for (const [kind, moments] of [["m", ckpt.m], ["v", ckpt.v]] as const) {
      const a = moments.get(p.path);
      const key = `spikelm.adam.${kind}.${p.path}`;
      if (a === undefined) throw new UserError(`${file} has no optimizer state "${key}" for parameter ${p.path}: it was written for another model or without --train-amplitudes`, { file });
      if (a.length !== p.data.length) throw new UserError(`${file}: optimizer state "${key}" has ${a.length} values, but parameter ${p.path} has ${p.data.length}: it was written for another model`, { file });
    }
  }
}

/** Reads a checkpoint (or a plain weights file: then `state` is undefined and m/v empty). */
export function loadCheckpoint(file: string): Checkpoint {
  const { tensors, metadata } = readSafetensors(file);
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  const raw = metadata[TRAIN_KEY];
  const state = raw === undefined ? undefined : parseTrainState(raw, file);
  for (const [k, s] of Object.entries(metadata)) {
    if (k.startsWith(M_PREFIX)) m.set(k.slice(M_PREFIX.length), fromBase64(s, file, k));
    else if (k.startsWith(V_PREFIX)) v.set(k.slice(V_PREFIX.length), fromBase64(s, file, k));
  }
  return { weights: tensors, state, m, v };
}
