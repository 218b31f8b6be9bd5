/**
 * Document symbols: imports and declarations, each declaration with its parameters and
 * members (states, amplitudes, fields, weights, timesteps, step/forward) as children.
 */
import type { DocumentSymbol } from "vscode-languageserver";
import { SymbolKind } from "vscode-languageserver";
import type { Decl } from "../../grammar/ast.js";
import type { LineIndex, Span } from "../../grammar/source.js";
import { bodySignature, declSignature, slice } from "./describe.js";
import { toRange } from "./locations.js";
import type { Analysis } from "./workspace.js";

function symbol(lines: LineIndex, name: string, kind: SymbolKind, span: Span, nameSpan: Span, detail?: string, children?: DocumentSymbol[]): DocumentSymbol {
  // LSP requires the selection range to lie inside the full range.
  const sel = nameSpan.start >= span.start && nameSpan.end <= span.end ? nameSpan : { start: span.start, end: span.start };
  const s: DocumentSymbol = { name: name || "(missing name)", kind, range: toRange(lines, span), selectionRange: toRange(lines, sel) };
  if (detail) s.detail = detail;
  if (children) s.children = children;
  return s;
}

function declSymbol(lines: LineIndex, text: string, d: Decl): DocumentSymbol {
  if (d.kind === "Const") return symbol(lines, d.name.name, SymbolKind.Constant, d.span, d.name.span, slice(text, d.value.span));
  const children: DocumentSymbol[] = d.params.map((p) =>
    symbol(lines, p.name.name, SymbolKind.Variable, p.span, p.name.span, p.default ? `= ${slice(text, p.default.span)}` : "parameter"),
  );
  for (const m of d.members) {
    switch (m.kind) {
      case "State":
        children.push(symbol(lines, m.name.name, SymbolKind.Field, m.span, m.name.span, "state"));
        break;
      case "Amplitude":
        children.push(symbol(lines, m.name.name, SymbolKind.Field, m.span, m.name.span, "amplitude"));
        break;
      case "Field":
        children.push(symbol(lines, m.name.name, SymbolKind.Property, m.span, m.name.span, slice(text, m.value.span)));
        break;
      case "Weight":
        children.push(symbol(lines, m.name.name, SymbolKind.Field, m.span, m.name.span, `weight ${slice(text, m.type.span)}`));
        break;
      case "Timesteps":
        children.push(symbol(lines, m.name.name, SymbolKind.Constant, m.span, m.name.name ? m.name.span : m.span, "timesteps"));
        break;
      case "Step":
      case "Forward":
        children.push(symbol(lines, m.kind === "Step" ? "step" : "forward", SymbolKind.Method, m.span, { start: m.span.start, end: m.span.start + (m.kind === "Step" ? 4 : 7) }, bodySignature(m, text)));
        break;
    }
  }
  return symbol(lines, d.name.name, SymbolKind.Class, d.span, d.name.span, declSignature(d, text), children);
}

export function documentSymbols(a: Analysis): DocumentSymbol[] {
  const out: DocumentSymbol[] = a.parsed.ast.imports.map((i) => symbol(a.lines, i.path || "import", SymbolKind.Module, i.span, i.pathSpan, "import"));
  for (const d of a.parsed.ast.decls) out.push(declSymbol(a.lines, a.text, d));
  return out;
}
