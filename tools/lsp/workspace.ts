/**
 * The editor's view of the files: open buffers overlaid on the disk, and one checked
 * Program per open document, cached until a file it read changes.
 *
 * An analysis is the core's own `checkFiles` result for one document as root; nothing here
 * knows a language rule. Freshness is decided by comparing the texts the analysis read with
 * what the overlay host would read now, so an edit to an imported file (open or on disk)
 * invalidates its importers without any dependency bookkeeping of our own.
 *
 * Re-checks after edits are debounced (a few ms, never more than `maxWaitMs` after the first
 * pending edit, so a storm of edits still gets diagnostics) and batched: the changed document
 * first, then every open document whose last analysis read it.
 *
 * Every check reports its start and end to a `CheckGuard` (the supervisor's watchdog, when
 * the workspace runs in a worker thread), and asks it first whether this exact text is known
 * to take too long; such a document gets its syntax only (or nothing) and a diagnostic
 * saying why. See supervisor.ts.
 */
import { platform } from "#platform";
import { type DirEntry, utf8 } from "../../interpreter/platform/platform.js";
import { TextDocument } from "vscode-languageserver-textdocument";
import type { TextDocumentContentChangeEvent } from "vscode-languageserver";
import { type Diagnostic, LineIndex } from "../../grammar/source.js";
import { type CheckResult, checkFiles } from "../../interpreter/checker/check.js";
import type { RefRecord } from "../../interpreter/checker/elaborate.js";
import { type FileHost, type ParsedFile, Program } from "../../interpreter/checker/program.js";
import { isStdlib } from "./describe.js";
import { Uris } from "./locations.js";

export interface OpenDoc {
  readonly file: string;
  readonly uri: string;
  readonly doc: TextDocument;
}

export interface Analysis {
  readonly file: string;
  readonly uri: string;
  /** The document version this analysis was computed from (undefined: not open). */
  readonly version: number | undefined;
  readonly parsed: ParsedFile;
  readonly text: string;
  readonly lines: LineIndex;
  readonly result: CheckResult;
  readonly program: Program;
}

/** What a check is doing, for the watchdog. */
export interface CheckInfo {
  /** The root (the first root of a many-root check). */
  readonly file: string;
  /** Hash of the root's text (empty for a many-root check). */
  readonly hash: string;
  /** "check": the checker; "parse": the syntax-only fallback. */
  readonly kind: "check" | "parse";
  readonly roots: number;
}

/** How far a check of a root with a given text may go (see supervisor.ts). */
export const CheckLevel = {
  Full: 0,
  /** This text's check took too long: parse only. */
  ParseOnly: 1,
  /** Even parsing it took too long: no analysis. */
  Nothing: 2,
} as const;
export type CheckLevel = (typeof CheckLevel)[keyof typeof CheckLevel];

export interface CheckGuard {
  level(file: string, hash: string): CheckLevel;
  started(info: CheckInfo): void;
  ended(): void;
  /** Check workspace files one by one (a check of all of them together took too long). */
  readonly oneByOne: boolean;
}

/** The code of the diagnostic on a document whose check was stopped. */
export const CHECK_STOPPED = "LSP001";

export interface WorkspaceOptions {
  /** Delay between the last edit and the re-check that publishes diagnostics. */
  readonly debounceMs: number;
  /** Longest delay between the first pending edit and its re-check (default 4 × debounce, at least 40 ms). */
  readonly maxWaitMs?: number;
  readonly guard?: CheckGuard;
  /** Called with each fresh analysis of an open document that needs publishing. */
  readonly publish: (a: Analysis) => void;
  readonly log: (message: string) => void;
}

const MAX_WORKSPACE_FILES = 2000;
/** Log prefix of a checker crash (a core bug, distinct from a failing LSP handler). */
export const CHECKER_CRASH = "spikelm: the checker crashed on";
const SKIP_DIRS = new Set(["node_modules", "dist", "out", "build", "coverage"]);

export class Workspace {
  readonly uris = new Uris();
  readonly roots: string[] = [];
  private readonly docs = new Map<string, OpenDoc>();
  private readonly disk = new Map<string, string | undefined>();
  private readonly analyses = new Map<string, Analysis>();
  /** Stdlib files parsed by a check, by path: reused while their text is unchanged. */
  private readonly parsed = new Map<string, ParsedFile>();
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  /** When the oldest edit not yet re-checked arrived. */
  private firstPendingAt: number | undefined;
  private workspaceCache: readonly RefRecord[] | undefined;
  private generation = 0;
  private workspaceGeneration = -1;

  readonly host: FileHost = {
    read: (file) => {
      const open = this.docs.get(file);
      if (open) return open.doc.getText();
      if (this.disk.has(file)) return this.disk.get(file);
      let text: string | undefined;
      try {
        text = utf8(platform.readBytes(file));
      } catch {
        text = undefined;
      }
      this.disk.set(file, text);
      return text;
    },
  };

  constructor(private readonly options: WorkspaceOptions) {}

  // ------------------------------------------------------------------ documents

