/**
 * An ablation worker process (forked by ablation.ts's processRunner): receives RunSpecs over
 * IPC, trains each with runOne and answers { ok, result } or { ok: false, error }.
 */
import { initSpikeKernels } from "../../interpreter/engine/kernels/spike-matmul.js";
import { type RunSpec, runOne } from "./ablation.js";

const ready = initSpikeKernels({ threads: 1 });
process.on("message", (spec: RunSpec) => {
  void ready.then(() => {
    try {
      process.send!({ ok: true, result: runOne(spec) });
    } catch (e) {
      process.send!({ ok: false, error: e instanceof Error ? e.message : String(e) });
    }
  });
});
process.on("disconnect", () => process.exit(0));
