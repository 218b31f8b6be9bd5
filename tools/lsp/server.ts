/**
 * The spikelm language server: connection wiring and capabilities. Each LSP feature lives in
 * its own module and is a function of an Analysis (the core's check of one document); this
 * file only routes requests to them.
 *
 * Architecture invariant: the server never crashes on a request. Every handler runs inside
 * `guard`: an internal error is logged to the client (`connection.console.error`) and the
 * request gets an empty result. The only error responses are RequestFailed refusals from
 * rename/prepareRename, which tell the user why a name cannot be renamed.
 */
import {
  type Connection,
  createConnection as createCommonConnection,
  type InitializeParams,
  type InitializeResult,
  type MessageReader,
  type MessageWriter,
  CodeActionKind,
  DidChangeWatchedFilesNotification,
  ResponseError,
  TextDocumentSyncKind,
} from "vscode-languageserver";
import { createProtocolConnection } from "vscode-languageserver/node";
import { codeActions } from "./code-actions.js";
import { completion } from "./completion.js";
import { definition } from "./definition.js";
import { documentDiagnostics } from "./diagnostics.js";
import { foldingRanges } from "./folding.js";
import { formatting } from "./formatting.js";
import { hover } from "./hover.js";
import { references } from "./references.js";
import { prepareRename, rename } from "./rename.js";
import { LEGEND, semanticTokens } from "./semantic-tokens.js";
import { signatureHelp } from "./signature-help.js";
import { documentSymbols } from "./symbols.js";
import { type Analysis, Workspace } from "./workspace.js";

export const SERVER_NAME = "spikelm";
export const DEFAULT_DEBOUNCE_MS = 10;

export interface ServerOptions {
  /** Delay between an edit and the re-check that publishes diagnostics (ms). */
  readonly debounceMs?: number;
}

export interface RunningServer {
  readonly connection: Connection;
  readonly workspace: Workspace;
  dispose(): void;
}

