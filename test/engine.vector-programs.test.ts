/**
 * Whole vector-machine programs (engine/kernels/wasm-vector*.ts, native/vec_native.c) against
 * a scalar interpreter of the same program written here from the op definitions
 * (engine/ops/elementwise.ts): random straight-line programs over registers, inputs, states,
 * params and per-step scalars, writing values, float or int8 levels and states, on edge and
 * random floats, any row length (partial chunks), several steps from a nonzero first step,
 * one and two threads.
 *
 * The native machine runs a program as micro-ops over an accumulator: an instruction reading
 * the previous one's destination takes it from registers, a register nobody reads again is
 * not stored, a register filled by one splat is read as a broadcast scalar, and an i8 store
 * moves up to the instruction that computed its operand. The generator makes those cases
 * common (operands drawn from the previous destination, registers overwritten or read again
 * later, splats before and between their readers, states read after they are written, i8
 * stores of values still needed) so a wrong liveness or ordering decision changes a result.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initSpikeKernels, nativeStatus, shutdownKernelPool } from "../interpreter/engine/kernels/spike-matmul.js";
import { runVecProgram, setVecTuning, type VecInstr, type VecOperand } from "../interpreter/engine/kernels/wasm-vector.js";
import type { VecOp } from "../interpreter/engine/kernels/wasm-vector-wat.js";
import { binaryScalar, unaryScalar } from "../interpreter/engine/ops/elementwise.js";

const f = Math.fround;
const BINARY = ["add", "sub", "mul", "div", "min", "max", "at_least"] as const;
const UNARY = ["copy", "neg", "abs", "round", "sign", "heaviside", "relu", "sqrt", "canon"] as const;
const REF: Record<string, (a: number, b: number) => number> = {
  copy: (a) => a,
  canon: (a) => a + 0,
  ...Object.fromEntries(BINARY.map((op) => [op, binaryScalar(op)])),
  ...Object.fromEntries(UNARY.filter((op) => op !== "copy" && op !== "canon").map((op) => [op, unaryScalar(op)])),
};
/** The int8 level store: truncate, saturate to [-128, 127], NaN -> -128. */
const i8 = (x: number) => (x !== x ? -128 : Math.max(-128, Math.min(127, Math.trunc(x))));

const EDGE = [0, -0, 1e-45, -1e-45, 1.1754942e-38, 0.5, -0.5, 1.5, -2.5, 0.49999997, 1, -1, 3.4028234663852886e38, -3.4028234663852886e38, Infinity, -Infinity, NaN, 127.9, 128, -128.5, -129, 300, -3e9, 3e9, 8388607.5];

interface Case {
  instrs: VecInstr[];
  regs: number;
  scalars: number;
  nIn: number;
  nSt: number;
  nPar: number;
  levels: "int8" | "float" | "none";
  value: boolean;
}

/** A program as the scalar interpreter runs it: element by element, step by step. */
function interpret(c: Case, io: { inputs: Float32Array[]; states: Float32Array[]; params: Float32Array[]; table: Float32Array; levels?: Int8Array | Float32Array; value?: Float32Array }, n: number, t0: number, t1: number): void {
  const regs = new Array<number>(c.regs).fill(0);
  for (let i = 0; i < n; i++) {
    for (let t = t0; t < t1; t++) {
      const read = (o: VecOperand): number => {
        switch (o.kind) {
          case "reg": return regs[o.index]!;
          case "input": return io.inputs[o.index]![t * n + i]!;
          case "state": return io.states[o.index]![i]!;
          case "param": return io.params[o.index]![i]!;
          case "scalar": return io.table[(t - t0) * c.scalars + o.index]!;
          default: throw new Error(`cannot read ${o.kind}`);
        }
      };
      const write = (o: VecOperand, v: number) => {
        if (o.kind === "reg") regs[o.index] = v;
        else if (o.kind === "state") io.states[o.index]![i] = v;
        else if (o.kind === "value") io.value![t * n + i] = v;
        else if (o.kind === "levels") io.levels![t * n + i] = v;
        else throw new Error(`cannot write ${o.kind}`);
      };
      for (const ins of c.instrs) {
        const a = read(ins.a);
        if (ins.op === "splat") write(ins.d, a);
        else if (ins.op === "i8") write(ins.d, i8(a));
        else write(ins.d, f(REF[ins.op]!(a, ins.b ? read(ins.b) : 0)));
      }
    }
  }
}

