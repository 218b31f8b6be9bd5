/**
 * The spikelm language server's service: connection wiring and capabilities. Each LSP feature
 * lives in its own module and is a function of an Analysis (the core's check of one document);
 * this file only routes requests to them. `startServer` answers everything on any connection:
 * in the worker thread under `spikelm lsp` (service-worker.ts, started by server.ts'
 * supervisor) and in the playground's Web Worker (string-server.ts). It imports nothing of
 * Node, so a browser bundle can take it without the supervisor.
 *
 * Architecture invariant: the server never crashes on a request. Parameters are checked
 * first (params.ts): a request with malformed parameters gets InvalidParams, a notification
 * with malformed parameters is ignored. Every handler runs inside `guard`: an internal error
 * is logged to the client (`connection.console.error`) and the request gets an empty result.
 * The only other error responses are RequestFailed refusals from rename/prepareRename, which
 * tell the user why a name cannot be renamed.
 */
import {
  type Connection,
  type InitializeResult,
  CodeActionKind,
  DidChangeWatchedFilesNotification,
  ResponseError,
  TextDocumentSyncKind,
} from "vscode-languageserver";
import { codeActions } from "./code-actions.js";
import { completion } from "./completion.js";
import { definition } from "./definition.js";
import { documentDiagnostics } from "./diagnostics.js";
import { foldingRanges } from "./folding.js";
import { formatting } from "./formatting.js";
import { hover } from "./hover.js";
import {
  type Check,
  type DocId,
  type DocPosition,
  isCodeAction,
  isDidChange,
  isDidOpen,
  isDocId,
  isDocPosition,
  isReferences,
  isRename,
  isWatchedFiles,
  requireParams,
} from "./params.js";
import { references } from "./references.js";
import { prepareRename, rename } from "./rename.js";
import { LEGEND, semanticTokens } from "./semantic-tokens.js";
import { signatureHelp } from "./signature-help.js";
import { documentSymbols } from "./symbols.js";
import { type Analysis, type CheckGuard, Workspace } from "./workspace.js";

const SERVER_NAME = "spikelm";
const DEFAULT_DEBOUNCE_MS = 10;

export interface ServerOptions {
  /** Delay between an edit and the re-check that publishes diagnostics (ms). */
  readonly debounceMs?: number;
  /** The supervisor's watchdog, when running in its worker thread. */
  readonly guard?: CheckGuard;
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
    ...(options.guard ? { guard: options.guard } : {}),
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

  /** A request handler that first checks its parameters (InvalidParams if malformed). */
  const request =
    <P, R>(name: string, check: Check<P>, empty: R, fn: (params: P) => R | Promise<R>) =>
    (params: unknown): Promise<R> =>
      guard(name, empty, (p: unknown) => fn(requireParams(name, p, check)))(params);
  /** A notification handler that ignores malformed parameters (there is no one to answer). */
  const notification =
    <P>(name: string, check: Check<P>, fn: (params: P) => void) =>
    (params: unknown): Promise<void> =>
      guard(name, undefined, (p: unknown) => {
        if (check(p)) fn(p);
        else log(`spikelm: ignored ${name} with malformed parameters`);
      })(params);

  /** Runs `fn` on the analysis of a document at a position's offset. */
  const at =
    <R>(fn: (a: Analysis, offset: number) => R, empty: R) =>
    (params: DocPosition): R => {
      const a = workspace.analysis(params.textDocument.uri);
      return a ? fn(a, a.lines.offset(params.position)) : empty;
    };
  const whole =
    <R>(fn: (a: Analysis) => R, empty: R) =>
    (params: DocId): R => {
      const a = workspace.analysis(params.textDocument.uri);
      return a ? fn(a) : empty;
    };

  connection.onInitialize(
    guard("initialize", { capabilities: {} } as InitializeResult, (raw: unknown): InitializeResult => {
      // Every field is optional here: a client that sends less still gets a server.
      const params = (typeof raw === "object" && raw !== null ? raw : {}) as {
        workspaceFolders?: unknown;
        rootUri?: unknown;
        initializationOptions?: unknown;
        capabilities?: { workspace?: { didChangeWatchedFiles?: { dynamicRegistration?: unknown } } };
      };
      const folders = Array.isArray(params.workspaceFolders)
        ? params.workspaceFolders.map((f: unknown) => (typeof f === "object" && f !== null ? (f as { uri?: unknown }).uri : undefined))
        : [params.rootUri];
      for (const f of folders) if (typeof f === "string" && f.startsWith("file:")) workspace.roots.push(workspace.uris.toPath(f));
      const init = params.initializationOptions as { debounceMs?: unknown } | null | undefined;
      if (typeof init?.debounceMs === "number" && init.debounceMs >= 0 && init.debounceMs < 60_000) debounceMs = init.debounceMs;
      watchFiles = params.capabilities?.workspace?.didChangeWatchedFiles?.dynamicRegistration === true;
      return {
        capabilities: {
          textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
          hoverProvider: true,
          completionProvider: { triggerCharacters: ['"', "/", "(", ",", "."], resolveProvider: false },
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

  connection.onDidOpenTextDocument(notification("didOpen", isDidOpen, (p) => workspace.open(p.textDocument.uri, p.textDocument.version, p.textDocument.text)));
  connection.onDidChangeTextDocument(notification("didChange", isDidChange, (p) => workspace.change(p.textDocument.uri, p.textDocument.version, p.contentChanges)));
  connection.onDidCloseTextDocument(
    notification("didClose", isDocId, (p) => {
      workspace.close(p.textDocument.uri);
      void connection.sendDiagnostics({ uri: p.textDocument.uri, diagnostics: [] });
    }),
  );
  connection.onDidChangeWatchedFiles(notification("didChangeWatchedFiles", isWatchedFiles, (p) => workspace.diskChanged(p.changes.map((c) => workspace.uris.toPath(c.uri)))));

  connection.onHover(request("hover", isDocPosition, null, at(hover, null)));
  connection.onCompletion(request("completion", isDocPosition, [], at(completion, [])));
  connection.onSignatureHelp(request("signatureHelp", isDocPosition, null, at(signatureHelp, null)));
  connection.onDefinition(request("definition", isDocPosition, [], at((a, o) => definition(workspace, a, o), [])));
  connection.onReferences(request("references", isReferences, [], (p) => at((a, o) => references(workspace, a, o, p.context.includeDeclaration), [])(p)));
  connection.onPrepareRename(request("prepareRename", isDocPosition, null, at(prepareRename, null)));
  connection.onRenameRequest(request("rename", isRename, null, (p) => at((a, o) => rename(workspace, a, o, p.newName), null)(p)));
  connection.onDocumentSymbol(request("documentSymbol", isDocId, [], whole(documentSymbols, [])));
  connection.onFoldingRanges(request("foldingRange", isDocId, [], whole(foldingRanges, [])));
  connection.languages.semanticTokens.on(request("semanticTokens", isDocId, { data: [] }, whole(semanticTokens, { data: [] })));
  connection.onDocumentFormatting(
    request("formatting", isDocId, [], async (p) => {
      const a = workspace.analysis(p.textDocument.uri);
      return a ? formatting(a, log) : [];
    }),
  );
  connection.onCodeAction(
    request("codeAction", isCodeAction, [], (p) => {
      const a = workspace.analysis(p.textDocument.uri);
      return a ? codeActions(workspace, a, p) : [];
    }),
  );
  connection.onShutdown(guard("shutdown", undefined, () => workspace.dispose()));

  return { connection, workspace, dispose: () => workspace.dispose() };
}
