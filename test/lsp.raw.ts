/**
 * A raw LSP client for robustness tests: it writes bytes (well-formed frames or not) to an
 * in-process server's input stream and reads every frame the server writes, with the same
 * framing code the server uses, so that error responses to malformed frames (`id: null`) are
 * seen as they are.
 */
import { PassThrough } from "node:stream";
import { FrameReader, type RpcMessage } from "../tools/lsp/framing.js";
import { createServer } from "../tools/lsp/server.js";
import type { SupervisorOptions } from "../tools/lsp/supervisor.js";

export class RawClient {
  readonly received: RpcMessage[] = [];
  private readonly toServer = new PassThrough();
  private readonly toClient = new PassThrough();
  private readonly server: { dispose(): void };
  private waiters: { match: (m: RpcMessage) => boolean; resolve: (m: RpcMessage) => void }[] = [];
  private nextId = 1;
  exitCode: number | undefined;

  constructor(options: SupervisorOptions = {}) {
    this.server = createServer(this.toServer, this.toClient, { ...options, onExit: (code) => (this.exitCode = code) });
    new FrameReader(
      this.toClient,
      (m) => {
        this.received.push(m);
        // The server asks for capabilities registration: answer like an editor.
        if (m.method && m.id !== undefined && m.id !== null) this.send({ jsonrpc: "2.0", id: m.id, result: null });
        this.waiters = this.waiters.filter((w) => {
          if (!w.match(m)) return true;
          w.resolve(m);
          return false;
        });
      },
      (e) => {
        throw new Error(`the server wrote a bad frame: ${e.message}`);
      },
    );
  }

  /** Bytes as they are. */
  raw(bytes: string | Buffer): void {
    this.toServer.write(typeof bytes === "string" ? Buffer.from(bytes, "utf8") : bytes);
  }

  /** A well-formed frame around `body` (any text). */
  frame(body: string): void {
    const b = Buffer.from(body, "utf8");
    this.raw(Buffer.concat([Buffer.from(`Content-Length: ${b.length}\r\n\r\n`), b]));
  }

  send(message: object): void {
    this.frame(JSON.stringify(message));
  }

  notify(method: string, params: unknown): void {
    this.send({ jsonrpc: "2.0", method, params });
  }

  /** Sends a request; resolves with its response message (result or error). */
  request(method: string, params: unknown, timeoutMs = 20_000): Promise<RpcMessage> {
    const id = this.nextId++;
    const done = this.next((m) => m.id === id && m.method === undefined, timeoutMs, `${method} #${id}`);
    this.send({ jsonrpc: "2.0", id, method, params });
    return done;
  }

  /** The next message (from now on) that `match` accepts. */
  next(match: (m: RpcMessage) => boolean, timeoutMs = 20_000, what = "a message"): Promise<RpcMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  diagnosticsFor(uri: string, version?: number, timeoutMs = 20_000): Promise<RpcMessage> {
    return this.next(
      (m) => m.method === "textDocument/publishDiagnostics" && (m.params as { uri: string }).uri === uri && (version === undefined || (m.params as { version?: number }).version === version),
      timeoutMs,
      `diagnostics for ${uri}${version === undefined ? "" : ` v${version}`}`,
    );
  }

  /** Internal errors the server logged (window/logMessage of type Error). */
  errors(): string[] {
    return this.received.filter((m) => m.method === "window/logMessage" && (m.params as { type: number }).type === 1).map((m) => (m.params as { message: string }).message);
  }

  async initialize(debounceMs = 0): Promise<void> {
    await this.request("initialize", { processId: null, rootUri: null, capabilities: {}, initializationOptions: { debounceMs } });
    this.notify("initialized", {});
  }

  async close(): Promise<void> {
    await this.request("shutdown", null).catch(() => undefined);
    this.notify("exit", null);
    await new Promise((r) => setTimeout(r, 50));
    this.server.dispose();
    this.toServer.end();
    this.toClient.end();
  }
}
