/**
 * JSON tensor files.
 *
 * A tensor is `{"shape": [...], "data": [...], "dtype"?: "f32" | "i32"}` (dtype defaults
 * to f32). `data` is either flat (row-major) or nested arrays matching the shape; a
 * scalar (shape []) may also give `data` as a bare number. Since JSON cannot carry
 * NaN or infinities, f32 data may hold the strings "NaN", "Infinity" and "-Infinity".
 *
 * A tensor file is a JSON object mapping names to tensors (a weights file, or an input
 * file mapping argument names to tensors). The optional key "__metadata__" holds a
 * string → string map, as in safetensors.
 */

import type { Tensor } from "../engine/tensor.js";
import { numel, shapeString } from "../engine/tensor.js";
import { UserError } from "./errors.js";
import { readFileText, writeFileAtomic } from "./files.js";
import { stringifyJson } from "./json-text.js";
import { MAX_TENSOR_ELEMENTS } from "../limits.js";

/** The tensors of a file plus its string → string metadata (empty when the file has none). */
export interface TensorFile {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

/** The JSON form of one tensor, as written by tensorToJson. */
export interface TensorJson {
  shape: number[];
  dtype: "f32" | "i32";
  data: (number | string)[];
}

export const METADATA_KEY = "__metadata__";

/** Largest element count accepted for one tensor: the bound every tensor of a run obeys. */
const MAX_ELEMENTS = MAX_TENSOR_ELEMENTS;

/** Most axes a tensor may have: nested data is walked recursively, one level per axis. */
const MAX_RANK = 32;

const NON_FINITE_STRINGS: ReadonlyMap<string, number> = new Map([
  ["NaN", NaN],
  ["Infinity", Infinity],
  ["+Infinity", Infinity],
  ["-Infinity", -Infinity],
]);

function describeJson(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === "object") return "an object";
  return String(v);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Validates a shape given as JSON. `fail` throws. */
export function parseShape(v: unknown, fail: (msg: string) => never): number[] {
  if (!Array.isArray(v)) fail(`"shape" must be an array of non-negative integers, got ${describeJson(v)}`);
  if (v.length > MAX_RANK) fail(`"shape" has ${v.length} axes, more than the limit of ${MAX_RANK}`);
  const shape: number[] = [];
  for (let i = 0; i < v.length; i++) {
    const d: unknown = v[i];
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) {
      fail(`"shape"[${i}] must be a non-negative integer, got ${describeJson(d)}`);
    }
    shape.push(d);
  }
  const n = numel(shape);
  if (n > MAX_ELEMENTS) fail(`shape ${shapeString(shape)} has ${n.toLocaleString("en-US")} elements, more than the limit of ${MAX_ELEMENTS.toLocaleString("en-US")} (MAX_TENSOR_ELEMENTS)`);
  return shape;
}

/** The shape implied by the first element at each nesting level of `data`. */
function leadingShape(data: unknown[]): number[] {
  const s: number[] = [];
  let cur: unknown = data;
  while (Array.isArray(cur)) {
    s.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0];
  }
  return s;
}

function pathOf(indices: readonly number[]): string {
  return `data${indices.map((i) => `[${i}]`).join("")}`;
}

/** Row-major index → nested path like data[1][2]. */
function nestedPath(flat: number, shape: readonly number[]): string {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d]!;
    idx[d] = flat % n;
    flat = Math.floor(flat / n);
  }
  return pathOf(idx);
}

/**
 * Parses one tensor from its JSON value. `name` and `file` are only used in error messages.
 * Throws UserError on any problem.
 */