/** Random programs that only read a register after the program has written it (so no value crosses chunks). */
const programs: fc.Arbitrary<Case> = fc
  .record({
    nIn: fc.integer({ min: 1, max: 2 }),
    nSt: fc.integer({ min: 0, max: 2 }),
    nPar: fc.integer({ min: 0, max: 1 }),
    scalars: fc.integer({ min: 0, max: 3 }),
    regs: fc.integer({ min: 1, max: 6 }),
    levels: fc.constantFrom("int8" as const, "float" as const, "none" as const),
    value: fc.boolean(),
    choices: fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat(), fc.nat(), fc.nat()), { minLength: 1, maxLength: 16 }),
  })
  .map(({ choices, ...c }) => {
    const instrs: VecInstr[] = [];
    const written = new Set<number>();
    let prev: VecOperand | undefined;
    const source = (r: number): VecOperand => {
      const readable: VecOperand[] = [
        ...[...written].map((index) => ({ kind: "reg" as const, index })),
        ...Array.from({ length: c.nIn }, (_, index) => ({ kind: "input" as const, index })),
        ...Array.from({ length: c.nSt }, (_, index) => ({ kind: "state" as const, index })),
        ...Array.from({ length: c.nPar }, (_, index) => ({ kind: "param" as const, index })),
      ];
      // the previous destination half the time: the accumulator's case
      if (prev && (prev.kind === "reg" || prev.kind === "state") && r % 2 === 0) return prev;
      return readable[(r >> 1) % readable.length]!;
    };
    for (const [kind, op, ra, rb, rd] of choices) {
      const destinations: VecOperand[] = [
        ...Array.from({ length: c.regs }, (_, index) => ({ kind: "reg" as const, index })),
        ...Array.from({ length: c.nSt }, (_, index) => ({ kind: "state" as const, index })),
        ...(c.value ? [{ kind: "value" as const }] : []),
        ...(c.levels === "float" ? [{ kind: "levels" as const }] : []),
      ];
      let ins: VecInstr;
      if (kind % 7 === 0 && c.scalars > 0) {
        ins = { op: "splat", d: { kind: "reg", index: rd % c.regs }, a: { kind: "scalar", index: ra % c.scalars } };
      } else if (kind % 7 === 1 && c.levels === "int8") {
        ins = { op: "i8", d: { kind: "levels" }, a: source(ra) };
      } else if (kind % 7 <= 3) {
        ins = { op: UNARY[op % UNARY.length]! as VecOp, d: destinations[rd % destinations.length]!, a: source(ra) };
      } else {
        ins = { op: BINARY[op % BINARY.length]! as VecOp, d: destinations[rd % destinations.length]!, a: source(ra), b: source(rb) };
      }
      instrs.push(ins);
      if (ins.d.kind === "reg") written.add(ins.d.index);
      if (ins.op !== "i8") prev = ins.d;
    }
    // an output handed to the machine is written at every step (the machines' contract)
    const last = prev && prev.kind !== "value" && prev.kind !== "levels" ? prev : { kind: "input" as const, index: 0 };
    if (c.value && !instrs.some((i) => i.d.kind === "value")) instrs.push({ op: "copy", d: { kind: "value" }, a: last });
    if (c.levels !== "none" && !instrs.some((i) => i.d.kind === "levels")) instrs.push({ op: c.levels === "int8" ? "i8" : "canon", d: { kind: "levels" }, a: last });
    return { ...c, instrs };
  });

const floats = fc.oneof(fc.float({ noDefaultInfinity: false, noNaN: false }), fc.constantFrom(...EDGE), fc.float({ min: -4, max: 4 }), fc.integer({ min: -200, max: 200 }).map(f));

type Machine = "wasm" | "native";
const native = nativeStatus();
const machines: [Machine, string | null][] = [
  ["wasm", null],
  ["native", native.ready ? null : native.reason],
];

beforeAll(async () => {
  const { wasm } = await initSpikeKernels({ threads: 2 });
  expect(wasm).toBe(true);
  setVecTuning({ chunk: 32, threadMin: 0 });
});
afterAll(() => {
  setVecTuning({});
  return shutdownKernelPool();
});

