/**
 * A small LSP client for tests, speaking JSON-RPC as an editor does: in-process over a pair
 * of PassThrough streams (fast), or to a spawned `spikelm lsp --stdio`. Also reads fixture
 * specs with `/*|name*\/` cursor markers.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { PassThrough } from "node:stream";
import { pathToFileURL } from "node:url";
import {
  type MessageConnection,
  createMessageConnection,
  StreamMessageReader,
  StreamMessageWriter,
} from "vscode-jsonrpc/node";
import type { InitializeResult, Position, PublishDiagnosticsParams } from "vscode-languageserver";
import { LineIndex } from "../grammar/source.js";
import { createServer } from "../tools/lsp/server.js";
import { REPO } from "./helpers.js";

/** The position-taking and document requests the server answers, for tests that send them at random. */
export const LSP_METHODS = [
  "textDocument/hover",
  "textDocument/completion",
  "textDocument/definition",
  "textDocument/references",
  "textDocument/prepareRename",
  "textDocument/rename",
  "textDocument/signatureHelp",
  "textDocument/semanticTokens/full",
  "textDocument/formatting",
  "textDocument/documentSymbol",
  "textDocument/foldingRange",
  "textDocument/codeAction",
] as const;

export const LSP_FIXTURES = path.join(REPO, "test/fixtures/lsp");

export interface Cursors {
  /** The text with every marker removed. */
  readonly text: string;
  /** Position of each marker by name (`/*|*\/` is named ""). */
  at(name?: string): Position;
  offset(name?: string): number;
}

const MARKER = /\/\*\|([A-Za-z0-9_-]*)\*\//g;

export function stripCursors(raw: string): Cursors {
  const offsets = new Map<string, number>();
  let text = "";
  let last = 0;
  for (const m of raw.matchAll(MARKER)) {
    text += raw.slice(last, m.index);
    offsets.set(m[1] ?? "", text.length);
    last = m.index + m[0].length;
  }
  text += raw.slice(last);
  const lines = new LineIndex(text);
  const offset = (name = "") => {
    const o = offsets.get(name);
    if (o === undefined) throw new Error(`no cursor marker /*|${name}*/`);
    return o;
  };
  return { text, offset, at: (name = "") => lines.position(offset(name)) };
}

export interface Fixture extends Cursors {
  readonly file: string;
  readonly uri: string;
}

export function fixture(rel: string): Fixture {
  const file = path.join(LSP_FIXTURES, rel);
  return { file, uri: pathToFileURL(file).href, ...stripCursors(fs.readFileSync(file, "utf8")) };
}

export interface LogMessage {
  readonly type: number;
  readonly message: string;
}

export class LspClient {
  readonly diagnostics = new Map<string, PublishDiagnosticsParams[]>();
  readonly logs: LogMessage[] = [];
  private waiters: { uri: string; check: (p: PublishDiagnosticsParams) => boolean; resolve: (p: PublishDiagnosticsParams) => void }[] = [];
  private versions = new Map<string, number>();
  private texts = new Map<string, string>();

  constructor(
    readonly conn: MessageConnection,
    private readonly stop: () => Promise<void>,
  ) {
    conn.onNotification("textDocument/publishDiagnostics", (p: PublishDiagnosticsParams) => {
      const list = this.diagnostics.get(p.uri) ?? [];
      list.push(p);
      this.diagnostics.set(p.uri, list);
      this.waiters = this.waiters.filter((w) => {
        if (w.uri !== p.uri || !w.check(p)) return true;
        w.resolve(p);
        return false;
      });
    });
    conn.onNotification("window/logMessage", (m: LogMessage) => {
      this.logs.push(m);
    });
    conn.onRequest("client/registerCapability", () => null);
    conn.onRequest("workspace/configuration", () => []);
    conn.listen();
  }

