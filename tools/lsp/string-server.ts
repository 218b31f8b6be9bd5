/**
 * The language server over a string transport: each message is one JSON-RPC message as text,
 * without the base protocol's Content-Length framing, the way @codemirror/lsp-client's
 * `Transport` carries them. The handlers are server.ts' `startServer`, the same as
 * `spikelm lsp`; only the wiring differs. The playground runs this in a Web Worker
 * (browser-server.ts); there is no supervisor thread there, so a check that runs away holds
 * the worker until it ends (the page may terminate the worker and start another).
 *
 * Malformed text gets a JSON-RPC ParseError answer (id null) and the conversation goes on,
 * as the framed server does.
 */
import { type Logger, type Message, type MessageReader, type MessageWriter, type ProtocolConnection, createConnection } from "vscode-languageserver";
import { DeliveredMessageReader, SendingMessageWriter } from "./message-channel.js";
import { type RunningServer, type ServerOptions, startServer } from "./service.js";

/** `createProtocolConnection` of the runtime in use (vscode-languageserver/browser or /node). */
export type ProtocolConnectionFactory = (reader: MessageReader, writer: MessageWriter, logger: Logger) => ProtocolConnection;

export interface StringServer {
  /** One message from the client. */
  receive(message: string): void;
  readonly server: RunningServer;
  dispose(): void;
}

/** Starts the server; `send` receives each message for the client. */
export function startStringServer(send: (message: string) => void, createProtocolConnection: ProtocolConnectionFactory, options: ServerOptions = {}): StringServer {
  const reader = new DeliveredMessageReader();
  const writer = new SendingMessageWriter((msg) => send(JSON.stringify(msg)));
  let exited = false;
  const connection = createConnection((logger) => createProtocolConnection(reader, writer, logger), {
    shutdownReceived: false,
    initialize: () => undefined,
    exit: () => {
      exited = true;
    },
  });
  const server = startServer(connection, options);
  connection.listen();
  return {
    receive(message) {
      if (exited) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(message);
      } catch (e) {
        send(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32700, message: `Parse error: ${e instanceof Error ? e.message : String(e)}` } }));
        return;
      }
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        send(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code: -32600, message: "Invalid Request: a JSON-RPC message is an object" } }));
        return;
      }
      reader.deliver(parsed as Message);
    },
    server,
    dispose() {
      server.dispose();
      connection.dispose();
    },
  };
}