export function parseTensor(json: unknown, name: string, file: string): Tensor {
  const fail = (msg: string): never => {
    throw new UserError(`${file}: tensor ${JSON.stringify(name)}: ${msg}`, { file });
  };
  if (!isPlainObject(json)) {
    fail(`expected an object {"shape": [...], "data": [...], "dtype"?: "f32" | "i32"}, got ${describeJson(json)}`);
  }
  const obj = json as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (key !== "shape" && key !== "data" && key !== "dtype") {
      fail(`unknown field ${JSON.stringify(key)} (expected "shape", "data" and optionally "dtype")`);
    }
  }
  // Absent means f32; present, it must say which (`"dtype": null` is a mistake, not a default).
  const dtypeRaw = "dtype" in obj ? obj.dtype : "f32";
  if (dtypeRaw !== "f32" && dtypeRaw !== "i32") fail(`"dtype" must be "f32" or "i32", got ${describeJson(dtypeRaw)}`);
  const dtype = dtypeRaw as "f32" | "i32";
  if (!("shape" in obj)) fail(`missing "shape"`);
  if (!("data" in obj)) fail(`missing "data"`);
  const shape = parseShape(obj.shape, fail);
  const n = numel(shape);

  // Collect the values in row-major order.
  let flat: unknown[];
  let label: (i: number) => string = (i) => `data[${i}]`;
  const data = obj.data;
  if (!Array.isArray(data)) {
    if (shape.length === 0 && (typeof data === "number" || typeof data === "string")) {
      flat = [data];
      label = () => "data";
    } else {
      return fail(`"data" must be an array, got ${describeJson(data)}`);
    }
  } else if (data.length > 0 && Array.isArray(data[0])) {
    // Nested data: must be rectangular and match the shape exactly.
    const implied = leadingShape(data);
    const same = implied.length === shape.length && implied.every((d, i) => d === shape[i]);
    const emptyPrefix = implied.length < shape.length && implied[implied.length - 1] === 0 &&
      implied.every((d, i) => d === shape[i]);
    if (!same && !emptyPrefix) {
      fail(`nested data has shape ${shapeString(implied)} but "shape" is ${shapeString(shape)}`);
    }
    flat = [];
    const out = flat;
    const walk = (v: unknown, depth: number, indices: number[]): void => {
      if (depth === shape.length) {
        if (Array.isArray(v)) {
          fail(`${pathOf(indices)} is an array, but shape ${shapeString(shape)} has only ${shape.length} dimension(s)`);
        }
        out.push(v);
        return;
      }
      if (!Array.isArray(v)) {
        fail(`${pathOf(indices)} is ${describeJson(v)}, but shape ${shapeString(shape)} needs an array of ${shape[depth]} entries there`);
      }
      const arr = v as unknown[];
      if (arr.length !== shape[depth]) {
        fail(`data is not rectangular: ${pathOf(indices)} has ${arr.length} entries but shape ${shapeString(shape)} needs ${shape[depth]}`);
      }
      for (let i = 0; i < arr.length; i++) {
        indices.push(i);
        walk(arr[i], depth + 1, indices);
        indices.pop();
      }
    };
    walk(data, 0, []);
    label = (i) => nestedPath(i, shape);
  } else {
    flat = data;
    if (flat.length !== n) {
      fail(`data has ${flat.length} value${flat.length === 1 ? "" : "s"} but shape ${shapeString(shape)} needs ${n}`);
    }
  }

  if (dtype === "f32") {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const v: unknown = flat[i];
      if (typeof v === "number") {
        const f = Math.fround(v);
        if (!Number.isFinite(f) && Number.isFinite(v)) {
          fail(`${label(i)} = ${v} is too large for float32 (max ±3.4028234663852886e38)`);
        }
        out[i] = f;
      } else if (typeof v === "string" && NON_FINITE_STRINGS.has(v)) {
        out[i] = NON_FINITE_STRINGS.get(v)!;
      } else if (Array.isArray(v)) {
        fail(`${label(i)} is an array: data must be flat (${n} numbers) or nested to match shape ${shapeString(shape)}`);
      } else {
        fail(`${label(i)} is ${describeJson(v)}, expected a number (or "NaN", "Infinity", "-Infinity")`);
      }
    }
    return { dtype: "f32", shape, data: out };
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v: unknown = flat[i];
    if (typeof v !== "number") {
      if (Array.isArray(v)) {
        fail(`${label(i)} is an array: data must be flat (${n} numbers) or nested to match shape ${shapeString(shape)}`);
      }
      fail(`${label(i)} is ${describeJson(v)}, expected an integer (dtype i32)`);
    }
    const num = v as number;
    if (!Number.isInteger(num)) fail(`${label(i)} = ${num} is not an integer (dtype i32)`);
    if (num < -2147483648 || num > 2147483647) {
      fail(`${label(i)} = ${num} is out of range for i32 [-2147483648, 2147483647]`);
    }
    out[i] = num;
  }
  return { dtype: "i32", shape, data: out };
}

/** Parses metadata: an object whose values are all strings. */
export function parseMetadata(v: unknown, file: string): Record<string, string> {
  if (v === null || v === undefined) return {};
  if (!isPlainObject(v)) {
    throw new UserError(`${file}: "${METADATA_KEY}" must be an object of strings, got ${describeJson(v)}`, { file });
  }
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== "string") {
      throw new UserError(`${file}: "${METADATA_KEY}" entry ${JSON.stringify(k)} must be a string, got ${describeJson(x)}`, { file });
    }
    // defineProperty, so that a key named "__proto__" is kept as data.
    Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** Parses an already-decoded JSON tensor file (object name → tensor, optional "__metadata__"). */
