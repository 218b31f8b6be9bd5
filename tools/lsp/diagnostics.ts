/**
 * Diagnostics for an open document: the core's parse and checker diagnostics whose file is
 * the document, as LSP diagnostics with ranges, codes, related information, and the core's
 * fix carried in `data` so a quick fix can be offered without re-checking.
 */
import type { Diagnostic as LspDiagnostic, DiagnosticRelatedInformation, TextEdit } from "vscode-languageserver";
import { DiagnosticSeverity } from "vscode-languageserver";
import type { Diagnostic, Fix } from "../../grammar/source.js";
import { toRange } from "./locations.js";
import type { Analysis, Workspace } from "./workspace.js";

/** The fix as LSP edits, grouped by document URI (what `data` carries). */
export interface FixData {
  readonly title: string;
  readonly changes: Record<string, TextEdit[]>;
}

const SEVERITY = { error: DiagnosticSeverity.Error, warning: DiagnosticSeverity.Warning, info: DiagnosticSeverity.Information } as const;

export function fixToLsp(ws: Workspace, a: Analysis, fix: Fix): FixData | undefined {
  const changes: Record<string, TextEdit[]> = {};
  for (const e of fix.edits) {
    const lines = ws.lines(e.uri, a.program);
    if (!lines) return undefined;
    (changes[ws.uris.toUri(e.uri)] ??= []).push({ range: toRange(lines, e.span), newText: e.newText });
  }
  return { title: fix.title, changes };
}

function toLspDiagnostic(ws: Workspace, a: Analysis, d: Diagnostic): LspDiagnostic {
  const related: DiagnosticRelatedInformation[] = [];
  for (const r of d.related ?? []) {
    const lines = ws.lines(r.uri, a.program);
    if (lines) related.push({ location: { uri: ws.uris.toUri(r.uri), range: toRange(lines, r.span) }, message: r.message });
  }
  const out: LspDiagnostic = {
    range: toRange(a.lines, d.span),
    severity: SEVERITY[d.severity] ?? DiagnosticSeverity.Error,
    code: d.code,
    source: "spikelm",
    message: d.message,
  };
  if (related.length) out.relatedInformation = related;
  const fix = d.fix && fixToLsp(ws, a, d.fix);
  if (fix) out.data = { fix };
  return out;
}

/** The diagnostics to publish for the analysed document (only those located in it). */
export function documentDiagnostics(ws: Workspace, a: Analysis): LspDiagnostic[] {
  return a.result.diagnostics.filter((d) => d.uri === a.file).map((d) => toLspDiagnostic(ws, a, d));
}

