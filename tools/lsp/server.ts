/**
 * The spikelm language server under Node: `createServer`/`runStdioServer` start the
 * supervisor on the main thread (framing, routing, the watchdog; see supervisor.ts), which
 * runs service.ts' `startServer` in a worker thread (service-worker.ts).
 */
import type { Readable, Writable } from "node:stream";
import { FrameWriter } from "./framing.js";
import type { ServerOptions } from "./service.js";
import { Supervisor, type SupervisorOptions } from "./supervisor.js";

/**
 * A server on a byte-stream pair (the LSP base protocol) that never exits the process: tests
 * and benchmarks run it in-process. `onExit` is called on the `exit` notification or when
 * `input` ends.
 */
export function createServer(input: Readable, output: Writable, options: ServerOptions & SupervisorOptions = {}): { dispose(): void } {
  return new Supervisor(input, output, options);
}

/**
 * `spikelm lsp --stdio`: the server on stdin/stdout until the client sends `exit` or closes
 * stdin. stdout carries the protocol only: console output goes to the client's log.
 */
export function runStdioServer(): void {
  const out = new FrameWriter(process.stdout);
  const logTo =
    (type: number) =>
    (...args: unknown[]) =>
      out.write({
        jsonrpc: "2.0",
        method: "window/logMessage",
        params: { type, message: args.map((a) => (typeof a === "string" ? a : a instanceof Error ? (a.stack ?? a.message) : JSON.stringify(a))).join(" ") },
      });
  console.log = logTo(4);
  console.info = logTo(3);
  console.warn = logTo(2);
  console.error = logTo(1);
  console.debug = logTo(4);
  // A bug in a timer or stream callback must not take the editor's server down with it.
  process.on("uncaughtException", (e) => console.error(`spikelm: internal error: ${e.stack ?? e.message}`));
  process.on("unhandledRejection", (e) => console.error(`spikelm: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));
  createServer(process.stdin, process.stdout, { onExit: (code) => process.exit(code) });
}
