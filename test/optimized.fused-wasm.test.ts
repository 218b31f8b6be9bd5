/**
 * Elementwise programs on the WebAssembly vector machine (interpreter/optimized/fused-wasm.ts)
 * against the generated JavaScript kernel (fused-codegen.ts), whose ops are the reference's
 * scalar ops: random programs over per-element, per-step-scalar, scalar and static broadcast
 * operands, on edge values (±0, subnormals, ±Infinity, NaN, the float32 extremes), rows that
 * are not a multiple of the vector width, one and two threads — bit for bit.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initSpikeKernels, shutdownKernelPool } from "../interpreter/engine/kernels/spike-matmul.js";
import { setVecTuning } from "../interpreter/engine/kernels/wasm-vector.js";
import { broadcastOffsets } from "../interpreter/engine/ops/broadcast.js";
import { compileFused, type InputIndex } from "../interpreter/optimized/fused-codegen.js";
import { classifyFusedOperands, compileFusedWasm, type FusedOperandKind, runFusedWasm } from "../interpreter/optimized/fused-wasm.js";
import type { FusedStep } from "../interpreter/passes/fuse-elementwise.js";

const EDGE = [0, -0, 1e-45, -1e-45, 1.1754942e-38, -1.1754942e-38, 0.5, -0.5, 1.5, -2.5, 1, -1, 3.4028234663852886e38, -3.4028234663852886e38, Infinity, -Infinity, NaN];
const value = fc.oneof(fc.float({ noDefaultInfinity: false, noNaN: false }), fc.constantFrom(...EDGE), fc.float({ min: -4, max: 4, noNaN: true }));
const BINARY = ["add", "sub", "mul", "div", "min", "max", "at_least"] as const;
const UNARY = ["neg", "abs", "round", "sign", "heaviside", "relu", "sqrt", "detach"] as const;

function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

interface Case {
  readonly T: number;
  readonly step: readonly [number, number];
  readonly kinds: readonly FusedOperandKind[];
  readonly staticShapes: readonly (readonly number[])[];
  readonly program: readonly FusedStep[];
  readonly seedValues: readonly number[];
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    T: fc.integer({ min: 1, max: 3 }),
    step: fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 21 })),
    kinds: fc.array(fc.constantFrom<FusedOperandKind>("elem", "stepScalar", "scalar", "static"), { minLength: 1, maxLength: 4 }),
    staticRow: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    ops: fc.array(
      fc.oneof(
        fc.record({ op: fc.constantFrom(...BINARY), a: fc.nat(), b: fc.nat() }),
        fc.record({ op: fc.constantFrom(...UNARY), a: fc.nat(), b: fc.constant(0) }),
        fc.record({ op: fc.constant("clamp"), a: fc.nat(), b: fc.nat() }),
      ),
      { minLength: 1, maxLength: 6 },
    ),
    seedValues: fc.array(value, { minLength: 64, maxLength: 64 }),
  })
  .map(({ T, step, kinds, staticRow, ops, seedValues }) => {
    // an operand reference: one of the inputs, or an earlier step's result
    const ref = (j: number, x: number): FusedStep["args"][number] => {
      const n = kinds.length + j;
      const r = x % n;
      return r < kinds.length ? { in: r } : { tmp: r - kinds.length };
    };
    const program: FusedStep[] = ops.map((o, j) => {
      if (o.op === "clamp") return { op: "clamp", args: [ref(j, o.a), ref(j, o.b), ref(j, o.a + o.b)] };
      if ((UNARY as readonly string[]).includes(o.op)) return { op: o.op, args: [ref(j, o.a)] };
      return { op: o.op, args: [ref(j, o.a), ref(j, o.b)] };
    });
    // a static operand is a whole step or one row broadcast over the step's rows
    const staticShapes = kinds.map((_, k) => (staticRow[k] ? [step[1]] : [step[0], step[1]]));
    return { T, step, kinds, staticShapes, program, seedValues };
  });

function run(c: Case, threads: number): { js: Float32Array; wasm: Float32Array; kinds: FusedOperandKind[] | undefined } {
  const { T, step } = c;
  const n = step[0] * step[1];
  const outShape = [T, step[0], step[1]];
  let next = 0;
  const fill = (len: number) => Float32Array.from({ length: len }, () => c.seedValues[next++ % c.seedValues.length]!);
  const aligned: number[][] = [];
  const ins = c.kinds.map((k, i) => {
    switch (k) {
      case "elem":
        aligned.push([T, step[0], step[1]]);
        return fill(T * n);
      case "stepScalar":
        aligned.push([T, 1, 1]);
        return fill(T);
      case "scalar":
        aligned.push([1, 1, 1]);
        return fill(1);
      case "static": {
        const s = c.staticShapes[i]!;
        aligned.push([1, ...new Array<number>(2 - s.length).fill(1), ...s]);
        return fill(s.reduce((a, b) => a * b, 1));
      }
    }
  });
  const index: InputIndex[] = aligned.map((s) => {
    const m = s.reduce((a, b) => a * b, 1);
    return m === 1 ? "scalar" : m === T * n && s.join() === outShape.join() ? "same" : "table";
  });
  const tables = aligned.map((s, k) => (index[k] === "table" ? broadcastOffsets(s, outShape) : undefined));
  const js = new Float32Array(T * n);
  compileFused(c.program, index)(ins, tables, js);
  const kinds = classifyFusedOperands(aligned, outShape, T);
  const wasm = new Float32Array(T * n);
  const fw = kinds && compileFusedWasm(c.program, kinds);
  if (!fw) throw new Error("every generated program fits the vector machine");
  expect(runFusedWasm(fw, ins, tables, T, n, wasm, threads)).toBe(true);
  return { js, wasm, kinds };
}

beforeAll(async () => {
  const { wasm } = await initSpikeKernels({ threads: 2 });
  expect(wasm).toBe(true);
});
afterAll(() => {
  setVecTuning({});
  return shutdownKernelPool();
});

describe("elementwise programs on the vector machine", () => {
  for (const threads of [1, 2]) {
    it(`equal the JavaScript kernel bit for bit (${threads} thread${threads > 1 ? "s" : ""})`, () => {
      // small chunks so that rows span several chunks and both threads get some
      setVecTuning(threads > 1 ? { chunk: 16, threadMin: 0 } : { chunk: 16 });
      let compiled = 0;
      fc.assert(
        fc.property(caseArb, (c) => {
          const r = run(c, threads);
          // the kinds overlap on degenerate shapes (a one-element row is a scalar, ...): any fitting kind must give the same bits
          if (c.T > 1 && c.step[0] > 1 && c.step[1] > 1) expect(r.kinds).toEqual(c.kinds);
          compiled++;
          return same(r.wasm, r.js);
        }),
        { numRuns: 400 },
      );
      expect(compiled).toBe(400);
    });
  }

  it("declines ops the machine lacks and operands that fit no kind", () => {
    expect(compileFusedWasm([{ op: "exp", args: [{ in: 0 }] }], ["elem"])).toBeUndefined();
    expect(compileFusedWasm([{ op: "gelu", args: [{ in: 0 }] }], ["elem"])).toBeUndefined();
    // timed, but broadcast inside the step: not a kind of the machine
    expect(classifyFusedOperands([[3, 1, 4], [3, 2, 4]], [3, 2, 4], 3)).toBeUndefined();
    expect(classifyFusedOperands([[1, 2, 4], [3, 1, 1], [1, 1, 1], [3, 2, 4]], [3, 2, 4], 3)).toEqual(["static", "stepScalar", "scalar", "elem"]);
  });
});