  open(uri: string, version: number, text: string): void {
    const file = this.uris.toPath(uri);
    this.docs.set(file, { file, uri, doc: TextDocument.create(uri, "spk", version, text) });
    this.changed(file);
  }

  change(uri: string, version: number, changes: readonly TextDocumentContentChangeEvent[]): void {
    const file = this.uris.toPath(uri);
    const open = this.docs.get(file);
    if (!open) return;
    TextDocument.update(open.doc, [...changes], version);
    this.changed(file);
  }

  close(uri: string): void {
    const file = this.uris.toPath(uri);
    this.docs.delete(file);
    this.analyses.delete(file);
    this.disk.delete(file); // the disk may differ from the buffer that was closed
    this.pending.delete(file);
    this.generation++;
    // Importers now read the disk version.
    for (const a of this.analyses.values()) if (a.program.files.has(file)) this.pending.add(a.file);
    this.schedule();
  }

  /** Files changed on disk (from workspace/didChangeWatchedFiles). */
  diskChanged(files: readonly string[]): void {
    for (const f of files) this.disk.delete(f);
    this.generation++;
    for (const a of this.analyses.values()) if (this.docs.has(a.file) && !this.isFresh(a)) this.pending.add(a.file);
    // A created file can resolve a failed import, which freshness cannot see: re-check all.
    for (const f of this.docs.keys()) this.pending.add(f);
    this.schedule();
  }

  openDocs(): OpenDoc[] {
    return [...this.docs.values()];
  }

  getOpen(uri: string): OpenDoc | undefined {
    return this.docs.get(this.uris.toPath(uri));
  }

  private changed(file: string): void {
    this.generation++;
    this.pending.add(file);
    for (const a of this.analyses.values()) if (a.file !== file && a.program.files.has(file)) this.pending.add(a.file);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    const now = performance.now();
    this.firstPendingAt ??= now;
    const debounce = this.options.debounceMs;
    const maxWait = this.options.maxWaitMs ?? Math.max(40, 4 * debounce);
    const delay = Math.max(0, Math.min(debounce, this.firstPendingAt + maxWait - now));
    this.timer = setTimeout(() => this.flush(), delay);
  }

