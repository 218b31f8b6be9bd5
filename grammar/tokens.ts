/**
 * Tokens of the `.spk` language: the Chevrotain token types, the lexer, and `lexTokens`, a
 * never-throwing classification of a document's tokens for semantic highlighting and the
 * TextMate grammar test.
 *
 * This module owns what a token is (spelling, keywords, literals, comments). It knows nothing
 * about the grammar that arranges tokens.
 */
import { createToken, Lexer } from "chevrotain";
import type { ILexingResult, TokenType } from "chevrotain";
import type { Span } from "./source.js";

/** Every reserved word, in the order the language reference lists them. */
export const KEYWORDS: readonly string[] = [
  "import",
  "const",
  "neuron",
  "layer",
  "model",
  "state",
  "amplitude",
  "step",
  "weight",
  "timesteps",
  "forward",
  "let",
  "emit",
  "return",
  "repeat",
  "true",
  "false",
  "f32",
  "int",
];

// ---------------------------------------------------------------------------------------
// Trivia

const WhiteSpace = createToken({
  name: "WhiteSpace",
  pattern: /[ \t\r\n\f\v\uFEFF]+/,
  group: Lexer.SKIPPED,
});
/** `/// ...` up to the end of the line. */
export const DocComment = createToken({ name: "DocComment", pattern: /\/\/\/[^\r\n]*/, group: "comments" });
/** `// ...` up to the end of the line. */
const LineComment = createToken({ name: "LineComment", pattern: /\/\/[^\r\n]*/, group: "comments" });

// ---------------------------------------------------------------------------------------
// Literals and names