function describeError(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

/** Registers every handler on `connection` (not yet listening). */
export function startServer(connection: Connection, options: ServerOptions = {}): RunningServer {
  let debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  const log = (message: string) => connection.console.log(message);
  const workspace = new Workspace({
    get debounceMs() {
      return debounceMs;
    },
    publish: (a) => {
      void connection.sendDiagnostics({ uri: a.uri, version: a.version, diagnostics: documentDiagnostics(workspace, a) });
    },
    log: (m) => connection.console.error(m),
  });
  let watchFiles = false;

  /** Wraps a handler: internal errors are logged and answered with `empty`. */
  const guard =
    <P, R>(name: string, empty: R, fn: (params: P) => R | Promise<R>) =>
    async (params: P): Promise<R> => {
      try {
        return await fn(params);
      } catch (e) {
        if (e instanceof ResponseError) throw e;
        connection.console.error(`spikelm: ${name} failed: ${describeError(e)}`);
        return empty;
      }
    };

  /** Runs `fn` on the analysis of a document at a position's offset. */
  const at =
    <R>(fn: (a: Analysis, offset: number) => R, empty: R) =>
    (params: { textDocument: { uri: string }; position: { line: number; character: number } }): R => {
      const a = workspace.analysis(params.textDocument.uri);
      return a ? fn(a, a.lines.offset(params.position)) : empty;
    };
  const whole =
    <R>(fn: (a: Analysis) => R, empty: R) =>
    (params: { textDocument: { uri: string } }): R => {
      const a = workspace.analysis(params.textDocument.uri);
      return a ? fn(a) : empty;
    };

  connection.onInitialize(
    guard("initialize", { capabilities: {} } as InitializeResult, (params: InitializeParams): InitializeResult => {
      const folders = params.workspaceFolders?.map((f) => f.uri) ?? (params.rootUri ? [params.rootUri] : []);
      for (const f of folders) if (f.startsWith("file:")) workspace.roots.push(workspace.uris.toPath(f));
      const init = params.initializationOptions as { debounceMs?: unknown } | undefined;
      if (typeof init?.debounceMs === "number" && init.debounceMs >= 0) debounceMs = init.debounceMs;
      watchFiles = params.capabilities.workspace?.didChangeWatchedFiles?.dynamicRegistration === true;
      return {
        capabilities: {
          textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
          hoverProvider: true,
          completionProvider: { triggerCharacters: ['"', "/", "(", ","], resolveProvider: false },
          signatureHelpProvider: { triggerCharacters: ["(", ","], retriggerCharacters: ["="] },
          definitionProvider: true,
          referencesProvider: true,
          renameProvider: { prepareProvider: true },
          documentSymbolProvider: true,
          foldingRangeProvider: true,
          semanticTokensProvider: { legend: LEGEND, full: true, range: false },
          documentFormattingProvider: true,
          codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
        },
        serverInfo: { name: SERVER_NAME, version: "0.1.0" },
      };
    }),
  );

  connection.onInitialized(
    guard("initialized", undefined, () => {
      if (watchFiles)
        void connection.client.register(DidChangeWatchedFilesNotification.type, { watchers: [{ globPattern: "**/*.spk" }] }).catch(() => undefined);
    }),
  );

  connection.onDidOpenTextDocument(guard("didOpen", undefined, (p) => workspace.open(p.textDocument.uri, p.textDocument.version, p.textDocument.text)));
  connection.onDidChangeTextDocument(guard("didChange", undefined, (p) => workspace.change(p.textDocument.uri, p.textDocument.version, p.contentChanges)));
  connection.onDidCloseTextDocument(
    guard("didClose", undefined, (p) => {
      workspace.close(p.textDocument.uri);
      void connection.sendDiagnostics({ uri: p.textDocument.uri, diagnostics: [] });
    }),
  );
  connection.onDidChangeWatchedFiles(guard("didChangeWatchedFiles", undefined, (p) => workspace.diskChanged(p.changes.map((c) => workspace.uris.toPath(c.uri)))));

  connection.onHover(guard("hover", null, at(hover, null)));
  connection.onCompletion(guard("completion", [], at(completion, [])));
  connection.onSignatureHelp(guard("signatureHelp", null, at(signatureHelp, null)));
  connection.onDefinition(guard("definition", [], at((a, o) => definition(workspace, a, o), [])));
  connection.onReferences(
    guard("references", [], (p) => at((a, o) => references(workspace, a, o, p.context.includeDeclaration), [])(p)),
  );
  connection.onPrepareRename(guard("prepareRename", null, at(prepareRename, null)));
  connection.onRenameRequest(guard("rename", null, (p) => at((a, o) => rename(workspace, a, o, p.newName), null)(p)));
  connection.onDocumentSymbol(guard("documentSymbol", [], whole(documentSymbols, [])));
  connection.onFoldingRanges(guard("foldingRange", [], whole(foldingRanges, [])));
  connection.languages.semanticTokens.on(guard("semanticTokens", { data: [] }, whole(semanticTokens, { data: [] })));
  connection.onDocumentFormatting(
    guard("formatting", [], async (p) => {
      const a = workspace.analysis(p.textDocument.uri);
      return a ? formatting(a, log) : [];
    }),
  );
  connection.onCodeAction(
    guard("codeAction", [], (p) => {
      const a = workspace.analysis(p.textDocument.uri);
      return a ? codeActions(workspace, a, p) : [];
    }),
  );
  connection.onShutdown(guard("shutdown", undefined, () => workspace.dispose()));

  return { connection, workspace, dispose: () => workspace.dispose() };
}

/**
 * A server on a message reader/writer pair that never exits the process (tests and
 * benchmarks run it in-process); `onExit` is called on the `exit` notification.
 */
export function createServer(reader: MessageReader, writer: MessageWriter, options: ServerOptions & { onExit?: (code: number) => void } = {}): RunningServer {
  let running: RunningServer | undefined;
  const connection = createCommonConnection((logger) => createProtocolConnection(reader, writer, logger), {
    shutdownReceived: false,
    initialize: () => undefined,
    exit: (code) => {
      running?.dispose();
      connection.dispose();
      options.onExit?.(code);
    },
  });
  running = startServer(connection, options);
  connection.listen();
  return running;
}
