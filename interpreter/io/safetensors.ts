/**
 * The safetensors format: an 8-byte little-endian u64 header length N, then N bytes of
 * UTF-8 JSON header mapping name → {dtype, shape, data_offsets: [begin, end]} (offsets
 * relative to the byte buffer after the header) plus an optional "__metadata__"
 * string → string map, then the byte buffer.
 *
 * Reading converts to the engine's two dtypes: F32, F16, BF16, F64 → f32 and
 * I32, I64, I16, I8, U8, U16, U32, U64, BOOL → i32 (integers that do not fit are an
 * error naming the tensor). Writing emits F32 and I32 (or I64 for integer tensors on
 * request), tensors contiguous in sorted-name order, header padded with spaces to a
 * multiple of 8 bytes.
 *
 * Every problem with a file is a UserError naming the file and, where there is one,
 * the tensor. What is refused follows the reference implementation (huggingface/safetensors,
 * `Metadata::validate`): the tensors' byte ranges, taken in offset order, must tile the data
 * section exactly (no gap, no overlap, no trailing bytes); each range must hold exactly its
 * shape's elements; dtypes and shapes must be valid. Beyond it, a name given twice is
 * refused (JSON parsers silently keep the last) and so is a header nested more deeply than a
 * safetensors header can be (it would only serve to overflow a recursive reader).
 */

import type { Tensor } from "../engine/tensor.js";
import { numel, shapeString } from "../engine/tensor.js";
import { UserError } from "./errors.js";
import { readFileBytes, writeFileAtomic } from "./files.js";
import { METADATA_KEY, parseMetadata, parseShape, type TensorFile } from "./tensor-json.js";

type SafetensorsDType =
  | "F64" | "F32" | "F16" | "BF16"
  | "I64" | "I32" | "I16" | "I8"
  | "U64" | "U32" | "U16" | "U8"
  | "BOOL";

/** Bytes per element of each readable dtype. */
const SAFETENSORS_DTYPE_SIZES: Readonly<Record<SafetensorsDType, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2,
  I64: 8, I32: 4, I16: 2, I8: 1,
  U64: 8, U32: 4, U16: 2, U8: 1,
  BOOL: 1,
};

/** The reference implementation refuses headers over 100 MB; so do we. */
const MAX_HEADER_BYTES = 100_000_000;

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface SafetensorsWriteOptions {
  /** How integer tensors are stored: "I32" (default) or "I64". */
  intDtype?: "I32" | "I64";
}

function isDType(s: string): s is SafetensorsDType {
  return Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPE_SIZES, s);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  // One level only: a value from a hostile header may be nested arbitrarily deep.
  if (Array.isArray(v)) return `[${v.map((x) => (Array.isArray(x) ? "[…]" : x !== null && typeof x === "object" ? "{…}" : describe(x))).join(", ")}]`.slice(0, 60);
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === "object") return "an object";
  return String(v);
}

/** IEEE 754 half → number (exact in float32). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac === 0 ? sign * Infinity : NaN;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

interface Entry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parses safetensors bytes. `file` is only used in error messages.
 * Throws UserError on any malformed input, never another exception type.
 */
