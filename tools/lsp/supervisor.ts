/**
 * The language server's main thread: the client's byte stream, and a watchdog over the
 * worker thread that does all the work (service-worker.ts).
 *
 * Why a worker: checking is synchronous. A document whose check takes seconds (or never ends:
 * `repeat 1000000000 { ... }` before the checker bounded it) would otherwise block every
 * request for every document. Here the main thread only frames, routes and watches; it is
 * never busy, so it can always act.
 *
 * The watchdog. The worker reports each check's start and end (root, a hash of its text).
 * A check is stopped by terminating the worker
 *   - when anything else is waiting (a newer version of any document, which makes the check
 *     stale, or a request about another document) and the check is older than `stuckMs` and
 *     8 times the median of recent checks, and a standby is ready;
 *   - when it is older than `timeoutMs` and 20 times that median, in any case.
 * Stopping costs a restart (the new service re-checks from cold), so an ordinary check is
 * never stopped, even when the machine is slow and every check takes long: the limits scale
 * with what checks take here. A warm standby worker (loaded, idle) takes over at once: the supervisor replays what the
 * service needs (initialize, the open documents at their current text, the requests not
 * answered yet), and adds the stopped text to a quarantine: that exact text of that file is
 * then only parsed (and, if parsing was what took too long, not even that), with a
 * diagnostic that says so. Editing the document changes its text and so checks it again.
 * A check of many roots (workspace references) that is stopped makes them checked one by one.
 *
 * Also here, because only the main thread sees every message in order:
 *   - malformed frames and bodies are answered with JSON-RPC errors and skipped (framing.ts);
 *   - diagnostics older than ones already published for a document are dropped (a replaced
 *     service's late answers), so the client never sees diagnostics go backwards. Diagnostics
 *     for a version the client has already edited again are still sent: under a storm of
 *     edits every check is outdated by the time it ends, and an editor is better served by
 *     the latest finished check than by nothing until the storm stops.
 */
import type { Readable, Writable } from "node:stream";
import { Worker } from "node:worker_threads";
import { TextDocument } from "vscode-languageserver-textdocument";
import { FrameReader, FrameWriter, type RpcMessage } from "./framing.js";
import { pathOfUri } from "./locations.js";
import { isDidChange, isDidOpen, isDocId } from "./params.js";
import type { FromWorker, GuardState, ToWorker } from "./service-worker.js";
import { CHECK_STOPPED, type CheckInfo, CheckLevel } from "./workspace.js";

export interface SupervisorOptions {
  /** Debounce of re-checks after an edit (the client's initializationOptions may override it). */
  readonly debounceMs?: number;
  /** A check this old is stopped when something else waits (ms). */
  readonly stuckMs?: number;
  /** A check this old is stopped in any case (ms). */
  readonly timeoutMs?: number;
  /** Called on `exit` or when the input ends, with the exit code LSP prescribes. */
  readonly onExit?: (code: number) => void;
}

const DEFAULT_STUCK_MS = 400;
const DEFAULT_TIMEOUT_MS = 4000;
const WATCH_INTERVAL_MS = 25;
/**
 * The standby is started in a quiet moment (no check and no client activity for this long):
 * loading it costs a second or more of CPU, which must not slow the active service's checks.
 * It is started at once when a check is halfway to being stopped.
 */
const STANDBY_QUIET_MS = 1000;
/** The worker's heap limit: a check that allocates without bound ends the worker, not the process. */
const WORKER_HEAP_MB = 1536;
const LOG_ERROR = 1;
/** After this many services ended before loading, no more are started. */
const MAX_FAILED_STARTS = 3;
const LOG_INFO = 3;
const LOG_LOG = 4;

type Id = number | string;

interface Service {
  readonly worker: Worker;
  alive: boolean;
  /** Loaded (its modules imported): can take over at once. */
  ready: boolean;
}

/** How many recent check durations set the watchdog's scale. */
const RECENT_CHECKS = 20;
const STUCK_FACTOR = 8;
const TIMEOUT_FACTOR = 20;

