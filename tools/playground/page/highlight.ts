/**
 * Syntax highlighting for the editor: the VS Code extension's TextMate grammar
 * (tools/vscode/syntaxes/spk.tmLanguage.json) itself, tokenized by vscode-textmate, drives a
 * CodeMirror stream language, so the two editors cannot disagree on where a token starts or
 * what it is. Each TextMate token's scopes map to one style class (`SCOPE_CLASSES`), the way a
 * VS Code colour theme maps scopes to colours.
 *
 * This module takes a loaded grammar; loading it (the oniguruma WebAssembly) is the caller's
 * job, the page's from a bundled URL and the tests' from node_modules.
 */
import { StreamLanguage, type StringStream } from "@codemirror/language";
import { Tag, tagHighlighter, tags } from "@lezer/highlight";
import type { IGrammar, IToken, StateStack } from "vscode-textmate";

/**
 * Scope name prefixes (dot-segment prefixes, the longest wins) to a style class; `null` means
 * "no style of its own: use the enclosing scope's" (the quotes of a string look like the
 * string). A token takes the class of its innermost scope that has one.
 */
export const SCOPE_CLASSES: Readonly<Record<string, string | null>> = {
  "comment.line.documentation": "doc-comment",
  comment: "comment",
  "punctuation.definition.comment": null,
  string: "string",
  "punctuation.definition.string": null,
  "constant.character.escape": "escape",
  "meta.type.shape": null,
  "storage.type.primitive": "type",
  "punctuation.definition.shape": "bracket",
  "entity.name.type.dimension": "dimension",
  "storage.type": "keyword",
  "keyword.control": "control",
  "entity.name.type": "declaration",
  "entity.name.constant": "constant",
  "variable.other.member": "member",
  "variable.other.local": "local",
  "constant.language": "boolean",
  "constant.numeric": "number",
  "support.function.builtin": "builtin",
  "support.class.prelude": "prelude",
  "support.function.initialiser": "initialiser",
  "variable.parameter": "parameter",
  "entity.name.function.call": "call",
  "keyword.operator": "operator",
  "punctuation.separator": "punctuation",
  "punctuation.terminator": "punctuation",
  "punctuation.bracket": "bracket",
  source: null,
};

/** The style class of one scope name, or undefined when no prefix in the table covers it. */
function classOfScope(scope: string): string | null | undefined {
  const parts = scope.replace(/\.spk$/, "").split(".");
  for (let n = parts.length; n > 0; n--) {
    const key = parts.slice(0, n).join(".");
    if (key in SCOPE_CLASSES) return SCOPE_CLASSES[key];
  }
  return undefined;
}

/** The style class of a TextMate token (its scopes, outermost first), or null for plain text. */
export function classOfScopes(scopes: readonly string[]): string | null {
  for (let i = scopes.length - 1; i >= 0; i--) {
    const c = classOfScope(scopes[i]!);
    if (c) return c;
  }
  return null;
}

/** The CSS class the editor puts on a token of a style class. */
export const cssClass = (styleClass: string) => `spk-${styleClass}`;

/** Every style class, with the standard lezer tag it also carries (so other themes still colour it). */
const PARENT_TAG: Readonly<Record<string, Tag>> = {
  "doc-comment": tags.docComment,
  comment: tags.lineComment,
  string: tags.string,
  escape: tags.escape,
  type: tags.typeName,
  bracket: tags.bracket,
  dimension: tags.special(tags.variableName),
  keyword: tags.definitionKeyword,
  control: tags.controlKeyword,
  declaration: tags.definition(tags.className),
  constant: tags.definition(tags.constant(tags.variableName)),
  member: tags.definition(tags.propertyName),
  local: tags.definition(tags.variableName),
  boolean: tags.bool,
  number: tags.number,
  builtin: tags.standard(tags.function(tags.variableName)),
  prelude: tags.standard(tags.className),
  initialiser: tags.standard(tags.variableName),
  parameter: tags.attributeName,
  call: tags.function(tags.variableName),
  operator: tags.operator,
  punctuation: tags.punctuation,
};
const STYLE_TAGS: Readonly<Record<string, Tag>> = Object.fromEntries(Object.keys(PARENT_TAG).map((name) => [name, Tag.define()]));
/** Each token gets its own tag (for the class) and the standard one. */
const TOKEN_TABLE: Readonly<Record<string, readonly Tag[]>> = Object.fromEntries(Object.entries(PARENT_TAG).map(([name, standard]) => [cssClass(name), [STYLE_TAGS[name]!, standard]]));


/** Puts `spk-<class>` on each highlighted token (page/style.css colours them, close to VS Code's Light+). */
export const spkHighlighter = tagHighlighter(Object.entries(STYLE_TAGS).map(([name, tag]) => ({ tag, class: cssClass(name) })));

interface LineState {
  /** The grammar's state at the end of the lines before this one (after it, once tokenized). */
  stack: StateStack;
  /** The current line's tokens, while the stream walks it. */
  tokens: readonly IToken[];
  next: number;
}

/** A CodeMirror language that tokenizes each line with the TextMate grammar. */
export function spkLanguage(grammar: IGrammar, initial: StateStack): StreamLanguage<LineState> {
  return StreamLanguage.define<LineState>({
    name: "spk",
    startState: () => ({ stack: initial, tokens: [], next: 0 }),
    copyState: (s) => ({ ...s }),
    blankLine: (s) => {
      s.stack = grammar.tokenizeLine("", s.stack).ruleStack;
    },
    token: (stream: StringStream, s: LineState) => {
      if (stream.sol()) {
        const r = grammar.tokenizeLine(stream.string, s.stack);
        s.stack = r.ruleStack;
        s.tokens = r.tokens;
        s.next = 0;
      }
      // The token that covers the stream's position (TextMate tokens tile the line).
      while (s.next < s.tokens.length - 1 && s.tokens[s.next]!.endIndex <= stream.pos) s.next++;
      const t = s.tokens[s.next];
      const end = t ? Math.min(Math.max(t.endIndex, stream.pos + 1), stream.string.length) : stream.string.length;
      stream.pos = end;
      // Token names are the CSS classes: plain names like "type" or "builtin" are CodeMirror 5 legacy names.
      const c = t ? classOfScopes(t.scopes) : null;
      return c ? cssClass(c) : null;
    },
    tokenTable: TOKEN_TABLE,
    languageData: { commentTokens: { line: "//" } },
  });
}
