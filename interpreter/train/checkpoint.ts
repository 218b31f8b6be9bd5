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

function fromBase64(s: string, file: string, key: string): Float32Array {
  const b = Buffer.from(s, "base64");
  if (b.length % 4 !== 0) throw new UserError(`${file}: checkpoint entry "${key}" is not a float32 array`, { file });
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

/** Reads a checkpoint (or a plain weights file: then `state` is undefined and m/v empty). */
export function loadCheckpoint(file: string): Checkpoint {
  const { tensors, metadata } = readSafetensors(file);
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  let state: TrainState | undefined;
  const raw = metadata[TRAIN_KEY];
  if (raw !== undefined) {
    try {
      state = JSON.parse(raw) as TrainState;
    } catch {
      throw new UserError(`${file}: the training state in the header is not valid JSON`, { file });
    }
    if (!Number.isInteger(state.step) || !Array.isArray(state.rng) || state.rng.length !== 4) throw new UserError(`${file}: the training state in the header is incomplete (step, rng)`, { file });
  }
  for (const [k, s] of Object.entries(metadata)) {
    if (k.startsWith(M_PREFIX)) m.set(k.slice(M_PREFIX.length), fromBase64(s, file, k));
    else if (k.startsWith(V_PREFIX)) v.set(k.slice(V_PREFIX.length), fromBase64(s, file, k));
  }
  return { weights: tensors, state, m, v };
}
