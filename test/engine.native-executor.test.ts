/**
 * The optimized executor really runs the native spike-accumulate kernels on a real block
 * (the bench's BenchBlock at d 64, 4 heads, FFN 256, L 16, T 4: "auto" picks native for its
 * products), and its output and every neuron's spikes and amplitudes equal the reference
 * interpreter's bit for bit, on the first call (which calibrates and packs the weights) and
 * on a later one (packed weights reused). With SPIKELM_NATIVE=0, in a child process, the same
 * spec runs on the WebAssembly kernels with identical output and spikes. Skipped, with the
 * reason, where the addon cannot be built or loaded.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileEntry } from "../interpreter/compile.js";
import { initSpikeKernels, nativeStatus, shutdownKernelPool, spikeKernelCalls } from "../interpreter/engine/kernels/spike-matmul.js";
import { streamFor } from "../interpreter/engine/random.js";
import { f32, type Tensor } from "../interpreter/engine/tensor.js";
import { OptimizedExecutor } from "../interpreter/optimized/executor.js";
import { optimize } from "../interpreter/passes/pass.js";
import { ReferenceInterpreter, type RunResult } from "../interpreter/reference/interpreter.js";
import { ParamStore } from "../interpreter/runtime/params.js";
import { runDifference } from "../interpreter/verify/compare.js";

const REPO = fileURLToPath(new URL("..", import.meta.url));
const SPEC = fileURLToPath(new URL("../tools/bench/specs/bench-layers.spk", import.meta.url));
const status = nativeStatus();

const [T, L, d] = [4, 16, 64];
const ARGS = { d, heads: 4, ffn: 256, k: 1 };

function blockInputs(): Map<string, Tensor> {
  const rng = streamFor(1, "native-executor-test");
  return new Map([["x", f32([T, 1, L, d], Array.from({ length: T * L * d }, () => rng.normal()))]]);
}

/** The executor's output is a view of its arena: copied before the next call. */
function copy(r: RunResult): RunResult {
  return { ...r, output: { ...r.output, data: r.output.data.slice() } as Tensor };
}

/** Output and every neuron's levels, as bytes in record order (what the child prints). */
function fingerprint(r: RunResult): string {
  const parts = [Buffer.from((r.output.data as Float32Array).slice().buffer).toString("base64")];
  for (const [key, rec] of r.record) parts.push(`${key}:${Buffer.from(Float32Array.from(rec.levels.data).buffer).toString("base64")}`);
  return parts.join("\n");
}

describe.skipIf(!status.ready)(`optimized executor on the native kernels${status.ready ? "" : ` (SKIPPED: ${status.reason})`}`, () => {
  beforeAll(async () => {
    await initSpikeKernels({ threads: 2 });
  });
  afterAll(() => shutdownKernelPool());

  let nativeRun: RunResult | undefined;

  it("BenchBlock runs its spike products on the native kernels and equals the reference interpreter bit for bit, first and later calls", () => {
    const inputs = blockInputs();
    const compiled = compileEntry({ file: SPEC, entry: "BenchBlock", args: ARGS, inputs });
    const { graph } = optimize(compiled.graph);
    const ex = new OptimizedExecutor(graph, ParamStore.create(graph.params, new Map(), { seed: 1 }), { threads: 2 });
    const ref = new ReferenceInterpreter(compiled.graph, ParamStore.create(compiled.graph.params, new Map(), { seed: 1 }));
    const before = { ...spikeKernelCalls };
    const first = copy(ex.run(inputs, { record: true }));
    const afterFirst = { ...spikeKernelCalls };
    const second = copy(ex.run(inputs, { record: true }));
    // every spike product of both calls went native: the block has several per call
    expect(afterFirst.native - before.native).toBeGreaterThanOrEqual(4);
    expect(spikeKernelCalls.native - afterFirst.native).toBe(afterFirst.native - before.native);
    expect(spikeKernelCalls.wasm).toBe(before.wasm);
    const want = [ref.run(inputs, { record: true }), ref.run(inputs, { record: true })];
    // the block fires (else equal spikes would prove little)
    expect([...want[0]!.record.values()].some((r) => r.levels.data.some((v) => v !== 0))).toBe(true);
    expect(runDifference(want[0]!, first)).toBeUndefined();
    expect(runDifference(want[1]!, second)).toBeUndefined();
    nativeRun = first;
  });

  it("with SPIKELM_NATIVE=0 (a child process) the same block runs on WebAssembly with identical output and spikes", () => {
    expect(nativeRun).toBeDefined();
    const mod = (p: string) => JSON.stringify(fileURLToPath(new URL(p, import.meta.url)));
    const src = `
      import { compileEntry } from ${mod("../interpreter/compile.js")};
      import { initSpikeKernels, nativeStatus, shutdownKernelPool, spikeKernelCalls } from ${mod("../interpreter/engine/kernels/spike-matmul.js")};
      import { streamFor } from ${mod("../interpreter/engine/random.js")};
      import { f32 } from ${mod("../interpreter/engine/tensor.js")};
      import { OptimizedExecutor } from ${mod("../interpreter/optimized/executor.js")};
      import { optimize } from ${mod("../interpreter/passes/pass.js")};
      import { ParamStore } from ${mod("../interpreter/runtime/params.js")};
      await initSpikeKernels({ threads: 2 });
      const rng = streamFor(1, "native-executor-test");
      const inputs = new Map([["x", f32([${T}, 1, ${L}, ${d}], Array.from({ length: ${T * L * d} }, () => rng.normal()))]]);
      const compiled = compileEntry({ file: ${JSON.stringify(SPEC)}, entry: "BenchBlock", args: ${JSON.stringify(ARGS)}, inputs });
      const { graph } = optimize(compiled.graph);
      const ex = new OptimizedExecutor(graph, ParamStore.create(graph.params, new Map(), { seed: 1 }), { threads: 2 });
      const r = ex.run(inputs, { record: true });
      const parts = [Buffer.from(r.output.data.slice().buffer).toString("base64")];
      for (const [key, rec] of r.record) parts.push(key + ":" + Buffer.from(Float32Array.from(rec.levels.data).buffer).toString("base64"));
      console.log(JSON.stringify({ native: nativeStatus(), calls: spikeKernelCalls, fingerprint: parts.join("\\n") }));
      await shutdownKernelPool();
    `;
    const res = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", src], {
      cwd: REPO,
      encoding: "utf8",
      timeout: 120_000,
      env: { ...process.env, SPIKELM_NATIVE: "0" },
    });
    expect(res.error).toBeUndefined();
    expect(res.stderr).toBe("");
    expect(res.status).toBe(0);
    const got = JSON.parse(res.stdout.trim().split("\n").pop()!) as { native: { ready: boolean; reason: string }; calls: typeof spikeKernelCalls; fingerprint: string };
    expect(got.native).toEqual({ ready: false, reason: "turned off (SPIKELM_NATIVE=0)" });
    expect(got.calls.native).toBe(0);
    expect(got.calls.wasm).toBeGreaterThanOrEqual(4);
    expect(got.fingerprint === fingerprint(nativeRun!)).toBe(true);
  });
});
