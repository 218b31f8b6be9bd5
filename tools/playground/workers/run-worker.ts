/**
 * The playground's run worker (a module Web Worker): compiles and runs specs on the optimized
 * executor (WebAssembly SIMD kernels when they start, the bit-identical JavaScript kernels
 * otherwise) and answers the requests of ../protocol.ts through run-handler.ts: runs one at a
 * time in arrival order, the other requests as they arrive. Typed arrays of a run's result are
 * transferred, not copied.
 */
import { initSpikeKernels } from "../../../interpreter/engine/kernels/spike-matmul.js";
import type { RunWorkerReply, RunWorkerRequest } from "../protocol.js";
import { mountBundledTexts } from "./bundled.js";
import { ensureModelWeights, hasModelWeights } from "./model-weights.js";
import { handle } from "./run-handler.js";

interface WorkerScope {
  onmessage: ((e: { data: unknown }) => void) | null;
  postMessage(message: unknown, transfer?: unknown[]): void;
}
const scope = globalThis as unknown as WorkerScope;

mountBundledTexts();
// Kernels are usable before this resolves (JavaScript until WebAssembly is ready); runs wait
// for it so that a run's timings say which kernels it used.
const kernels = initSpikeKernels().catch(() => ({ wasm: false, threads: 1 }));

function transferables(r: RunWorkerReply): ArrayBuffer[] {
  if (r.type !== "run" || !r.ok) return [];
  const out = new Set<ArrayBuffer>();
  const add = (a: ArrayBufferView | undefined) => {
    if (a && a.buffer instanceof ArrayBuffer) out.add(a.buffer);
  };
  for (const t of r.taps) {
    if (t.kind === "spikes") {
      add(t.levels);
      add(t.amplitudes);
    } else add(t.values);
  }
  for (const t of Object.values(r.outputs)) add(t.data);
  for (const t of Object.values(r.inputs)) add(t.data);
  return [...out];
}

async function answer(req: RunWorkerRequest): Promise<RunWorkerReply> {
  try {
    if (req.type === "run") {
      await kernels;
      const fetchError = await ensureModelWeights(req.model).then(
        () => undefined,
        (e: unknown) => (e instanceof Error ? e.message : String(e)),
      );
      if (fetchError) return { type: req.type, id: req.id, ok: false, message: fetchError, diagnostics: [] };
    }
    const res = await handle(req, (p) => scope.postMessage(p));
    // The catalog is asked before any weights are fetched: say which ones the bundle has.
    return res.type === "catalog" && res.ok ? { ...res, models: res.models.map((m) => ({ ...m, weights: hasModelWeights(m.name) })) } : res;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { type: req.type, id: req.id, ok: false, message: `internal error (a bug in spikelm, please report it): ${message}`, diagnostics: [] };
  }
}

let runs: Promise<void> = Promise.resolve();

scope.onmessage = (e) => {
  const req = e.data as RunWorkerRequest;
  const reply = (res: RunWorkerReply) => scope.postMessage(res, transferables(res));
  // Runs go one after another in arrival order; the other requests are answered at once (not
  // behind a run that waits for the kernels or a weights download).
  if (req.type === "run") runs = runs.then(() => answer(req).then(reply));
  else void answer(req).then(reply);
};
