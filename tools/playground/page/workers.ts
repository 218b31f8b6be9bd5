/**
 * The page's side of the two Web Workers (tools/playground/protocol.ts): the language server
 * as an @codemirror/lsp-client `Transport` (one JSON-RPC message as a string each way), and
 * the run worker as promises keyed by request id.
 */
import type { Transport } from "@codemirror/lsp-client";
import type { CatalogSuccess, EntriesSuccess, Failure, FileSuccess, RunProgress, RunSuccess, RunWorkerRequest, RunWorkerResponse } from "../protocol.js";

/** The LSP worker as a transport for LSPClient.connect. */
export function lspWorkerTransport(worker: Worker): Transport {
  const handlers = new Set<(message: string) => void>();
  worker.addEventListener("message", (e: MessageEvent) => {
    for (const h of handlers) h(e.data as string);
  });
  return {
    send: (message) => worker.postMessage(message),
    subscribe: (h) => void handlers.add(h),
    unsubscribe: (h) => void handlers.delete(h),
  };
}

type Success<T extends RunWorkerRequest["type"]> = T extends "run" ? RunSuccess : T extends "catalog" ? CatalogSuccess : T extends "file" ? FileSuccess : EntriesSuccess;

/** A request without its id (the client numbers them). */
type Unnumbered<R> = R extends RunWorkerRequest ? Omit<R, "id"> : never;

/** Requests to the run worker; each answer is the success message or a `Failure`. */
export class RunWorkerClient {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (r: RunWorkerResponse) => void; progress?: (p: RunProgress) => void }>();

  constructor(private readonly worker: Worker) {
    worker.addEventListener("message", (e: MessageEvent) => {
      const r = e.data as RunWorkerResponse;
      const waiting = this.pending.get(r.id);
      if (!waiting) return;
      if (r.type === "progress") waiting.progress?.(r);
      else {
        this.pending.delete(r.id);
        waiting.resolve(r);
      }
    });
    worker.addEventListener("error", (e: ErrorEvent) => {
      // A worker that fails to load or throws outside a request: every waiting request fails with its message.
      for (const [id, w] of this.pending) w.resolve({ type: "run", id, ok: false, message: `the run worker failed: ${e.message || "it did not load"}`, diagnostics: [] });
      this.pending.clear();
    });
  }

  request<R extends Unnumbered<RunWorkerRequest>>(req: R, progress?: (p: RunProgress) => void): Promise<Success<R["type"]> | Failure> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve: resolve as (r: RunWorkerResponse) => void, progress });
      this.worker.postMessage({ ...req, id });
    });
  }
}