  initialize(rootDir?: string, initializationOptions: Record<string, unknown> = { debounceMs: 0 }): Promise<InitializeResult> {
    const rootUri = rootDir ? pathToFileURL(rootDir).href : null;
    return this.request<InitializeResult>("initialize", {
      processId: null,
      rootUri,
      workspaceFolders: rootUri ? [{ uri: rootUri, name: path.basename(rootDir!) }] : null,
      capabilities: { textDocument: { hover: { contentFormat: ["markdown"] } } },
      initializationOptions,
    }).then(async (r) => {
      await this.conn.sendNotification("initialized", {});
      return r;
    });
  }

  request<R>(method: string, params: unknown): Promise<R> {
    return this.conn.sendRequest(method, params) as Promise<R>;
  }

  /** Resolves with the next diagnostics for `uri` that satisfy `check` (default: any). */
  nextDiagnostics(uri: string, check: (p: PublishDiagnosticsParams) => boolean = () => true, timeoutMs = 10_000): Promise<PublishDiagnosticsParams> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no diagnostics for ${uri} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        uri,
        check,
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
      });
    });
  }

  /** Opens a document and waits for its first diagnostics. */
  async open(uri: string, text: string): Promise<PublishDiagnosticsParams> {
    this.versions.set(uri, 1);
    this.texts.set(uri, text);
    const done = this.nextDiagnostics(uri, (p) => p.version === 1);
    await this.conn.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: "spk", version: 1, text } });
    return done;
  }

  /** Replaces the whole text; resolves with the diagnostics for the new version. */
  async replace(uri: string, text: string): Promise<PublishDiagnosticsParams> {
    const version = (this.versions.get(uri) ?? 0) + 1;
    this.versions.set(uri, version);
    this.texts.set(uri, text);
    const done = this.nextDiagnostics(uri, (p) => p.version === version);
    await this.conn.sendNotification("textDocument/didChange", { textDocument: { uri, version }, contentChanges: [{ text }] });
    return done;
  }

  /** Sends an incremental edit (offsets in the current text) without waiting. */
  async edit(uri: string, start: number, end: number, newText: string): Promise<number> {
    const text = this.texts.get(uri) ?? "";
    const lines = new LineIndex(text);
    const version = (this.versions.get(uri) ?? 0) + 1;
    this.versions.set(uri, version);
    this.texts.set(uri, text.slice(0, start) + newText + text.slice(end));
    await this.conn.sendNotification("textDocument/didChange", {
      textDocument: { uri, version },
      contentChanges: [{ range: { start: lines.position(start), end: lines.position(end) }, text: newText }],
    });
    return version;
  }

  async closeDoc(uri: string): Promise<void> {
    this.texts.delete(uri);
    this.versions.delete(uri);
    await this.conn.sendNotification("textDocument/didClose", { textDocument: { uri } });
  }

  text(uri: string): string {
    return this.texts.get(uri) ?? "";
  }

  async close(): Promise<void> {
    await this.request("shutdown", null);
    await this.conn.sendNotification("exit");
    await this.stop();
  }
}

/** The server in this process, on two PassThrough streams. */
export function inProcessClient(): LspClient {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  let exited: () => void = () => undefined;
  const exit = new Promise<void>((r) => (exited = r));
  // The real framing and supervisor (worker thread included), on in-memory streams.
  const server = createServer(toServer, toClient, { onExit: () => exited() });
  const conn = createMessageConnection(new StreamMessageReader(toClient), new StreamMessageWriter(toServer));
  return new LspClient(conn, async () => {
    await Promise.race([exit, new Promise((r) => setTimeout(r, 1000))]);
    server.dispose();
    conn.dispose();
    toServer.end();
    toClient.end();
  });
}

/** A real `spikelm lsp --stdio` process; `close()` waits for it to exit. */
export function spawnedClient(): { client: LspClient; child: ChildProcess; exitCode: Promise<number | null> } {
  const child = spawn(process.execPath, ["--import", "tsx", "tools/cli/main.ts", "lsp", "--stdio"], { cwd: REPO, stdio: ["pipe", "pipe", "pipe"] });
  const exitCode = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  const conn = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
  const client = new LspClient(conn, async () => {
    const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exitCode;
    clearTimeout(killer);
    conn.dispose();
  });
  return { client, child, exitCode };
}