interface Busy extends CheckInfo {
  readonly since: number;
  readonly service: Service;
}

export class Supervisor {
  private readonly writer: FrameWriter;
  private active: Service;
  private standby: Service | undefined;
  /** When the active service last finished a check (or started). */
  private lastIdle = performance.now();
  private readonly watch: NodeJS.Timeout;
  /** Open documents at their latest text, by URI (for replay and for dropping stale diagnostics). */
  private readonly docs = new Map<string, TextDocument>();
  /** The newest version whose diagnostics were published, by URI. */
  private readonly published = new Map<string, number>();
  /** Client requests the service has not answered, in arrival order. */
  private readonly pending = new Map<Id, RpcMessage>();
  /** Server → client requests in flight: our id → the service that sent it and its id. */
  private readonly outgoing = new Map<string, { service: Service; id: Id }>();
  private nextOutgoing = 0;
  /** Ids of requests the supervisor itself sent (replayed initialize): their answers are dropped. */
  private readonly internal = new Set<Id>();
  private initializeParams: unknown;
  private initializeAnswered = false;
  private initialized = false;
  private shutdownReceived = false;
  private busy: Busy | undefined;
  /** Durations of recent completed single-document checks (ms). */
  private readonly recent: number[] = [];
  /** When the client last did something a stuck check keeps waiting. */
  private lastActivity = 0;
  private readonly guardState: { quarantine: GuardState["quarantine"][number][]; oneByOne: boolean } = { quarantine: [], oneByOne: false };
  private disposed = false;
  /** Services that ended before they were loaded, in a row. */
  private failedStarts = 0;
  private gaveUp = false;
  private readonly stuckMs: number;
  private readonly timeoutMs: number;

  constructor(
    input: Readable,
    output: Writable,
    private readonly options: SupervisorOptions = {},
  ) {
    this.stuckMs = options.stuckMs ?? DEFAULT_STUCK_MS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.writer = new FrameWriter(output);
    this.active = this.spawn();
    new FrameReader(
      input,
      (m) => this.fromClient(m),
      (e) => this.writer.write({ jsonrpc: "2.0", id: e.id, error: { code: e.code, message: e.message } }),
    );
    input.on("end", () => this.exit(this.shutdownReceived ? 0 : 1));
    input.on("error", () => this.exit(1));
    this.watch = setInterval(() => this.checkWatchdog(), WATCH_INTERVAL_MS);
    this.watch.unref();
  }

  // ------------------------------------------------------------------ workers

  private spawn(): Service {
    const worker = new Worker(new URL("./service-worker.mjs", import.meta.url), {
      workerData: this.options.debounceMs !== undefined ? { debounceMs: this.options.debounceMs } : {},
      execArgv: [],
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
    });
    const service: Service = { worker, alive: true, ready: false };
    // Whatever the thread prints goes to the client's log: stdout is the protocol stream.
    const toLog = (type: number) => (chunk: Buffer) => this.log(type, chunk.toString("utf8").trimEnd());
    worker.stdout.on("data", toLog(LOG_INFO));
    worker.stderr.on("data", toLog(LOG_ERROR));
    worker.on("message", (m: FromWorker) => this.fromWorker(service, m));
    worker.on("error", (e) => {
      if (service.alive) this.log(LOG_ERROR, `spikelm: the language service stopped: ${e.stack ?? e.message}`);
    });
    worker.on("exit", () => {
      if (!service.alive || this.disposed) return;
      service.alive = false;
      if (service === this.standby) {
        this.standby = undefined;
        if (!service.ready) this.failedStarts++;
        return;
      }
      if (!service.ready && ++this.failedStarts >= MAX_FAILED_STARTS) return this.giveUp();
      // Ended on its own (out of memory, a crash): what it was checking is to blame, if anything.
      this.takeOver("the language service ended");
    });
    return service;
  }

  private ensureStandby(): void {
    if (!this.standby && !this.disposed && this.failedStarts < MAX_FAILED_STARTS) this.standby = this.spawn();
  }

