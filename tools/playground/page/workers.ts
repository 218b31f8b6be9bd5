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

/**
 * Requests to the run worker; each answer is the success message or a `Failure`. `restart()`
 * stops whatever the worker is doing (a run too large for the page) by replacing the worker:
 * the requests it had fail with `message`.
 */
export class RunWorkerClient {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (r: RunWorkerResponse) => void; progress?: (p: RunProgress) => void }>();
  private worker: Worker;

  constructor(private readonly create: () => Worker) {
    this.worker = this.start();
  }

  private start(): Worker {
    const worker = this.create();
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
    // A worker that fails to load or throws outside a request: every waiting request fails with its message.
    worker.addEventListener("error", (e: ErrorEvent) => this.failAll(`the run worker failed: ${e.message || "it did not load"}`));
    return worker;
  }

  private failAll(message: string): void {
    for (const [id, w] of this.pending) w.resolve({ type: "run", id, ok: false, message, diagnostics: [] });
    this.pending.clear();
  }

  restart(message: string): void {
    this.worker.terminate();
    this.failAll(message);
    this.worker = this.start();
  }

  request<R extends Unnumbered<RunWorkerRequest>>(req: R, progress?: (p: RunProgress) => void): Promise<Success<R["type"]> | Failure> {
    const id = this.next++;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve: resolve as (r: RunWorkerResponse) => void, progress });
      this.worker.postMessage({ ...req, id });
    });
  }
}