  /** Re-checks and publishes every pending open document (the most recently edited first). */
  flush(): void {
    this.timer = undefined;
    this.firstPendingAt = undefined;
    const order = [...this.pending].reverse();
    this.pending.clear();
    for (const file of order) {
      const open = this.docs.get(file);
      if (!open) continue;
      try {
        const a = this.analysis(open.uri);
        if (a) this.options.publish(a);
      } catch (e) {
        this.options.log(`spikelm: checking ${file} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      }
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }

  // ------------------------------------------------------------------ analyses

  /** The checked program with `uri` as its root, computed now if anything it read changed. */
  analysis(uri: string): Analysis | undefined {
    const file = this.uris.toPath(uri);
    const cached = this.analyses.get(file);
    if (cached && this.isFresh(cached)) {
      // Same text under a newer version (an edit undone): the analysis holds, but it must
      // carry the version the client has now, or its diagnostics would be dropped as stale.
      const version = this.docs.get(file)?.doc.version;
      if (version === undefined || version === cached.version) return cached;
      const renewed = { ...cached, version };
      this.analyses.set(file, renewed);
      return renewed;
    }
    const { program, result } = this.check([file]);
    const parsed = program.files.get(file);
    if (!parsed) return undefined;
    const open = this.docs.get(file);
    const a: Analysis = {
      file,
      uri: open?.uri ?? this.uris.toUri(file),
      version: open?.doc.version,
      parsed,
      text: parsed.text,
      lines: parsed.lines,
      result,
      program,
    };
    if (open) this.analyses.set(file, a);
    return a;
  }

  /**
   * `checkFiles` on `roots`. Should the checker throw (a bug in the core), the editor keeps
   * every syntax-level feature: the files are parsed on their own, the parse diagnostics are
   * kept, and an SPK000 diagnostic at the top of each root says the check did not run.
   */
  private check(roots: readonly string[]): { program: Program; result: CheckResult } {
    const guard = this.options.guard;
    const root = roots[0] ?? "";
    const text = roots.length === 1 && guard ? this.host.read(root) : undefined;
    const hash = text === undefined ? "" : hashText(text);
    const level: CheckLevel = roots.length === 1 && guard ? guard.level(root, hash) : CheckLevel.Full;
    if (level === CheckLevel.Nothing) {
      const empty = new Program(this.host);
      return { program: empty, result: { program: empty, diagnostics: [], types: [], refs: [] } };
    }
    if (level === CheckLevel.ParseOnly)
      return this.parseOnly(roots, { code: CHECK_STOPPED, severity: "warning", message: "checking this document was stopped: it took too long (other documents stay checked). Only syntax errors are shown; edit it to check again." }, hash);
    const program = this.seeded(roots);
    guard?.started({ file: root, hash, kind: "check", roots: roots.length });
    try {
      const result = checkFiles(roots, program);
      for (const [file, parsed] of program.files) if (isStdlib(file)) this.parsed.set(file, parsed);
      return { program, result };
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      this.options.log(`${CHECKER_CRASH} ${roots.length === 1 ? roots[0] : `${roots.length} files`}: ${e instanceof Error ? (e.stack ?? reason) : reason}`);
      return this.parseOnly(roots, { code: "SPK000", severity: "error", message: `internal error in the checker (a bug in spikelm, please report it): ${reason}` }, hash);
    } finally {
      guard?.ended();
    }
  }

  /**
   * The files parsed on their own, with their parse diagnostics and `why` at the top of each
   * root: what the editor keeps when a check cannot run (the checker crashed or was stopped).
   */
  private parseOnly(roots: readonly string[], why: Pick<Diagnostic, "code" | "severity" | "message">, hash: string): { program: Program; result: CheckResult } {
    const fallback = new Program(this.host);
    const diagnostics: Diagnostic[] = [];
    this.options.guard?.started({ file: roots[0] ?? "", hash, kind: "parse", roots: roots.length });
    try {
      for (const root of roots) {
        const parsed = fallback.load(root);
        if (!parsed) continue;
        diagnostics.push(...parsed.parseDiagnostics, { ...why, uri: parsed.uri, span: { start: 0, end: 0 } });
      }
    } finally {
      this.options.guard?.ended();
    }
    return { program: fallback, result: { program: fallback, diagnostics, types: [], refs: [] } };
  }

  /**
   * A Program holding the stdlib files an earlier check parsed, where their text is
   * unchanged, so that an edit does not re-parse the stdlib (a fifth of a check). A seeded
   * file is returned by `Program.load` as is, without loading its imports, so only files whose
   * imports all resolved and are themselves seeded qualify. Roots are never seeded: loading a
   * root is what loads the prelude and reports unresolved imports. Only stdlib files, because
   * a seeded file the root does not import still counts as read (freshness, importers); every
   * check may read the stdlib anyway (the checker looks there for missing imports).
   */
  private seeded(roots: readonly string[]): Program {
    const program = new Program(this.host);
    const ok = new Map<string, ParsedFile>();
    for (const [file, parsed] of this.parsed) {
      if (!isStdlib(file) || roots.includes(file) || this.host.read(file) !== parsed.text) continue;
      if (parsed.importTargets.every((t) => t !== undefined)) ok.set(file, parsed);
    }
    for (let changed = true; changed; ) {
      changed = false;
      for (const [file, parsed] of ok)
        if (!parsed.importTargets.every((t) => t !== undefined && ok.has(t))) {
          ok.delete(file);
          changed = true;
        }
    }
    for (const [file, parsed] of ok) program.files.set(file, parsed);
    return program;
  }

  /** True if every file the analysis read still has the text it read. */
  private isFresh(a: Analysis): boolean {
    for (const [file, parsed] of a.program.files) if (this.host.read(file) !== parsed.text) return false;
    return true;
  }

  /** The parsed text and line index of any file a program has read, or of the disk. */
  lines(file: string, program?: Program): LineIndex | undefined {
    const parsed = program?.files.get(file);
    if (parsed) return parsed.lines;
    const text = this.host.read(file);
    return text === undefined ? undefined : new LineIndex(text);
  }

  /**
   * Every `.spk` file under the workspace folders and every open document, checked as roots:
   * the source of cross-file references and rename edits. Cached until any edit. Should the
   * checker crash on the whole set, the files are checked one by one, so that one broken
   * file does not hide the references in the others.
   */
  workspaceRefs(): readonly RefRecord[] {
    if (this.workspaceCache && this.workspaceGeneration === this.generation) return this.workspaceCache;
    const files = new Set<string>(this.docs.keys());
    for (const root of this.roots) for (const f of listSpecs(root)) files.add(f);
    const all = [...files];
    let refs: RefRecord[] | undefined;
    // One by one when checking them together once took too long: each file is then guarded
    // (and, if it is the slow one, stopped) on its own.
    if (!this.options.guard?.oneByOne) {
      this.options.guard?.started({ file: all[0] ?? "", hash: "", kind: "check", roots: all.length });
      try {
        refs = checkFiles(all, this.seeded(all)).refs;
      } catch {
        refs = undefined;
      } finally {
        this.options.guard?.ended();
      }
    }
    refs ??= all.flatMap((f) => this.check([f]).result.refs);
    this.workspaceCache = refs;
    this.workspaceGeneration = this.generation;
    return refs;
  }
}

/** FNV-1a of a text (as a hex string): the key under which a too-slow text is remembered. */
function hashText(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return `${(h >>> 0).toString(16)}:${text.length}`;
}

/** `.spk` files under `root`, skipping dependency and hidden folders. */
export function listSpecs(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 12 || out.length >= MAX_WORKSPACE_FILES) return;
    let entries: DirEntry[];
    try {
      entries = platform.readDir(dir);
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith(".")) continue;
      const p = platform.path.join(dir, e.name);
      if (e.directory) {
        if (!SKIP_DIRS.has(e.name)) walk(p, depth + 1);
      } else if (e.file && e.name.endsWith(".spk") && out.length < MAX_WORKSPACE_FILES) out.push(p);
    }
  };
  walk(root, 0);
  return out;
}