export function parseTensorFile(json: unknown, file: string): TensorFile {
  if (!isPlainObject(json)) {
    throw new UserError(`${file}: expected a JSON object mapping names to tensors, got ${describeJson(json)}`, { file });
  }
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  for (const [name, v] of Object.entries(json)) {
    if (name === METADATA_KEY) metadata = parseMetadata(v, file);
    else tensors.set(name, parseTensor(v, name, file));
  }
  return { tensors, metadata };
}

/** Reads and parses a JSON file; a missing file or malformed JSON is a UserError. */
export function readJsonFile(path: string, what = "JSON file"): unknown {
  const text = readFileText(path, what);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UserError(`${path}: invalid JSON: ${e instanceof Error ? e.message : String(e)}`, { file: path, cause: e });
  }
}

/** Reads a JSON tensor file with its metadata. */
export function readTensorJsonFile(path: string): TensorFile {
  return parseTensorFile(readJsonFile(path, "tensor file"), path);
}

/** Reads a JSON object mapping names → tensors. */
export function readTensorMap(path: string): Map<string, Tensor> {
  return readTensorJsonFile(path).tensors;
}

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/**
 * The shortest decimal (as a JS number) that Math.fround maps back to `v`, itself a
 * float32 value; among equally short ones, the nearest. Printing the result with
 * String() gives at most 9 significant digits.
 *
 * The check mirrors the reader exactly (decimal → double → Math.fround), so the
 * round trip holds by construction.
 */
export function shortestFloat32(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  const target = Math.fround(v);
  const nearest = (p: number): number => Number(target.toPrecision(p));
  scratchF32[0] = target;
  if ((scratchU32[0]! & 0x7fffff) !== 0) {
    // Away from powers of two the rounding interval is symmetric, so the nearest p-digit
    // decimal is the best candidate and "p digits suffice" is monotone in p: binary search.
    let lo = 1;
    let hi = 9; // 9 significant digits always round-trip a float32
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (Math.fround(nearest(mid)) === target) hi = mid;
      else lo = mid + 1;
    }
    return nearest(lo);
  }
  // At a power of two the interval below is half as wide as the one above, so a
  // neighbouring p-digit decimal can round to `target` even when the nearest does not.
  for (let p = 1; p <= 9; p++) {
    const s = target.toExponential(p - 1);
    const x = Number(s);
    if (Math.fround(x) === target) return x;
    const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s);
    if (m) {
      const digits = BigInt(`${m[2]}${m[3] ?? ""}`);
      const exp = Number(m[4]) - (p - 1);
      for (const d of [digits - 1n, digits + 1n]) {
        if (d <= 0n) continue;
        const y = Number(`${m[1]}${d}e${exp}`);
        if (Math.fround(y) === target) return y;
      }
    }
  }
  return Number(target.toPrecision(9)); // unreachable
}

/** The JSON form of a tensor: flat data, f32 values written so they read back bit-exactly. */
export function tensorToJson(t: Tensor): TensorJson {
  const n = t.data.length;
  const data = new Array<number | string>(n);
  if (t.dtype === "f32") {
    for (let i = 0; i < n; i++) {
      const v = t.data[i]!;
      data[i] = Number.isNaN(v) ? "NaN" : v === Infinity ? "Infinity" : v === -Infinity ? "-Infinity" : shortestFloat32(v);
    }
  } else {
    for (let i = 0; i < n; i++) data[i] = t.data[i]!;
  }
  return { shape: [...t.shape], dtype: t.dtype, data };
}

/** The JSON form of a tensor file (see parseTensorFile). */
function tensorMapToJson(
  tensors: ReadonlyMap<string, Tensor>,
  metadata?: Readonly<Record<string, string>>,
): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (metadata && Object.keys(metadata).length > 0) out.set(METADATA_KEY, { ...metadata });
  for (const [name, t] of tensors) {
    if (name === METADATA_KEY) throw new UserError(`a tensor cannot be named "${METADATA_KEY}"`);
    out.set(name, tensorToJson(t));
  }
  return out;
}

/**
 * Writes `obj` as JSON atomically (temp file + rename). -0 is written as -0 and
 * non-finite numbers as the strings "NaN", "Infinity", "-Infinity"; Maps become objects.
 */
export function writeJson(path: string, obj: unknown): void {
  writeFileAtomic(path, `${stringifyJson(obj)}\n`);
}

/** Writes a tensor map (and optional metadata) as a JSON tensor file, atomically. */
export function writeTensorMap(
  path: string,
  tensors: ReadonlyMap<string, Tensor>,
  metadata?: Readonly<Record<string, string>>,
): void {
  writeJson(path, tensorMapToJson(tensors, metadata));
}
