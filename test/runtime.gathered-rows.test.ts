/**
 * A one-shot forward seeds its embedding tables only at the rows it gathers (runModel):
 * which tables qualify (read by nothing but a gather of an input's ids), and that the forward
 * gives the same bits as with every table seeded whole.
 */
import { describe, expect, it } from "vitest";
import { i32, type Tensor } from "../interpreter/engine/tensor.js";
import type { Graph, IRNode } from "../interpreter/ir/graph.js";
import { runSpec } from "../interpreter/run.js";
import { ParamStore, gatheredRows } from "../interpreter/runtime/params.js";
import { loadModel, runModel } from "../models/tasks.js";

const node = (id: number, op: string, inputs: number[], attrs: Record<string, unknown> = {}) => ({ id, op, inputs, attrs }) as unknown as IRNode;
const graphOf = (nodes: IRNode[]): Graph => ({ nodes, inputs: [{ name: "ids", node: 1 }], output: nodes.at(-1)!.id, params: [], timesteps: 1 }) as unknown as Graph;
const ids = new Map<string, Tensor>([["ids", i32([1, 3], [4, 1, 4])]]);

describe("gatheredRows", () => {
  it("lists a table gathered by an input's ids, with those ids", () => {
    const g = graphOf([node(0, "param", [], { path: "word.table" }), node(1, "input", [], { name: "ids" }), node(2, "gather", [0, 1])]);
    expect([...gatheredRows(g, ids)]).toEqual([["word.table", [4, 1, 4]]]);
  });

  it("leaves out a table with any other use: an output layer tied to it, ids that are not an input", () => {
    const tied = graphOf([node(0, "param", [], { path: "word.table" }), node(1, "input", [], { name: "ids" }), node(2, "gather", [0, 1]), node(3, "matmul", [2, 0])]);
    expect(gatheredRows(tied, ids).size).toBe(0);
    const computed = graphOf([node(0, "param", [], { path: "pos.table" }), node(1, "input", [], { name: "ids" }), node(2, "positions", [1]), node(3, "gather", [0, 2])]);
    expect(gatheredRows(computed, ids).size).toBe(0);
  });
});

describe("runModel on seeded weights", () => {
  it("gives the bits of a forward with every table seeded whole", () => {
    // classifier-small without its weights file: every weight seeded, its 625-row word table included.
    const m = { ...loadModel("classify", { model: "classifier-small", noTokenizer: true }), weights: undefined, weightsSource: undefined, seed: 11 };
    const idsT = i32([2, 4], [2, 600, 17, 3, 2, 9, 624, 3]);
    const batch = { ids: idsT, types: i32([2, 4]), mask: i32([2, 4], [1, 1, 1, 1, 1, 1, 1, 0]) };
    const got = runModel(m, batch).output.data as Float32Array;
    const inputs = new Map<string, Tensor>([["ids", batch.ids], ["types", batch.types], ["mask", batch.mask]]);
    const full = runSpec({ file: m.info.spec, entry: m.info.entry, args: m.info.args, inputs, seed: 11 }).output.data as Float32Array;
    expect(full.length).toBe(got.length);
    expect(Array.from(got).every((v, i) => Object.is(v, full[i]))).toBe(true);
    // And the store really was partial: a row no token uses stays zero.
    const store = ParamStore.create(runSpec({ file: m.info.spec, entry: m.info.entry, args: m.info.args, inputs, seed: 11 }).compiled.graph.params, undefined, { seed: 11, onlyRows: new Map([["embeddings.word.table", idsT.data]]) });
    expect(store.get("embeddings.word.table").tensor.data.subarray(5 * 64, 6 * 64).every((v) => v === 0)).toBe(true);
  });
});
