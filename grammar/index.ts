/**
 * Public surface of the grammar: `parse`, the AST and source vocabulary, and the token
 * classification used by editors.
 */
export * from "./ast.js";
export * from "./source.js";
export { parse } from "./parse.js";
export type { ParseResult } from "./parse.js";
export { KEYWORDS, lexTokens } from "./tokens.js";
export type { LexKind, LexToken } from "./tokens.js";
