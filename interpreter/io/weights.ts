/**
 * Weights files: JSON (`.json`) or safetensors (`.safetensors`), chosen by extension.
 */

import type { Tensor } from "../engine/tensor.js";
import { UserError } from "./errors.js";
import { readSafetensors, writeSafetensors } from "./safetensors.js";
import { readTensorJsonFile, writeTensorMap, type TensorFile } from "./tensor-json.js";

export type WeightsFormat = "json" | "safetensors";

/** The format of a weights file from its extension; anything else is a UserError. */
export function weightsFormatOf(path: string): WeightsFormat {
  const lower = path.toLowerCase();
  if (lower.endsWith(".json")) return "json";
  if (lower.endsWith(".safetensors")) return "safetensors";
  const m = /(\.[^./\\]+)$/.exec(path);
  throw new UserError(
    `${path}: unsupported weights file ${m ? `extension "${m[1]}"` : "(no extension)"}; expected .json or .safetensors`,
    { file: path },
  );
}

/** Loads a weights file (JSON or safetensors by extension) with its metadata. */
export function loadWeightsFile(path: string): TensorFile {
  return weightsFormatOf(path) === "json" ? readTensorJsonFile(path) : readSafetensors(path);
}

/** Saves a weights file (JSON or safetensors by extension), atomically. */
export function saveWeightsFile(
  path: string,
  tensors: ReadonlyMap<string, Tensor>,
  metadata?: Readonly<Record<string, string>>,
): void {
  if (weightsFormatOf(path) === "json") writeTensorMap(path, tensors, metadata);
  else writeSafetensors(path, tensors, metadata);
}

export interface NonFiniteValue {
  name: string;
  /** Row-major element index. */
  index: number;
  value: number;
}

/**
 * Whether every value of `d` is finite: v * 0 is ±0 for a finite v and NaN for NaN and
 * ±Infinity, and a sum of ±0s is ±0, so four running sums of v * 0 say it without a branch
 * per value (a BERT-base file is 110 M values).
 */
function allFinite(d: Float32Array): boolean {
  let a = 0;
  let b = 0;
  let c = 0;
  let e = 0;
  const n4 = d.length - (d.length % 4);
  for (let i = 0; i < n4; i += 4) {
    a += d[i]! * 0;
    b += d[i + 1]! * 0;
    c += d[i + 2]! * 0;
    e += d[i + 3]! * 0;
  }
  for (let i = n4; i < d.length; i++) a += d[i]! * 0;
  return a + b + c + e === 0;
}

/**
 * NaN and ±Infinity values in f32 tensors: the first `maxPerTensor` per tensor, in
 * map order then index order. Empty when every value is finite.
 */
export function findNonFinite(tensors: ReadonlyMap<string, Tensor>, maxPerTensor = 3): NonFiniteValue[] {
  const out: NonFiniteValue[] = [];
  for (const [name, t] of tensors) {
    if (t.dtype !== "f32") continue;
    const d = t.data as Float32Array;
    if (allFinite(d)) continue;
    let found = 0;
    // v - v is 0 for every finite v and NaN for NaN and ±Infinity
    for (let i = 0; i < d.length && found < maxPerTensor; i++) {
      const v = d[i]!;
      if (v - v !== 0) {
        out.push({ name, index: i, value: v });
        found++;
      }
    }
  }
  return out;
}
