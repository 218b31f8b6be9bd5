/**
 * The language service in its worker thread: the whole server of server.ts (`startServer`:
 * workspace, checks, every feature), talking JSON-RPC messages with the supervisor on the
 * main thread over the worker's port instead of a byte stream. The supervisor owns the
 * client's stream and this thread's life: it may terminate it in the middle of a check that
 * takes too long (the reason this runs in a thread at all), so nothing here holds state that
 * is not also the supervisor's to replay.
 *
 * Port messages (both directions: a JSON-RPC message as is, or control):
 *   main → worker: `{ rpc }`, `{ guard: { quarantine, oneByOne } }`
 *   worker → main: `{ rpc }`, `{ check: CheckInfo }` (a check started), `{ checkEnd: true }`,
 *                  `{ ready: true }` (loaded)
 */
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import type { Message } from "vscode-languageserver";
import { createConnection } from "vscode-languageserver";
import { createProtocolConnection } from "vscode-languageserver/node";
import { DeliveredMessageReader, SendingMessageWriter } from "./message-channel.js";
import { startServer } from "./service.js";
import { type CheckGuard, CheckLevel } from "./workspace.js";

/** What the supervisor knows about texts that were too slow to check. */
export interface GuardState {
  readonly quarantine: readonly { readonly file: string; readonly hash: string; readonly level: CheckLevel }[];
  readonly oneByOne: boolean;
}

export type ToWorker = { readonly rpc: Message } | { readonly guard: GuardState };
export type FromWorker = { readonly rpc: Message } | { readonly check: import("./workspace.js").CheckInfo } | { readonly checkEnd: true } | { readonly ready: true };

function main(port: MessagePort): void {
  const reader = new DeliveredMessageReader();
  const writer = new SendingMessageWriter((msg) => port.postMessage({ rpc: msg } satisfies FromWorker));
  let state: GuardState = { quarantine: [], oneByOne: false };
  const guard: CheckGuard = {
    level: (file, hash) => state.quarantine.find((q) => q.file === file && q.hash === hash)?.level ?? CheckLevel.Full,
    started: (info) => port.postMessage({ check: info } satisfies FromWorker),
    ended: () => port.postMessage({ checkEnd: true } satisfies FromWorker),
    get oneByOne() {
      return state.oneByOne;
    },
  };
  port.on("message", (m: ToWorker) => {
    if ("rpc" in m) reader.deliver(m.rpc);
    else if ("guard" in m) state = m.guard;
  });
  // `exit` never reaches this thread (the supervisor ends it), so the watchdog does nothing.
  const connection = createConnection((logger) => createProtocolConnection(reader, writer, logger), {
    shutdownReceived: false,
    initialize: () => undefined,
    exit: () => undefined,
  });
  const toLog =
    (write: (m: string) => void) =>
    (...args: unknown[]) =>
      write(args.map((a) => (typeof a === "string" ? a : a instanceof Error ? (a.stack ?? a.message) : JSON.stringify(a))).join(" "));
  // The thread's stdout is the client's log, never the protocol stream.
  console.log = toLog((m) => connection.console.log(m));
  console.info = toLog((m) => connection.console.info(m));
  console.warn = toLog((m) => connection.console.warn(m));
  console.error = toLog((m) => connection.console.error(m));
  console.debug = toLog((m) => connection.console.log(m));
  // A bug in a timer callback must not end the service (the supervisor would restart it, but
  // losing every cache for one bad callback is not worth it).
  process.on("uncaughtException", (e) => connection.console.error(`spikelm: internal error: ${e.stack ?? e.message}`));
  process.on("unhandledRejection", (e) => connection.console.error(`spikelm: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));
  const data = workerData as { debounceMs?: number } | undefined;
  startServer(connection, { ...(data?.debounceMs !== undefined ? { debounceMs: data.debounceMs } : {}), guard });
  connection.listen();
  port.postMessage({ ready: true } satisfies FromWorker);
}

if (parentPort) main(parentPort);