function same(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

function runBoth(c: Case, vals: number[], n: number, t0: number, t1: number, threads: number, machine: Machine): void {
  let k = 0;
  const next = () => vals[k++ % vals.length]!;
  const T = t1;
  const inputs = Array.from({ length: c.nIn }, () => Float32Array.from({ length: T * n }, next));
  const states = Array.from({ length: c.nSt }, () => Float32Array.from({ length: n }, next));
  const params = Array.from({ length: c.nPar }, () => Float32Array.from({ length: n }, next));
  const table = Float32Array.from({ length: Math.max(1, (t1 - t0) * c.scalars) }, next);
  const mkLevels = () => (c.levels === "int8" ? new Int8Array(T * n).fill(7) : c.levels === "float" ? new Float32Array(T * n).fill(7) : undefined);
  const got = { inputs, states: states.map((s) => s.slice()), params, table, levels: mkLevels(), value: c.value ? new Float32Array(T * n).fill(7) : undefined };
  const want = { inputs, states: states.map((s) => s.slice()), params, table, levels: mkLevels(), value: c.value ? new Float32Array(T * n).fill(7) : undefined };
  runVecProgram({ instrs: c.instrs, regs: c.regs, scalars: c.scalars }, got, n, t0, t1, threads, machine);
  interpret(c, want, n, t0, t1);
  const show = () => c.instrs.map((i) => `${i.op} ${JSON.stringify(i.d)} ${JSON.stringify(i.a)} ${i.b ? JSON.stringify(i.b) : ""}`).join("\n");
  got.states.forEach((s, j) => expect(same(s, want.states[j]!), `state ${j} of\n${show()}`).toBe(true));
  if (got.value) expect(same(got.value, want.value!), `value of\n${show()}`).toBe(true);
  if (got.levels) expect(same(got.levels, want.levels!), `levels of\n${show()}`).toBe(true);
}

describe.each(machines)("%s vector machine runs whole programs as the scalar interpreter does", (machine, skipWhy) => {
  const title = (t: string) => (skipWhy ? `${t} (skipped: ${skipWhy})` : t);
  it.skipIf(skipWhy !== null)(title("random programs, any row length, steps from t0, one or two threads"), () => {
    fc.assert(
      fc.property(programs, fc.array(floats, { minLength: 64, maxLength: 64 }), fc.integer({ min: 1, max: 600 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), (c, vals, n, t0, steps, threads) => {
        runBoth(c, vals, n, t0, t0 + steps, threads, machine);
      }),
      { numRuns: 300, seed: 7 },
    );
  });
  it.skipIf(skipWhy !== null)(title("the SpikeLM neuron's program shape (splats, chained ops, in-place states, an int8 level store of a value read later)"), () => {
    // as neuron-wasm.ts compiles SpikeLMReference: st0 = st1 * st0 + x; lv = clamp(round(st0 / a), lo, hi); st1 = c * (hi - lv)
    const r = (index: number): VecOperand => ({ kind: "reg", index });
    const st = (index: number): VecOperand => ({ kind: "state", index });
    const instrs: VecInstr[] = [
      { op: "splat", d: r(3), a: { kind: "scalar", index: 0 } },
      { op: "splat", d: r(6), a: { kind: "scalar", index: 1 } },
      { op: "splat", d: r(7), a: { kind: "scalar", index: 2 } },
      { op: "splat", d: r(10), a: { kind: "scalar", index: 3 } },
      { op: "mul", d: r(0), a: st(1), b: st(0) },
      { op: "add", d: st(0), a: r(0), b: { kind: "input", index: 0 } },
      { op: "div", d: r(2), a: st(0), b: r(3) },
      { op: "round", d: r(4), a: r(2) },
      { op: "max", d: r(5), a: r(4), b: r(6) },
      { op: "min", d: r(5), a: r(5), b: r(7) },
      { op: "sub", d: r(8), a: r(7), b: r(5) },
      { op: "mul", d: st(1), a: r(10), b: r(8) },
      { op: "i8", d: { kind: "levels" }, a: r(5) },
    ];
    const c: Case = { instrs, regs: 11, scalars: 4, nIn: 1, nSt: 2, nPar: 0, levels: "int8", value: false };
    fc.assert(
      fc.property(fc.array(floats, { minLength: 64, maxLength: 64 }), fc.integer({ min: 1, max: 1100 }), fc.integer({ min: 1, max: 2 }), (vals, n, threads) => {
        runBoth(c, vals, n, 0, 4, threads, machine);
      }),
      { numRuns: 60, seed: 3 },
    );
  });
});