  /** The service cannot even start (an installation problem): say so and refuse requests, rather than respawn forever. */
  private giveUp(): void {
    this.gaveUp = true;
    this.log(LOG_ERROR, "spikelm: the language service cannot start (see the errors above); requests are refused");
    for (const [id, m] of this.pending) if (!this.internal.has(id)) this.writer.write({ jsonrpc: "2.0", id, error: { code: -32803, message: `${m.method}: the spikelm language service is not running` } });
    this.pending.clear();
  }

  private send(service: Service, m: ToWorker): void {
    if (this.gaveUp && "rpc" in m && m.rpc && "id" in m.rpc && "method" in m.rpc) {
      const rpc = m.rpc as RpcMessage;
      if (rpc.id !== undefined && rpc.id !== null) {
        this.pending.delete(rpc.id);
        this.writer.write({ jsonrpc: "2.0", id: rpc.id, error: { code: -32803, message: `${rpc.method}: the spikelm language service is not running` } });
      }
      return;
    }
    if (service.alive) service.worker.postMessage(m);
  }

  /** Ends the active worker and hands everything to the standby (or a new worker). */
  private takeOver(reason: string): void {
    const old = this.active;
    old.alive = false;
    void old.worker.terminate();
    const stopped = this.busy?.service === old ? this.busy : undefined;
    this.busy = undefined;
    if (stopped) this.quarantine(stopped, reason);
    else this.log(LOG_ERROR, `spikelm: ${reason}; restarting it`);
    this.active = this.standby ?? this.spawn();
    this.standby = undefined;
    this.lastIdle = performance.now();
    for (const [key, o] of this.outgoing) if (o.service === old) this.outgoing.delete(key);
    this.replay(this.active);
  }