export function parseSafetensors(bytes: Uint8Array, file: string): TensorFile {
  const failFile = (msg: string): never => {
    throw new UserError(`${file}: ${msg}`, { file });
  };
  if (bytes.length < 8) {
    failFile(`file is too short to be safetensors (${bytes.length} bytes; the header length alone takes 8)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen64 = view.getBigUint64(0, true);
  if (headerLen64 > BigInt(bytes.length - 8)) {
    failFile(`header length ${headerLen64} exceeds the file size (${bytes.length} bytes, so at most ${bytes.length - 8}); the file is truncated or not safetensors`);
  }
  const headerLen = Number(headerLen64);
  if (headerLen > MAX_HEADER_BYTES) failFile(`header length ${headerLen} is larger than the limit of ${MAX_HEADER_BYTES} bytes`);
  let headerText: string;
  try {
    headerText = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    return failFile("header is not valid UTF-8 (the file is corrupt or not safetensors)");
  }
  const shapeProblem = scanHeader(headerText);
  if (shapeProblem) failFile(shapeProblem);
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (e) {
    return failFile(`header is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    failFile(`header must be a JSON object, got ${describe(header)}`);
  }

  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      metadata = parseMetadata(info, file);
      continue;
    }
    const fail = (msg: string): never => {
      throw new UserError(`${file}: tensor ${JSON.stringify(name)}: ${msg}`, { file });
    };
    if (typeof info !== "object" || info === null || Array.isArray(info)) {
      fail(`header entry must be an object {dtype, shape, data_offsets}, got ${describe(info)}`);
    }
    const rec = info as Record<string, unknown>;
    const dtype = rec.dtype;
    if (typeof dtype !== "string") fail(`"dtype" must be a string, got ${describe(dtype)}`);
    if (!isDType(dtype as string)) {
      fail(`unknown or unsupported dtype ${describe(dtype)} (supported: ${Object.keys(SAFETENSORS_DTYPE_SIZES).join(", ")})`);
    }
    const dt = dtype as SafetensorsDType;
    const shape = parseShape(rec.shape, fail);
    const offs = rec.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2) fail(`"data_offsets" must be [begin, end], got ${describe(offs)}`);
    const [begin, end] = offs as unknown[];
    if (typeof begin !== "number" || !Number.isSafeInteger(begin) || begin < 0 ||
      typeof end !== "number" || !Number.isSafeInteger(end) || end < 0) {
      fail(`"data_offsets" must be two non-negative integers, got ${describe(offs)}`);
    }
    const b = begin as number;
    const e = end as number;
    if (b > e) fail(`data_offsets [${b}, ${e}] are reversed (begin > end)`);
    if (e > dataLen) {
      fail(`data_offsets [${b}, ${e}] are out of range: the data section has only ${dataLen} bytes (the file is truncated?)`);
    }
    const size = SAFETENSORS_DTYPE_SIZES[dt];
    const n = numel(shape);
    if (n * size !== e - b) {
      const have = (e - b) / size;
      fail(`data_offsets [${b}, ${e}] cover ${e - b} bytes (${Number.isInteger(have) ? have : have.toFixed(2)} ${dt} values) but shape ${shapeString(shape)} needs ${n} values (${n * size} bytes)`);
    }
    entries.push({ name, dtype: dt, shape, begin: b, end: e });
  }

  // In offset order the tensors must tile the data section: each starts where the previous
  // ended (no two share bytes, no bytes belong to nobody) and the last ends the file.
  const byOffset = [...entries].sort((x, y) => x.begin - y.begin || x.end - y.end);
  let covered = 0;
  let previous: Entry | undefined;
  for (const cur of byOffset) {
    if (cur.begin < covered) {
      failFile(`tensors ${JSON.stringify(previous!.name)} (data_offsets [${previous!.begin}, ${previous!.end}]) and ${JSON.stringify(cur.name)} (data_offsets [${cur.begin}, ${cur.end}]) overlap`);
    }
    if (cur.begin > covered) {
      failFile(`bytes [${covered}, ${cur.begin}) of the data section belong to no tensor (a gap before tensor ${JSON.stringify(cur.name)}, data_offsets [${cur.begin}, ${cur.end}])`);
    }
    covered = cur.end;
    previous = cur;
  }
  if (covered !== dataLen) {
    failFile(`the data section has ${dataLen} bytes but the tensors cover only ${covered}: ${dataLen - covered} trailing bytes belong to no tensor`);
  }

  const tensors = new Map<string, Tensor>();
  for (const entry of entries) {
    tensors.set(entry.name, decodeTensor(bytes, view, dataStart, entry, file));
  }
  return { tensors, metadata };
}

/** A safetensors header is `{name: {dtype, shape: [...], data_offsets: [...]}}`: depth 3. */
const MAX_HEADER_DEPTH = 16;

