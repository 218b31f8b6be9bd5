/**
 * A program: the files reachable from some roots through `import`, each parsed once, and
 * each file's scope of declarations (prelude, then imports in order, then its own).
 *
 * File identity is an absolute path. The host decides where text comes from, so the
 * language server can overlay unsaved editor buffers on the disk.
 */
import { platform } from "#platform";
import { utf8 } from "../platform/platform.js";
import type { Decl, ImportDecl, SpkFile } from "../../grammar/ast.js";
import { parse } from "../../grammar/parse.js";
import { cachedParse } from "./parse-cache.js";
import { type Diagnostic, LineIndex } from "../../grammar/source.js";

const path = platform.path;
export const STDLIB_DIR = path.join(platform.repoRoot, "stdlib");
const PRELUDE = path.join(STDLIB_DIR, "prelude.spk");

export interface FileHost {
  read(file: string): string | undefined;
}

export const diskHost: FileHost = {
  read(file) {
    try {
      return utf8(platform.readBytes(file));
    } catch {
      return undefined;
    }
  },
};

export interface ParsedFile {
  readonly uri: string;
  readonly text: string;
  readonly ast: SpkFile;
  readonly lines: LineIndex;
  readonly parseDiagnostics: readonly Diagnostic[];
  /** Resolved import targets, parallel to `ast.imports` (undefined where not found). */
  readonly importTargets: readonly (string | undefined)[];
}

export interface ScopeEntry {
  readonly decl: Decl;
  readonly uri: string;
}

/** Where `import "spec"` in `fromFile` points, whether or not the file exists. */
export function resolveImportPath(spec: string, fromFile: string): string {
  const withExt = spec.endsWith(".spk") ? spec : `${spec}.spk`;
  if (spec.startsWith("std/")) return path.join(STDLIB_DIR, withExt.slice(4));
  return path.resolve(path.dirname(fromFile), withExt);
}

export class Program {
  readonly files = new Map<string, ParsedFile>();
  readonly loadDiagnostics: Diagnostic[] = [];
  private readonly scopes = new Map<string, Map<string, ScopeEntry>>();

  constructor(readonly host: FileHost = diskHost) {}

  /** Loads `file` and everything it imports; returns undefined if `file` cannot be read. */
  load(file: string): ParsedFile | undefined {
    const abs = path.resolve(file);
    const done = this.files.get(abs);
    if (done) return done;
    const text = this.host.read(abs);
    if (text === undefined) return undefined;
    // Files read from disk (a command's spec and the stdlib) through the parse cache; an
    // editor's unsaved documents (the LSP's host) are parsed as they are.
    const { file: ast, diagnostics } = this.host === diskHost ? cachedParse(text, abs) : parse(text, abs);
    const importTargets: (string | undefined)[] = [];
    const parsed: ParsedFile = { uri: abs, text, ast, lines: new LineIndex(text), parseDiagnostics: diagnostics, importTargets };
    this.files.set(abs, parsed);
    for (const imp of ast.imports) importTargets.push(this.loadImport(imp, abs));
    if (abs !== PRELUDE) this.load(PRELUDE);
    return parsed;
  }

  private loadImport(imp: ImportDecl, from: string): string | undefined {
    const target = resolveImportPath(imp.path, from);
    if (this.load(target)) return target;
    this.loadDiagnostics.push({
      code: "SPK101",
      severity: "error",
      message: imp.path.startsWith("std/")
        ? `no stdlib module \`${imp.path}\` (the stdlib has ${stdlibModules().map((m) => `\`std/${m}\``).join(", ")})`
        : `cannot read imported file \`${imp.path}\` (looked for ${target})`,
      uri: from,
      span: imp.pathSpan,
    });
    return undefined;
  }

  /** Declarations visible in `uri`: prelude < imports in order < the file's own. */
  scope(uri: string): Map<string, ScopeEntry> {
    const cached = this.scopes.get(uri);
    if (cached) return cached;
    const scope = new Map<string, ScopeEntry>();
    const file = this.files.get(uri);
    const addAll = (f: ParsedFile | undefined) => {
      for (const d of f?.ast.decls ?? []) if (d.name.name) scope.set(d.name.name, { decl: d, uri: f!.uri });
    };
    if (uri !== PRELUDE) addAll(this.files.get(PRELUDE));
    for (const t of file?.importTargets ?? []) if (t) addAll(this.files.get(t));
    addAll(file);
    this.scopes.set(uri, scope);
    return scope;
  }

  /** Duplicate top-level names within one file. */
  duplicateDiagnostics(uri: string): Diagnostic[] {
    const file = this.files.get(uri);
    if (!file) return [];
    const seen = new Map<string, Decl>();
    const out: Diagnostic[] = [];
    for (const d of file.ast.decls) {
      const prev = seen.get(d.name.name);
      if (prev && d.name.name)
        out.push({
          code: "SPK202",
          severity: "error",
          message: `\`${d.name.name}\` is declared twice in this file`,
          uri,
          span: d.name.span,
          related: [{ uri, span: prev.name.span, message: "first declared here" }],
        });
      else seen.set(d.name.name, d);
    }
    return out;
  }
}

export function stdlibModules(): string[] {
  try {
    return platform
      .readDir(STDLIB_DIR)
      .map((e) => e.name)
      .filter((f) => f.endsWith(".spk") && f !== "prelude.spk")
      .map((f) => f.slice(0, -4))
      .sort();
  } catch {
    return [];
  }
}
