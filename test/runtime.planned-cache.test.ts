/**
 * The optimized executor's key/value cache (runtime/planned-cache.ts): after every append its
 * contents are the row-major concatenation of everything appended along the sequence axis
 * (oracle: an index-by-index copy), through in-place moves and buffer growth; its byte
 * counts are those of the contents.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PlannedCache } from "../interpreter/runtime/planned-cache.js";

/** Concatenation along axis `ax` by coordinates: the obviously correct version. */
function concatOracle(parts: { data: ArrayLike<number>; shape: number[] }[], ax: number): number[] {
  const shape = [...parts[0]!.shape];
  shape[ax] = parts.reduce((s, p) => s + p.shape[ax]!, 0);
  const total = shape.reduce((a, b) => a * b, 1);
  const out: number[] = [];
  for (let flat = 0; flat < total; flat++) {
    const idx: number[] = [];
    let r = flat;
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d] = r % shape[d]!;
      r = Math.floor(r / shape[d]!);
    }
    let pos = idx[ax]!;
    const part = parts.find((p) => (pos < p.shape[ax]! ? true : ((pos -= p.shape[ax]!), false)))!;
    const local = idx.map((v, d) => (d === ax ? pos : v));
    let off = 0;
    for (let d = 0; d < local.length; d++) off = off * part.shape[d]! + local[d]!;
    out.push(part.data[off]!);
  }
  return out;
}

describe("PlannedCache", () => {
  it("holds the concatenation of every append along its axis, int8 and float32, across growth", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 6 }),
        (dims, axPick, chunks, int8, reserve) => {
          const ax = axPick % dims.length;
          const cache = new PlannedCache(int8, ax - dims.length, reserve);
          const parts: { data: Int8Array | Float32Array; shape: number[] }[] = [];
          let v = 1;
          for (const n of chunks) {
            const shape = dims.map((d, i) => (i === ax ? n : d));
            const size = shape.reduce((a, b) => a * b, 1);
            const data = int8 ? Int8Array.from({ length: size }, () => (v++ % 200) - 100) : Float32Array.from({ length: size }, () => v++ * 0.5);
            parts.push({ data, shape });
            const got = cache.append(data, shape);
            expect(Array.from(got)).toEqual(concatOracle(parts, ax));
            expect(cache.length).toBe(parts.reduce((s, p) => s + p.shape[ax]!, 0));
            expect(cache.bytes).toBe(got.length * (int8 ? 1 : 4));
            expect(cache.float32Bytes).toBe(got.length * 4);
            expect(cache.reservedBytes).toBeGreaterThanOrEqual(cache.bytes);
          }
          expect(cache.storage).toBe(int8 ? "int8 levels" : "float32");
        },
      ),
      { numRuns: 300, seed: 3 },
    );
  });

  it("refuses an append whose other axes differ", () => {
    const c = new PlannedCache(true, -2);
    c.append(new Int8Array(6), [2, 1, 3]);
    expect(() => c.append(new Int8Array(4), [2, 1, 2])).toThrow(/cannot take/);
  });
});
