/**
 * The optimized executor's key/value cache (runtime/planned-cache.ts): after every append its
 * contents are the row-major concatenation of everything appended along the sequence axis
 * (oracle: an index-by-index copy), read packed (contents()), block by block (arrays()) and
 * in its storage with room (region() at `stride`), through growth in blocks up to a limit,
 * in JS arrays and in the WebAssembly module's memory; an append that fits the room writes in
 * place (the storage stays where it was); its byte counts are those of the contents; it knows
 * whether it holds a NAN_LEVEL.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { initSpikeKernels } from "../interpreter/engine/kernels/spike-matmul.js";
import { wasmAccess } from "../interpreter/engine/kernels/wasm-backend.js";
import { NAN_LEVEL } from "../interpreter/engine/levels.js";
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

beforeAll(async () => {
  await initSpikeKernels();
});

describe("PlannedCache", () => {
  it("holds the concatenation of every append along its axis, int8 and float32, JS and WebAssembly storage, across growth in blocks", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 10 }),
        fc.boolean(),
        fc.record({ block: fc.integer({ min: 1, max: 5 }), limit: fc.option(fc.integer({ min: 1, max: 30 }), { nil: undefined }), reserve: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }) }),
        fc.constantFrom("auto" as const, "js" as const),
        fc.integer({ min: 0, max: 12 }),
        (dims, axPick, chunks, int8, growth, memory, nanAt) => {
          const ax = axPick % dims.length;
          const cache = new PlannedCache(int8, ax - dims.length, { ...growth, memory });
          const parts: { data: Int8Array | Float32Array; shape: number[] }[] = [];
          const outer = dims.slice(0, ax).reduce((a, b) => a * b, 1);
          const inner = dims.slice(ax + 1).reduce((a, b) => a * b, 1);
          let v = 1;
          let nanSeen = false;
          for (const [c, n] of chunks.entries()) {
            const shape = dims.map((d, i) => (i === ax ? n : d));
            const size = shape.reduce((a, b) => a * b, 1);
            const data = int8 ? Int8Array.from({ length: size }, () => (v++ % 200) - 100) : Float32Array.from({ length: size }, () => v++ * 0.5);
            if (int8 && c === nanAt) {
              data[size - 1] = NAN_LEVEL;
              nanSeen = true;
            }
            const L = cache.length;
            const before = { stride: cache.stride, region: cache.region(), first: cache.region()[0] };
            cache.append(data, shape);
            parts.push({ data, shape });
            const want = concatOracle(parts, ax);
            const total = L + n;
            expect(Array.from(cache.contents())).toEqual(want);
            expect(cache.length).toBe(total);
            expect(cache.shape).toEqual(dims.map((d, i) => (i === ax ? total : d)));
            // the storage with room: block o's positions at o * stride
            const region = cache.region();
            const blocks = cache.arrays();
            expect(blocks).toHaveLength(outer);
            for (let o = 0; o < outer; o++) {
              expect(Array.from(region.subarray(o * cache.stride, o * cache.stride + total * inner))).toEqual(want.slice(o * total * inner, (o + 1) * total * inner));
              expect(Array.from(blocks[o]!)).toEqual(want.slice(o * total * inner, (o + 1) * total * inner));
              expect(blocks[o]!.buffer).toBe(region.buffer);
            }
            // growth: in blocks (at least doubling), stopping at the limit while that is enough
            const room = cache.stride / inner;
            expect(room).toBeGreaterThanOrEqual(total);
            if (total <= before.stride / inner && L > 0) {
              // fitted: written in place, nothing moved
              expect(cache.stride).toBe(before.stride);
              expect(region.byteOffset).toBe(before.region.byteOffset);
              expect(region.buffer).toBe(before.region.buffer);
            } else if (growth.limit !== undefined && total <= growth.limit) {
              expect(room).toBeLessThanOrEqual(growth.limit);
              expect(room === growth.limit || room % growth.block === 0).toBe(true);
            } else expect(room % growth.block).toBe(0);
            const bytes = total * outer * inner * (int8 ? 1 : 4);
            expect(cache.bytes).toBe(bytes);
            expect(blocks.reduce((s, b) => s + b.byteLength, 0)).toBe(bytes);
            expect(cache.float32Bytes).toBe(total * outer * inner * 4);
            expect(cache.reservedBytes).toBe(room * outer * inner * (int8 ? 1 : 4));
            expect(cache.hasNanLevel).toBe(nanSeen);
            const w = wasmAccess()!;
            expect(cache.wasmOffset(w) !== undefined).toBe(int8 && memory === "auto");
            void before.first;
          }
          expect(cache.storage).toBe(int8 ? "int8 levels" : "float32");
          cache.release();
          expect(cache.region().length).toBe(0);
        },
      ),
      { numRuns: 400, seed: 3 },
    );
  });

  it("a decoding-sized cache grows once past its prompt (to the context) and otherwise only writes the new position", () => {
    // decoder-base's keys of one layer: 4 steps x 12 heads, 64 levels per head, context 1024
    const cache = new PlannedCache(true, -2, { limit: 1024 });
    const shape = (n: number) => [4, 1, 12, n, 64];
    cache.append(new Int8Array(4 * 12 * 900 * 64).fill(1), shape(900));
    expect(cache.stride / 64).toBe(960); // the prompt, rounded up to a block of 64 positions
    const moves: number[] = [];
    let where = cache.wasmOffset(wasmAccess()!);
    expect(where).toBeDefined();
    for (let i = 0; i < 124; i++) {
      cache.append(new Int8Array(4 * 12 * 64).fill(-1), shape(1));
      const now = cache.wasmOffset(wasmAccess()!);
      if (now !== where) moves.push(cache.length);
      where = now;
    }
    expect(moves).toEqual([961]); // one growth: doubling capped at the context
    expect(cache.length).toBe(1024);
    expect(cache.reservedBytes).toBe(4 * 12 * 1024 * 64);
    const r = cache.region();
    expect(r[cache.stride - 1]).toBe(-1);
    expect(r[899 * 64]).toBe(1);
    expect(r[900 * 64]).toBe(-1);
    expect(r[cache.stride]).toBe(1);
    cache.release();
  });

  it("refuses an append whose other axes differ", () => {
    const c = new PlannedCache(true, -2);
    c.append(new Int8Array(6), [2, 1, 3]);
    expect(() => c.append(new Int8Array(4), [2, 1, 2])).toThrow(/cannot take/);
  });
});
