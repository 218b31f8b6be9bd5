/** Shared test helpers: where things are, and small tensor utilities. */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { type F32Tensor, type Tensor, f32, i32 } from "../interpreter/engine/tensor.js";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
/** The example specs from the starting design (copied into the repo: examples/README.md). */
export const EXAMPLES = path.join(REPO, "examples");
/** Golden vectors from the authors' reference code (test/golden/spikelm-reference/README.md). */
export const GOLDEN = path.join(REPO, "test/golden/spikelm-reference");
export const FIXTURES = path.join(REPO, "test/fixtures");

export function nested(x: unknown): number[] {
  return Array.isArray(x) ? x.flatMap(nested) : [x as number];
}

function shapeOf(x: unknown): number[] {
  const s: number[] = [];
  let cur = x;
  while (Array.isArray(cur)) {
    s.push(cur.length);
    cur = cur[0];
  }
  return s;
}

export function tensorFromNested(x: unknown): F32Tensor {
  return f32(shapeOf(x), nested(x));
}

export function sameBits(a: Tensor, b: Tensor): boolean {
  if (a.shape.join() !== b.shape.join() || a.dtype !== b.dtype) return false;
  return Buffer.compare(Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength), Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength)) === 0;
}

export function readJson(file: string): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
}

/** A seeded float32 tensor of standard-normal values (an LCG through Box-Muller). */
export function seededNormal(shape: number[], seed: number): Tensor {
  let s = seed >>> 0 || 1;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 1) / 4294967297;
  const n = shape.reduce((a, b) => a * b, 1);
  return f32(shape, Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u())));
}

/** Seeded token ids in [0, vocab), shape [B, L] (a Lehmer generator). */
export function seededIds(B: number, L: number, vocab: number, seed: number): Tensor {
  let s = seed;
  return i32([B, L], Int32Array.from({ length: B * L }, () => (s = (s * 48271) % 2147483647) % vocab));
}
