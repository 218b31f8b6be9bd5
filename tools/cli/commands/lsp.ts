/**
 * `spikelm lsp --stdio`: the language server on stdin/stdout (the only transport; `--stdio`
 * is accepted for clients that always pass it). Runs until the client sends `exit` or closes
 * the stream. stdout carries the protocol only, so console output goes to the client's log.
 */
import { createConnection } from "vscode-languageserver/node";
import { startServer } from "../../lsp/server.js";

export function lspCommand(): void {
  const connection = createConnection(process.stdin, process.stdout);
  const toLog =
    (write: (m: string) => void) =>
    (...args: unknown[]) =>
      write(args.map((a) => (typeof a === "string" ? a : a instanceof Error ? (a.stack ?? a.message) : JSON.stringify(a))).join(" "));
  console.log = toLog((m) => connection.console.log(m));
  console.info = toLog((m) => connection.console.info(m));
  console.warn = toLog((m) => connection.console.warn(m));
  console.error = toLog((m) => connection.console.error(m));
  console.debug = toLog((m) => connection.console.log(m));
  // A bug in a timer or stream callback must not take the editor's server down with it.
  process.on("uncaughtException", (e) => connection.console.error(`spikelm: internal error: ${e.stack ?? e.message}`));
  process.on("unhandledRejection", (e) => connection.console.error(`spikelm: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));
  startServer(connection);
  // Open stdin keeps the process alive; the library exits it on `exit` or when stdin ends.
  connection.listen();
}