  private quarantine(b: Busy, reason: string): void {
    const ms = Math.round(performance.now() - b.since);
    if (b.roots > 1) {
      this.guardState.oneByOne = true;
      this.log(LOG_INFO, `spikelm: checking ${b.roots} files together was stopped after ${ms} ms (${reason}); they are now checked one by one`);
      return;
    }
    const level = b.kind === "parse" ? CheckLevel.Nothing : CheckLevel.ParseOnly;
    this.guardState.quarantine = this.guardState.quarantine.filter((q) => q.file !== b.file || q.hash !== b.hash);
    this.guardState.quarantine.push({ file: b.file, hash: b.hash, level });
    // Keep the list short: old texts of a document being edited will not come back.
    if (this.guardState.quarantine.length > 64) this.guardState.quarantine.shift();
    this.log(LOG_INFO, `spikelm: ${b.kind === "parse" ? "parsing" : "checking"} ${b.file} was stopped after ${ms} ms (${reason})`);
    if (level === CheckLevel.Nothing) {
      // The service will have nothing to publish for it: say why here.
      for (const doc of this.docs.values())
        if (sameFile(doc.uri, b.file))
          this.writer.write({
            jsonrpc: "2.0",
            method: "textDocument/publishDiagnostics",
            params: {
              uri: doc.uri,
              version: doc.version,
              diagnostics: [{ range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } }, severity: 2, code: CHECK_STOPPED, source: "spikelm", message: "this document took too long even to read; edit it to try again" }],
            },
          });
    }
  }

  /** Brings a fresh service to the state the client believes the server is in. */
  private replay(service: Service): void {
    this.send(service, { guard: this.guardState });
    const initPending = [...this.pending.values()].some((m) => m.method === "initialize");
    if (this.initializeParams !== undefined && !initPending) {
      const id = `spikelm-replay-${this.nextOutgoing++}`;
      this.internal.add(id);
      this.send(service, { rpc: { jsonrpc: "2.0", id, method: "initialize", params: withoutWatcherRegistration(this.initializeParams) } as RpcMessage });
    }
    if (this.initialized) this.send(service, { rpc: { jsonrpc: "2.0", method: "initialized", params: {} } as RpcMessage });
    for (const doc of this.docs.values())
      this.send(service, { rpc: { jsonrpc: "2.0", method: "textDocument/didOpen", params: { textDocument: { uri: doc.uri, languageId: "spk", version: doc.version, text: doc.getText() } } } as RpcMessage });
    for (const m of this.pending.values()) this.send(service, { rpc: m });
  }

  private checkWatchdog(): void {
    const now = performance.now();
    const b = this.busy;
    if (!b || b.service !== this.active) {
      if (!this.standby && this.initializeAnswered && now - this.lastIdle > STANDBY_QUIET_MS && now - this.lastActivity > STANDBY_QUIET_MS) this.ensureStandby();
      return;
    }
    const age = now - b.since;
    const typical = this.recent.length > 0 ? medianOf(this.recent) : 0;
    const timeout = Math.max(this.timeoutMs, TIMEOUT_FACTOR * typical);
    const stuck = Math.max(this.stuckMs, STUCK_FACTOR * typical);
    if (age > stuck / 2 && b.roots === 1) this.ensureStandby();
    const someoneWaits = this.lastActivity > b.since || [...this.pending.values()].some((m) => uriOf(m) !== undefined && !sameFile(uriOf(m)!, b.file));
    if (age > timeout) this.takeOver(`longer than ${Math.round(timeout)} ms`);
    // A check of many roots (references across the workspace) is legitimately slow: only the
    // hard limit. Without a loaded standby, a restart would make everyone wait longer.
    else if (b.roots === 1 && someoneWaits && age > stuck && this.standby?.ready) this.takeOver(`longer than ${Math.round(stuck)} ms while other work waited`);
  }

  // ------------------------------------------------------------------ messages

  private fromClient(m: RpcMessage): void {
    if (this.disposed) return;
    if (m.method === undefined) {
      // A response to one of our requests to the client.
      const key = String(m.id);
      const o = this.outgoing.get(key);
      this.outgoing.delete(key);
      if (o && o.service.alive) this.send(o.service, { rpc: { ...m, id: o.id } as RpcMessage });
      return;
    }
    const isRequest = m.id !== undefined && m.id !== null;
    // JSON-RPC params are an object or an array when present. The protocol library reads
    // fields of them before our handlers run (and throws on `null`), so the rest is refused here.
    if (m.params !== undefined && (typeof m.params !== "object" || m.params === null) && m.method !== "shutdown" && m.method !== "exit") {
      if (isRequest) this.writer.write({ jsonrpc: "2.0", id: m.id, error: { code: -32602, message: `${m.method}: params must be an object` } });
      return;
    }
    if (isRequest) {
      if (this.pending.has(m.id!)) {
        this.writer.write({ jsonrpc: "2.0", id: m.id, error: { code: -32600, message: `request id ${String(m.id)} is already in use` } });
        return;
      }
      if (m.method === "initialize") this.initializeParams = m.params;
      if (m.method === "shutdown") this.shutdownReceived = true;
      this.pending.set(m.id!, m);
      const uri = uriOf(m);
      if (uri !== undefined && (!this.busy || !sameFile(uri, this.busy.file))) this.lastActivity = performance.now();
    } else {
      switch (m.method) {
        case "exit":
          this.exit(this.shutdownReceived ? 0 : 1);
          return;
        case "initialized":
          this.initialized = true;
          break;
        case "textDocument/didOpen":
          if (!isDidOpen(m.params)) return; // the service would ignore it too
          this.docs.set(m.params.textDocument.uri, TextDocument.create(m.params.textDocument.uri, "spk", m.params.textDocument.version, m.params.textDocument.text));
          this.published.delete(m.params.textDocument.uri); // versions start again
          this.lastActivity = performance.now();
          break;
        case "textDocument/didChange": {
          if (!isDidChange(m.params)) return;
          const doc = this.docs.get(m.params.textDocument.uri);
          if (doc) TextDocument.update(doc, m.params.contentChanges, m.params.textDocument.version);
          this.lastActivity = performance.now();
          break;
        }
        case "textDocument/didClose":
          if (!isDocId(m.params)) return;
          this.docs.delete(m.params.textDocument.uri);
          this.published.delete(m.params.textDocument.uri);
          this.lastActivity = performance.now();
          break;
      }
    }
    this.send(this.active, { rpc: m });
  }

  private fromWorker(service: Service, m: FromWorker): void {
    if ("ready" in m) {
      service.ready = true;
      this.failedStarts = 0;
      if (service === this.standby) this.log(LOG_LOG, "spikelm: standby language service ready");
      return;
    }
    if (service !== this.active || !service.alive || this.disposed) return;
    if ("check" in m) {
      this.busy = { ...m.check, since: performance.now(), service };
      return;
    }
    if ("checkEnd" in m) {
      const b = this.busy;
      this.busy = undefined;
      this.lastIdle = performance.now();
      if (b && b.roots === 1 && b.kind === "check") {
        this.recent.push(performance.now() - b.since);
        if (this.recent.length > RECENT_CHECKS) this.recent.shift();
      }
      return;
    }
    const rpc = m.rpc as RpcMessage;
    if (rpc.method === undefined) {
      // A response: the request is answered.
      if (this.internal.delete(rpc.id!)) return;
      const request = this.pending.get(rpc.id!);
      this.pending.delete(rpc.id!);
      if (request?.method === "initialize") this.initializeAnswered = true;
      this.writer.write(rpc);
      return;
    }
    if (rpc.id !== undefined && rpc.id !== null) {
      // A request to the client: our own id, so that ids of a replaced service never collide.
      const key = `spikelm-${this.nextOutgoing++}`;
      this.outgoing.set(key, { service, id: rpc.id });
      this.writer.write({ ...rpc, id: key });
      return;
    }
    if (rpc.method === "textDocument/publishDiagnostics" && this.isBackwards(rpc.params)) return;
    this.writer.write(rpc);
  }

  /**
   * Whether diagnostics are older than ones already published, or newer than the document
   * (late ones from before the document was closed and opened again); remembers the newest.
   */
  private isBackwards(params: unknown): boolean {
    const p = params as { uri?: unknown; version?: unknown } | null;
    if (!p || typeof p.uri !== "string" || typeof p.version !== "number") return false;
    const doc = this.docs.get(p.uri);
    if (doc && p.version > doc.version) return true;
    const last = this.published.get(p.uri);
    if (last !== undefined && p.version < last) return true;
    this.published.set(p.uri, p.version);
    return false;
  }

  private log(type: number, message: string): void {
    if (message) this.writer.write({ jsonrpc: "2.0", method: "window/logMessage", params: { type, message } });
  }

  // ------------------------------------------------------------------ end

  private exit(code: number): void {
    if (this.disposed) return;
    this.dispose();
    this.options.onExit?.(code);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    clearInterval(this.watch);
    for (const s of [this.active, this.standby]) {
      if (!s) continue;
      s.alive = false;
      void s.worker.terminate();
    }
  }
}

function medianOf(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function uriOf(m: RpcMessage): string | undefined {
  const p = m.params as { textDocument?: { uri?: unknown } } | null | undefined;
  const uri = typeof p === "object" && p !== null && typeof p.textDocument === "object" && p.textDocument !== null ? p.textDocument.uri : undefined;
  return typeof uri === "string" ? uri : undefined;
}

/** Whether a client URI names `file` (an absolute path, as the service names files). */
function sameFile(uri: string, file: string): boolean {
  return pathOfUri(uri) === file;
}


/** The initialize params for a replacement service: the client already has the file watcher registered. */
function withoutWatcherRegistration(params: unknown): unknown {
  if (typeof params !== "object" || params === null) return params;
  const p = params as { capabilities?: { workspace?: Record<string, unknown> } };
  const workspace = { ...(p.capabilities?.workspace ?? {}), didChangeWatchedFiles: { dynamicRegistration: false } };
  return { ...p, capabilities: { ...(p.capabilities ?? {}), workspace } };
}
