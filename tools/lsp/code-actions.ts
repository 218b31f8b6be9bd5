/**
 * Quick fixes: one code action per diagnostic in the request that carries a core `fix`
 * (did you mean, add the missing import, `alpha` → `alpha[t]`). The fix is looked up in the
 * current analysis by code and range; a diagnostic whose `data` still carries the fix from
 * publishing is used as is when the analysis has moved on.
 */
import type { CodeAction, CodeActionParams, Diagnostic as LspDiagnostic } from "vscode-languageserver";
import { CodeActionKind } from "vscode-languageserver";
import { type FixData, fixToLsp } from "./diagnostics.js";
import { toRange } from "./locations.js";
import type { Analysis, Workspace } from "./workspace.js";

const sameRange = (x: LspDiagnostic["range"], y: LspDiagnostic["range"]) =>
  x.start.line === y.start.line && x.start.character === y.start.character && x.end.line === y.end.line && x.end.character === y.end.character;

function isFixData(x: unknown): x is FixData {
  return typeof x === "object" && x !== null && typeof (x as FixData).title === "string" && typeof (x as FixData).changes === "object";
}

export function codeActions(ws: Workspace, a: Analysis, params: CodeActionParams): CodeAction[] {
  const only = params.context.only;
  if (only && !only.some((k) => k === CodeActionKind.QuickFix || CodeActionKind.QuickFix.startsWith(`${k}.`) || k === CodeActionKind.Empty)) return [];
  const out: CodeAction[] = [];
  for (const d of params.context.diagnostics) {
    const core = a.result.diagnostics.find((c) => c.uri === a.file && c.code === d.code && c.fix && sameRange(toRange(a.lines, c.span), d.range));
    const fix = core?.fix ? fixToLsp(ws, a, core.fix) : (d.data as { fix?: unknown } | undefined)?.fix;
    if (!isFixData(fix)) continue;
    out.push({ title: fix.title, kind: CodeActionKind.QuickFix, diagnostics: [d], isPreferred: true, edit: { changes: fix.changes } });
  }
  return out;
}