/**
 * Checks what JSON.parse cannot: no object has the same key twice, and nothing nests deeper
 * than MAX_HEADER_DEPTH. A linear scan over the text (strings skipped); syntax errors are
 * left to JSON.parse.
 */
function scanHeader(text: string): string | undefined {
  const keys: Set<string>[] = [];
  const isObject: boolean[] = [];
  const path: string[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const raw = text.slice(i, j + 1);
      i = j;
      if (expectKey && isObject[isObject.length - 1]) {
        let key: string;
        try {
          key = JSON.parse(raw) as string;
        } catch {
          return undefined; // JSON.parse reports it
        }
        const seen = keys[keys.length - 1]!;
        if (seen.has(key)) {
          const where = keys.length >= 2 && path[0] !== undefined ? ` in tensor ${JSON.stringify(path[0])}` : "";
          return `header gives ${JSON.stringify(key)} twice${where}; every name must appear once`;
        }
        seen.add(key);
        path[keys.length - 1] = key;
        expectKey = false;
      }
    } else if (c === "{" || c === "[") {
      if (isObject.length >= MAX_HEADER_DEPTH) return `header is nested more than ${MAX_HEADER_DEPTH} levels deep; a safetensors header has 3`;
      isObject.push(c === "{");
      keys.push(new Set());
      expectKey = c === "{";
    } else if (c === "}" || c === "]") {
      isObject.pop();
      keys.pop();
      path.length = Math.min(path.length, keys.length);
      expectKey = false;
    } else if (c === ",") {
      expectKey = isObject[isObject.length - 1] === true;
    }
  }
  return undefined;
}

function decodeTensor(bytes: Uint8Array, view: DataView, dataStart: number, entry: Entry, file: string): Tensor {
  const { name, dtype, shape } = entry;
  const at = dataStart + entry.begin;
  const n = numel(shape);
  const fail = (msg: string): never => {
    throw new UserError(`${file}: tensor ${JSON.stringify(name)}: ${msg}`, { file });
  };
  const copyBytes = (): ArrayBuffer => {
    const copy = new Uint8Array(entry.end - entry.begin);
    copy.set(bytes.subarray(at, dataStart + entry.end));
    return copy.buffer;
  };
  switch (dtype) {
    case "F32": {
      if (LITTLE_ENDIAN_HOST) return { dtype: "f32", shape, data: new Float32Array(copyBytes()) };
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(at + 4 * i, true);
      return { dtype: "f32", shape, data: out };
    }
    case "F16": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(at + 2 * i, true));
      return { dtype: "f32", shape, data: out };
    }
    case "BF16": {
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) bits[i] = view.getUint16(at + 2 * i, true) << 16 >>> 0;
      return { dtype: "f32", shape, data: out };
    }
    case "F64": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const v = view.getFloat64(at + 8 * i, true);
        const f = Math.fround(v);
        if (Number.isFinite(v) && !Number.isFinite(f)) fail(`value ${v} at index ${i} is too large for float32`);
        out[i] = f;
      }
      return { dtype: "f32", shape, data: out };
    }
    case "I32": {
      if (LITTLE_ENDIAN_HOST) return { dtype: "i32", shape, data: new Int32Array(copyBytes()) };
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt32(at + 4 * i, true);
      return { dtype: "i32", shape, data: out };
    }
    case "I64":
    case "U64": {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const lo = view.getUint32(at + 8 * i, true);
        const hi = view.getUint32(at + 8 * i + 4, true);
        const fits = (hi === 0 && lo <= 0x7fffffff) || (dtype === "I64" && hi === 0xffffffff && lo >= 0x80000000);
        if (!fits) {
          const v = dtype === "I64" ? view.getBigInt64(at + 8 * i, true) : view.getBigUint64(at + 8 * i, true);
          fail(`${dtype} value ${v} at index ${i} does not fit in i32 [-2147483648, 2147483647]`);
        }
        out[i] = lo | 0;
      }
      return { dtype: "i32", shape, data: out };
    }
    case "U32": {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = view.getUint32(at + 4 * i, true);
        if (v > 0x7fffffff) fail(`U32 value ${v} at index ${i} does not fit in i32 [-2147483648, 2147483647]`);
        out[i] = v;
      }
      return { dtype: "i32", shape, data: out };
    }
    case "I16":
    case "U16": {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        out[i] = dtype === "I16" ? view.getInt16(at + 2 * i, true) : view.getUint16(at + 2 * i, true);
      }
      return { dtype: "i32", shape, data: out };
    }
    case "I8": {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt8(at + i);
      return { dtype: "i32", shape, data: out };
    }
    case "U8": {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = bytes[at + i]!;
      return { dtype: "i32", shape, data: out };
    }
    case "BOOL": {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = bytes[at + i]!;
        if (v > 1) fail(`BOOL value ${v} at index ${i} is not 0 or 1`);
        out[i] = v;
      }
      return { dtype: "i32", shape, data: out };
    }
  }
}

