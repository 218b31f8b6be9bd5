/**
 * `checkFiles`: every diagnostic for a set of files: parse errors, missing imports,
 * duplicate names, and each declaration checked on its own by the elaborator (generic
 * mode). Also returns the type facts the language server shows on hover.
 */
import type { Diagnostic } from "../../grammar/source.js";
import { symDim, freshSymbol } from "../types/dims.js";
import { Elaborator, type RefRecord, type TypeRecord } from "./elaborate.js";
import { Program } from "./program.js";

export interface CheckResult {
  readonly program: Program;
  readonly diagnostics: Diagnostic[];
  readonly types: TypeRecord[];
  /** Every resolved name use with the declaration it refers to. */
  readonly refs: RefRecord[];
}

export function checkFiles(files: readonly string[], program = new Program()): CheckResult {
  const roots = files.map((f) => program.load(f)?.uri).filter((u): u is string => u !== undefined);
  const elab = new Elaborator(program, { concrete: false, timeDim: symDim(freshSymbol("T", false)), recordTypes: true });
  const diagnostics: Diagnostic[] = [];
  // Checking a root checks what it declares; imported files are checked as their own roots
  // only when asked, but their parse errors surface wherever they are imported.
  const checked = new Set<string>();
  for (const uri of roots) {
    if (checked.has(uri)) continue;
    checked.add(uri);
    const file = program.files.get(uri)!;
    diagnostics.push(...file.parseDiagnostics, ...program.duplicateDiagnostics(uri));
    for (const target of file.importTargets) {
      const imported = target && program.files.get(target);
      if (imported && imported.parseDiagnostics.length > 0 && !roots.includes(imported.uri))
        diagnostics.push(...imported.parseDiagnostics);
    }
    for (const decl of file.ast.decls) {
      try {
        elab.checkDecl(decl, uri);
      } catch (e) {
        // A checker bug must not take the whole file (or the language server) down.
        diagnostics.push({ code: "SPK000", severity: "error", message: `internal checker error in \`${decl.name.name}\` (please report): ${e instanceof Error ? e.message : String(e)}`, uri, span: decl.name.span });
      }
    }
  }
  diagnostics.push(...program.loadDiagnostics.filter((d) => checked.has(d.uri)));
  // Errors found while elaborating imported declarations are reported in their own file.
  diagnostics.push(...elab.diagnostics);
  return { program, diagnostics: dedupe(diagnostics), types: elab.types, refs: dedupeRefs(elab.refs) };
}

function dedupe(ds: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const d of ds) {
    const k = `${d.uri}|${d.code}|${d.span.start}|${d.span.end}|${d.message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(d);
  }
  return out.sort((a, b) => (a.uri === b.uri ? a.span.start - b.span.start : a.uri < b.uri ? -1 : 1));
}

function dedupeRefs(rs: RefRecord[]): RefRecord[] {
  const seen = new Set<string>();
  return rs.filter((r) => {
    const k = `${r.uri}|${r.span.start}|${r.target.uri}|${r.target.span.start}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
