/**
 * `x @ transpose(W)` without the transposed copy (engine/fast/matmul-nt.ts, planned by
 * optimized/read-through-transposes.ts): bit for bit the reference matmul on the transposed
 * operand, on any shape and edge values; and the executor runs a tied masked-LM decoder that
 * way (no weight-only element computed) with the reference interpreter's bits.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileEntry } from "../interpreter/compile.js";
import { matmulNtInto } from "../interpreter/engine/fast/matmul-nt.js";
import { transpose } from "../interpreter/engine/ops/layout.js";
import { matmul } from "../interpreter/engine/ops/matmul.js";
import { f32, i32 } from "../interpreter/engine/tensor.js";
import { OptimizedExecutor, executorStats } from "../interpreter/optimized/executor.js";
import { optimize } from "../interpreter/passes/pass.js";
import { ReferenceInterpreter } from "../interpreter/reference/interpreter.js";
import { ParamStore } from "../interpreter/runtime/params.js";
import { SMALL_ENCODER_ARGS } from "../models/registry.js";
import { loadModel } from "../models/tasks.js";

// NaN payloads are not part of the language's numerics: every NaN compares as one value.
const bits = (x: Float32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length), (u, i) => (Number.isNaN(x[i]) ? 0x7fc00000 : u));

const EDGE = [0, -0, 1e-45, -1e-45, 1.1754942e-38, -5.9e-39, NaN, Infinity, -Infinity, 3.4028234663852886e38, -3.4028234663852886e38, 1, -1];
/** Mostly ordinary values (so sums are not all NaN), with edge values mixed in. */
const value = fc.oneof(
  { weight: 4, arbitrary: fc.float({ noNaN: true, noDefaultInfinity: true, min: -1000, max: 1000 }) },
  { weight: 1, arbitrary: fc.constantFrom(...EDGE) },
);

describe("matmulNtInto", () => {
  it("equals ops/matmul(x, transpose(W)) bit for bit, batch dims of x included", () => {
    fc.assert(
      fc.property(
        fc.record({ batch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }), M: fc.integer({ min: 1, max: 6 }), K: fc.integer({ min: 0, max: 9 }), N: fc.integer({ min: 1, max: 7 }) }),
        fc.infiniteStream(value),
        ({ batch, M, K, N }, values) => {
          const rows = batch.reduce((a, b) => a * b, 1) * M;
          const x = f32([...batch, M, K], Array.from({ length: rows * K }, () => values.next().value as number));
          const w = f32([N, K], Array.from({ length: N * K }, () => values.next().value as number));
          const expected = matmul(x, transpose(w));
          const out = new Float32Array(rows * N).fill(7); // every output written, none read
          matmulNtInto(x.data, 0, w.data, 0, rows, K, N, out, 0);
          expect(bits(out)).toEqual(bits(expected.data));
        },
      ),
      { numRuns: 400, seed: 11 },
    );
  });

  it("reads and writes at the offsets it is given", () => {
    const x = new Float32Array([9, 9, 1, 2, 3, 4]); // rows [1, 2], [3, 4] at offset 2
    const w = new Float32Array([9, 5, 6, 7, 8]); // rows [5, 6], [7, 8] at offset 1
    const out = new Float32Array(6).fill(-1);
    matmulNtInto(x, 2, w, 1, 2, 2, 2, out, 1);
    expect([...out]).toEqual([-1, 17, 23, 39, 53, -1]);
  });
});

describe("a tied masked-LM decoder on the executor (SpikeLMForMaskedLM, small sizes, seeded weights)", () => {
  it("reads the embedding table as stored: no transposed copy planned or computed, the reference interpreter's bits", () => {
    const m = loadModel("fill-mask", { model: "mlm-base", args: SMALL_ENCODER_ARGS, noTokenizer: true });
    const ids = [2, 110, 4, 608, 3, 2, 40, 4, 611, 3];
    const inputs = new Map([["ids", i32([2, 5], ids)], ["types", i32([2, 5])], ["mask", i32([2, 5], ids.map(() => 1))]]);
    const { graph: source } = compileEntry({ file: m.info.spec, entry: m.info.entry, args: m.info.args, inputs, program: m.program });
    const graph = optimize(source).graph;
    const ex = new OptimizedExecutor(graph, ParamStore.create(graph.params, m.weights, { seed: 0 }));
    const table = ex.plan.nodes.find((p) => p.node.op === "param" && p.node.attrs.path === "embeddings.word.table")!;
    const decoder = ex.plan.nodes.filter((p) => p.node.op === "matmul" && p.node.inputs[1] === table.node.id);
    expect(decoder).toHaveLength(1);
    expect(decoder[0]!.node.attrs.form).toBe("nt");
    expect(ex.plan.nodes.filter((p) => p.node.op === "transpose" && p.isStatic)).toEqual([]);
    const before = executorStats.weightOnlyElements;
    const out = ex.run(inputs).output;
    expect(executorStats.weightOnlyElements - before).toBe(0);
    expect(out.shape).toEqual([2, 5, SMALL_ENCODER_ARGS.vocab]);
    const ref = new ReferenceInterpreter(source, ParamStore.create(source.params, m.weights, { seed: 0 })).run(inputs).output;
    expect(bits(out.data as Float32Array)).toEqual(bits(ref.data as Float32Array));
  });
});
