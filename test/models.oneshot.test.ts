/**
 * One-shot model commands (issue 11): the start-up work changed how weights are made and
 * how the CLI starts, never what a model computes. Logits are pinned to hashes recorded
 * before those changes; the forward a command runs uses the WebAssembly kernels; the
 * installed entry point (tools/cli/bin.mjs, the bundled CLI) prints what the sources print.
 */
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { compileEntry } from "../interpreter/compile.js";
import { i32 } from "../interpreter/engine/tensor.js";
import { nativeStatus } from "../interpreter/engine/kernels/spike-matmul.js";
import { OptimizedExecutor, executorStats } from "../interpreter/optimized/executor.js";
import { optimize } from "../interpreter/passes/pass.js";
import { ParamStore } from "../interpreter/runtime/params.js";
import { seedThreadStats } from "../interpreter/runtime/seed-threads.js";
import { loadModel, runModel } from "../models/tasks.js";
import { REPO } from "./helpers.js";
import { ensureBundle, freshBundle } from "../tools/cli/bundle.mjs";

// "a fine film" and "the [MASK] sat" in the small WordPiece vocabulary (the first 625 ids of
// a BERT-sized vocabulary are the same here), [CLS] ... [SEP], no padding.
const IDS = [2, 40, 510, 611, 3, 2, 110, 4, 608, 3];
const batch = { ids: i32([2, 5], IDS), types: i32([2, 5]), mask: i32([2, 5], IDS.map(() => 1)) };

const sha256 = (data: Float32Array) => createHash("sha256").update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest("hex");
const logitsHash = (model: string, task: "classify" | "fill-mask") => sha256(runModel(loadModel(task, { model, noTokenizer: true }), batch).output.data as Float32Array);

describe("logits are the bits they were before the start-up work (hashes recorded with the code of a182441)", () => {
  it("classifier-small and mlm-small on their shipped weights", () => {
    expect(logitsHash("classifier-small", "classify")).toBe("89f1ff68ef56b9f3a61c0c1ed2b6500b28732ff6f473ab735383dcfa3cc591a6");
    expect(logitsHash("mlm-small", "fill-mask")).toBe("d0135ec300f06cb9b1d5941a85525b9aa881838074b5f9c93c9ecff0ca633b41");
  });

  it("classifier-base on seeded weights (seeded on two threads where there are two cores; the word table only at the gathered rows)", () => {
    expect(logitsHash("classifier-base", "classify")).toBe("8b80bdcee5b9363c0a8faef4c8b717831a5a4d54407576140062b53c9a9f524b");
    expect(seedThreadStats.filledByThread).toBe(os.availableParallelism() >= 2);
  });
});

describe("the path a one-shot forward runs (classifier-small, in process)", () => {
  it("its spike products read each weight as declared (no transposed copy is planned) and its first call runs no neuron step on the reference path", () => {
    const m = loadModel("classify", { model: "classifier-small", noTokenizer: true });
    const inputs = new Map([["ids", batch.ids], ["types", batch.types], ["mask", batch.mask]]);
    const { graph } = optimize(compileEntry({ file: m.info.spec, entry: m.info.entry, args: m.info.args, inputs, program: m.program }).graph);
    const ex = new OptimizedExecutor(graph, ParamStore.create(graph.params, m.weights, { seed: 0 }));
    // q, k, v, the attention output, up and down in each of the 2 layers
    const linear = ex.plan.nodes.filter((p) => p.node.op === "spike_matmul" && p.node.attrs.side === "left");
    expect(linear).toHaveLength(12);
    for (const p of linear) {
      expect(p.node.attrs.form).toBe("nt");
      expect(ex.plan.byId.get(p.node.inputs[1]!)!.node.op).toBe("param");
    }
    const before = executorStats.referenceNeuronSteps;
    ex.run(inputs);
    expect(executorStats.referenceNeuronSteps).toBe(before);
  });
});

function run(entry: string[], ...args: string[]) {
  const r = spawnSync(process.execPath, [...entry, ...args], { cwd: REPO, encoding: "utf8" });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const sources = ["--import", "tsx", path.join(REPO, "tools/cli/main.ts")];
const installed = [path.join(REPO, "tools/cli/bin.mjs")];

describe("the installed entry point's bundle (tools/cli/bundle.mjs)", () => {
  it("is stale once a source it was built from is newer, and is rebuilt", async () => {
    expect(await ensureBundle()).toBeDefined();
    expect(freshBundle()).toBeDefined();
    // A source edited after the bundle was built (its content stays; only the time moves).
    const source = path.join(REPO, "tools/cli/table.ts");
    const later = new Date(Math.max(Date.now(), fs.statSync(freshBundle()!).mtimeMs + 10));
    fs.utimesSync(source, later, later);
    expect(freshBundle()).toBeUndefined();
    expect(await ensureBundle()).toBeDefined();
    expect(freshBundle()).toBeDefined();
  });
});

describe("spikelm classify, one shot", () => {
  it("runs its forward on the compiled kernels (native where the addon loads, else WebAssembly, ready before the model runs) and says where the time went", () => {
    const r = run(sources, "classify", "--timings", "a fine film");
    expect(r.code).toBe(0);
    const line = r.err.split("\n").find((l) => l.startsWith("timings: "));
    expect(line).toBeDefined();
    for (const stage of ["startup", "kernels", "model", "compile", "optimize", "params", "forward", "total"]) expect(line).toMatch(new RegExp(`${stage} \\d+ ms`));
    const [, native, wasm] = /spike matmuls: (\d+) native, (\d+) wasm, 0 js/.exec(line!)!.map(Number);
    // the path actually run: the native kernels wherever they load here
    if (nativeStatus().ready) expect(native).toBeGreaterThan(0);
    else expect(wasm).toBeGreaterThan(0);
    expect(Number(/neuron steps: (\d+) compiled/.exec(line!)![1])).toBeGreaterThan(0);
    const [, vnative, vwasm] = /vector machine: (\d+) native, (\d+) wasm/.exec(line!)!.map(Number);
    expect(nativeStatus().ready ? vnative : vwasm).toBeGreaterThan(0);
    // No neuron step on the reference path (the first call calibrates on the compiled
    // kernels), and the weights come from a checked file: the kernels scan none of them again.
    expect(line).toMatch(/neuron steps: \d+ compiled, 0 reference; vector machine: \d+ native, \d+ wasm; weight-only values: \d+ elements; weight elements scanned: 0$/);
    expect(Number(/cpu (\d+) ms/.exec(line!)![1])).toBeGreaterThan(0);
  });

  it("prints the same through the installed entry point (the bundled CLI) as from the sources", () => {
    const a = run(installed, "classify", "a fine film", "a dull and tired plot");
    const b = run(sources, "classify", "a fine film", "a dull and tired plot");
    expect(a.code).toBe(0);
    expect(a.out).toBe(b.out);
    expect(a.out).toMatch(/a fine film/);
    const bad = run(installed, "classify", "--model", "classifier-nope", "x");
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/unknown model `classifier-nope`/);
  });
});