/** Reads a safetensors file. */
export function readSafetensors(path: string): TensorFile {
  return parseSafetensors(readFileBytes(path, "safetensors file"), path);
}

function utf8Length(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/** Serialises tensors (sorted by name, contiguous) and optional metadata as safetensors bytes. */
export function serializeSafetensors(
  tensors: ReadonlyMap<string, Tensor>,
  metadata?: Readonly<Record<string, string>>,
  options: SafetensorsWriteOptions = {},
): Uint8Array {
  const intDtype = options.intDtype ?? "I32";
  const names = [...tensors.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const parts: string[] = [];
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new UserError(`safetensors metadata ${JSON.stringify(k)} must be a string, got ${typeof v}`);
    }
    parts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  const layout: { t: Tensor; dtype: "F32" | "I32" | "I64"; begin: number }[] = [];
  for (const name of names) {
    if (name === METADATA_KEY) throw new UserError(`a tensor cannot be named "${METADATA_KEY}" in a safetensors file`);
    const t = tensors.get(name)!;
    const n = numel(t.shape);
    if (t.data.length !== n) {
      throw new UserError(`tensor ${JSON.stringify(name)}: data has ${t.data.length} values but shape ${shapeString(t.shape)} needs ${n}`);
    }
    const dtype = t.dtype === "f32" ? "F32" : intDtype;
    const size = dtype === "I64" ? 8 : 4;
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype, shape: [...t.shape], data_offsets: [offset, offset + n * size] })}`);
    layout.push({ t, dtype, begin: offset });
    offset += n * size;
  }
  let headerText = `{${parts.join(",")}}`;
  const headerBytes = utf8Length(headerText);
  const padded = Math.ceil(headerBytes / 8) * 8;
  headerText += " ".repeat(padded - headerBytes);

  const out = new Uint8Array(8 + padded + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(padded), true);
  new TextEncoder().encodeInto(headerText, out.subarray(8, 8 + padded));
  const base = 8 + padded;
  for (const { t, dtype, begin } of layout) {
    const at = base + begin;
    const n = t.data.length;
    if (dtype === "I64") {
      for (let i = 0; i < n; i++) {
        const v = t.data[i]! | 0;
        view.setInt32(at + 8 * i, v, true);
        view.setInt32(at + 8 * i + 4, v < 0 ? -1 : 0, true);
      }
    } else if (LITTLE_ENDIAN_HOST) {
      out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, n * 4), at);
    } else if (dtype === "F32") {
      for (let i = 0; i < n; i++) view.setFloat32(at + 4 * i, t.data[i]!, true);
    } else {
      for (let i = 0; i < n; i++) view.setInt32(at + 4 * i, t.data[i]!, true);
    }
  }
  return out;
}

/** Writes a safetensors file atomically (temp file + rename). */
export function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, Tensor>,
  metadata?: Readonly<Record<string, string>>,
  options?: SafetensorsWriteOptions,
): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata, options));
}
