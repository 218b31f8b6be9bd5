/**
 * Semantic tokens (full document): lexical classes from `lexTokens`, and identifiers
 * classified by what they resolve to, using the checker's RefRecords: neurons, layers and
 * models are classes, builtins functions, constructor and body parameters parameters,
 * fields/weights/states/amplitudes properties, shape names type parameters, lets variables.
 */
import type { SemanticTokens, SemanticTokensLegend } from "vscode-languageserver";
import { SemanticTokensBuilder } from "vscode-languageserver";
import type { Span } from "../../grammar/source.js";
import { isStdlib, builtinDoc } from "./describe.js";
import { spanKey } from "./locations.js";
import { type Def, type DefKind, defAtSpan, indexFile, tokensOf } from "./syntax.js";
import type { Analysis } from "./workspace.js";

const TOKEN_TYPES = [
  "keyword",
  "type",
  "class",
  "function",
  "parameter",
  "variable",
  "property",
  "typeParameter",
  "number",
  "string",
  "comment",
  "operator",
] as const;
const TOKEN_MODIFIERS = ["declaration", "readonly", "defaultLibrary", "documentation"] as const;

type TokenType = (typeof TOKEN_TYPES)[number];
type TokenModifier = (typeof TOKEN_MODIFIERS)[number];

export const LEGEND: SemanticTokensLegend = { tokenTypes: [...TOKEN_TYPES], tokenModifiers: [...TOKEN_MODIFIERS] };

const TYPE_OF_DEF: Record<DefKind, TokenType> = {
  neuron: "class",
  layer: "class",
  model: "class",
  const: "variable",
  param: "parameter",
  input: "parameter",
  state: "property",
  amplitude: "property",
  weight: "property",
  field: "property",
  timesteps: "typeParameter",
  let: "variable",
  shape: "typeParameter",
};

const typeIndex = (t: TokenType) => TOKEN_TYPES.indexOf(t);
const modBits = (mods: readonly TokenModifier[]) => mods.reduce((bits, m) => bits | (1 << TOKEN_MODIFIERS.indexOf(m)), 0);

function classifyDef(def: Def, mods: TokenModifier[]): TokenType {
  if (def.kind === "const" || def.kind === "param" || def.kind === "timesteps") mods.push("readonly");
  return TYPE_OF_DEF[def.kind];
}

export function semanticTokens(a: Analysis): SemanticTokens {
  const index = indexFile(a.parsed.ast);
  const refs = new Map<string, { file: string; span: Span }>();
  for (const r of a.result.refs) if (r.uri === a.file) refs.set(spanKey(a.file, r.span), { file: r.target.uri, span: r.target.span });
  const inType = (s: Span) => index.typeSpans.some((t) => t.start <= s.start && s.end <= t.end);

  const builder = new SemanticTokensBuilder();
  const push = (span: Span, type: TokenType, mods: TokenModifier[] = []) => {
    // Tokens never span lines here (comments and strings end at the line's end).
    const p = a.lines.position(span.start);
    builder.push(p.line, p.character, span.end - span.start, typeIndex(type), modBits(mods));
  };
  for (const t of tokensOf(a.text)) {
    switch (t.kind) {
      case "keyword":
      case "bool":
        push(t.span, "keyword");
        break;
      case "type":
        push(t.span, "type");
        break;
      case "number":
        push(t.span, "number");
        break;
      case "string":
        push(t.span, "string");
        break;
      case "comment":
        push(t.span, "comment");
        break;
      case "doc":
        push(t.span, "comment", ["documentation"]);
        break;
      case "operator":
        push(t.span, "operator");
        break;
      case "ident": {
        const mods: TokenModifier[] = [];
        const own = defAtSpan(a.parsed.ast, t.span);
        if (own) {
          mods.push("declaration");
          push(t.span, classifyDef(own, mods), mods);
          break;
        }
        const target = refs.get(spanKey(a.file, t.span));
        const targetAst = target && a.program.files.get(target.file)?.ast;
        const def = target && targetAst && defAtSpan(targetAst, target.span);
        if (target && def) {
          if (isStdlib(target.file)) mods.push("defaultLibrary");
          push(t.span, classifyDef(def, mods), mods);
          break;
        }
        if (inType(t.span)) push(t.span, "typeParameter");
        else if (builtinDoc(a.text.slice(t.span.start, t.span.end))) push(t.span, "function", ["defaultLibrary"]);
        else push(t.span, "variable");
        break;
      }
      default:
        break;
    }
  }
  return builder.build();
}