export const Ident = createToken({ name: "Ident", pattern: /[A-Za-z_][A-Za-z0-9_]*/ });
/** A complete string literal; also the category the parser consumes, so that an unterminated one parses too. */
export const StringLit = createToken({ name: "StringLit", pattern: /"(?:[^"\\\r\n]|\\[^\r\n])*"/ });
/** A string that reaches the end of its line (or of the input) without a closing quote. */
export const UnterminatedString = createToken({
  name: "UnterminatedString",
  pattern: /"(?:[^"\\\r\n]|\\[^\r\n])*\\?/,
  categories: [StringLit],
});
export const NumberLit = createToken({
  name: "NumberLit",
  pattern: /(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?/,
});

// ---------------------------------------------------------------------------------------
// Keywords

function keyword(word: string): TokenType {
  const name = "Kw" + word.charAt(0).toUpperCase() + word.slice(1);
  return createToken({ name, pattern: new RegExp(word), longer_alt: Ident });
}

export const Import = keyword("import");
export const Const = keyword("const");
export const Neuron = keyword("neuron");
export const Layer = keyword("layer");
export const Model = keyword("model");
export const State = keyword("state");
export const Amplitude = keyword("amplitude");
export const Step = keyword("step");
export const Weight = keyword("weight");
export const Timesteps = keyword("timesteps");
export const Forward = keyword("forward");
export const Let = keyword("let");
export const Emit = keyword("emit");
export const Return = keyword("return");
export const Repeat = keyword("repeat");
export const True = keyword("true");
export const False = keyword("false");
export const F32 = keyword("f32");
export const Int = keyword("int");

const keywordTokens: readonly TokenType[] = [
  Import,
  Const,
  Neuron,
  Layer,
  Model,
  State,
  Amplitude,
  Step,
  Weight,
  Timesteps,
  Forward,
  Let,
  Emit,
  Return,
  Repeat,
  True,
  False,
  F32,
  Int,
];

// ---------------------------------------------------------------------------------------
// Operators and punctuation

export const Arrow = createToken({ name: "Arrow", pattern: /->/ });
export const Ellipsis = createToken({ name: "Ellipsis", pattern: /\.\.\./ });
/** `word.table`: a field's parameter (after `...` and numbers, so `.5` stays a number). */
export const Dot = createToken({ name: "Dot", pattern: /\./ });
export const Plus = createToken({ name: "Plus", pattern: /\+/ });
export const Minus = createToken({ name: "Minus", pattern: /-/ });
export const Star = createToken({ name: "Star", pattern: /\*/ });
export const Slash = createToken({ name: "Slash", pattern: /\// });
export const At = createToken({ name: "At", pattern: /@/ });
export const Equals = createToken({ name: "Equals", pattern: /=/ });
export const Colon = createToken({ name: "Colon", pattern: /:/ });
export const Comma = createToken({ name: "Comma", pattern: /,/ });
export const Semi = createToken({ name: "Semi", pattern: /;/ });
export const LParen = createToken({ name: "LParen", pattern: /\(/ });
export const RParen = createToken({ name: "RParen", pattern: /\)/ });
export const LBrace = createToken({ name: "LBrace", pattern: /\{/ });
export const RBrace = createToken({ name: "RBrace", pattern: /\}/ });
export const LBracket = createToken({ name: "LBracket", pattern: /\[/ });
export const RBracket = createToken({ name: "RBracket", pattern: /\]/ });

/** Lexer order: comments before `/`, `...` before numbers, `->` before `-`, keywords before names. */
export const allTokens: readonly TokenType[] = [
  WhiteSpace,
  DocComment,
  LineComment,
  StringLit,
  UnterminatedString,
  Ellipsis,
  NumberLit,
  Arrow,
  ...keywordTokens,
  Ident,
  Plus,
  Minus,
  Star,
  Slash,
  At,
  Equals,
  Colon,
  Comma,
  Semi,
  LParen,
  RParen,
  LBrace,
  RBrace,
  LBracket,
  RBracket,
  Dot,
];

/** How each token is spelled in messages (`)`), or described when it has no fixed spelling. */
export function tokenSpelling(t: TokenType): string {
  switch (t) {
    case Ident:
      return "a name";
    case StringLit:
    case UnterminatedString:
      return "a string";
    case NumberLit:
      return "a number";
  }
  if (t.name === "EOF") return "end of input";
  const pattern = t.PATTERN;
  if (pattern instanceof RegExp) return "`" + pattern.source.replace(/\\(.)/g, "$1") + "`";
  return t.name;
}

// ---------------------------------------------------------------------------------------
// The lexer

let lexer: Lexer | undefined;

function getLexer(): Lexer {
  lexer ??= new Lexer(allTokens as TokenType[], { positionTracking: "onlyOffset", ensureOptimizations: false });
  return lexer;
}

/** Runs the Chevrotain lexer. May throw only on internal errors; `parse` and `lexTokens` guard it. */
export function tokenize(text: string): ILexingResult {
  try {
    return getLexer().tokenize(text);
  } catch (e) {
    lexer = undefined; // never reuse a lexer that failed half-way
    throw e;
  }
}

/** The value of a string literal token: quotes removed, `\"` and `\\` unescaped. */
export function stringValue(image: string): string {
  let body = image.startsWith('"') ? image.slice(1) : image;
  if (body.length > 0 && body.endsWith('"') && !isEscaped(body, body.length - 1)) body = body.slice(0, -1);
  return body.replace(/\\(["\\])/g, "$1");
}

function isEscaped(s: string, index: number): boolean {
  let backslashes = 0;
  for (let i = index - 1; i >= 0 && s.charCodeAt(i) === 92; i--) backslashes++;
  return backslashes % 2 === 1;
}

/** Whether only blanks (spaces, tabs) separate `offset` from the start of its line. */
export function startsLine(text: string, offset: number): boolean {
  for (let i = offset - 1; i >= 0; i--) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) return true;
    if (!isBlank(c)) return false;
  }
  return true;
}

export function isBlank(c: number): boolean {
  return c === 32 || c === 9 || c === 12 || c === 11 || c === 0xfeff;
}

// ---------------------------------------------------------------------------------------
// Token classification for editors

export type LexKind = "keyword" | "ident" | "number" | "string" | "operator" | "punct" | "comment" | "doc" | "type" | "bool";

export interface LexToken {
  readonly kind: LexKind;
  readonly span: Span;
}

const kindOf = new Map<TokenType, LexKind>([
  [DocComment, "doc"],
  [LineComment, "comment"],
  [Ident, "ident"],
  [StringLit, "string"],
  [UnterminatedString, "string"],
  [NumberLit, "number"],
  [True, "bool"],
  [False, "bool"],
  [F32, "type"],
  [Int, "type"],
  [Arrow, "operator"],
  [Plus, "operator"],
  [Minus, "operator"],
  [Star, "operator"],
  [Slash, "operator"],
  [At, "operator"],
  [Equals, "operator"],
  [Ellipsis, "punct"],
  [Dot, "punct"],
  [Colon, "punct"],
  [Comma, "punct"],
  [Semi, "punct"],
  [LParen, "punct"],
  [RParen, "punct"],
  [LBrace, "punct"],
  [RBrace, "punct"],
  [LBracket, "punct"],
  [RBracket, "punct"],
]);
for (const k of keywordTokens) if (!kindOf.has(k)) kindOf.set(k, "keyword");

/**
 * Every token and comment of `text` in source order, classified. Characters the lexer cannot
 * read are skipped. Never throws: on an internal error the result is empty.
 */
export function lexTokens(text: string): LexToken[] {
  try {
    const result = tokenize(text);
    const all = [...result.tokens, ...(result.groups["comments"] ?? [])];
    all.sort((a, b) => a.startOffset - b.startOffset);
    const out: LexToken[] = [];
    for (const t of all) {
      const kind = kindOf.get(t.tokenType);
      const start = t.startOffset;
      const end = start + t.image.length;
      if (kind === undefined || !(start >= 0 && end <= text.length)) continue;
      out.push({ kind, span: { start, end } });
    }
    return out;
  } catch {
    return [];
  }
}
