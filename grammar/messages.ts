/**
 * Syntax error messages in plain words: "expected X, found Y".
 *
 * This module owns the wording of every SPK002 message. It is Chevrotain's error message
 * provider for `SpkParser`; token types are spelled as the user writes them (`)`, `neuron`),
 * never by their internal names, and the grammar rule in which the error happened picks the
 * phrase that says what was being parsed ("to close the argument list").
 */
import type { IParserErrorMessageProvider, IToken, TokenType } from "chevrotain";
import { EOF } from "chevrotain";
import { Colon, Ident, LBrace, LBracket, LParen, RBrace, RBracket, RParen, StringLit, tokenSpelling } from "./tokens.js";

const DECLARATION = "a declaration (`neuron`, `layer`, `model`, `const` or `import`)";
const NEURON_MEMBER = "a neuron member (`state`, `amplitude` or `step`)";
const MODULE_MEMBER = "a member (`weight`, `timesteps`, `forward` or a field `name = ...`)";
const STATEMENT = "a statement (`let`, `emit`, `return` or an assignment `name = ...`)";
const EXPRESSION = "an expression";

/** How the offending token reads in a message. */
function describeFound(token: IToken | undefined): string {
  if (token === undefined || token.tokenType === EOF || !Number.isFinite(token.startOffset)) return "end of input";
  let image = token.image.replace(/[\r\n\t]/g, " ");
  if (image.length > 24) image = image.slice(0, 21) + "...";
  return image.includes("`") ? `'${image}'` : "`" + image + "`";
}

/** What a rule expected when it met a token that cannot start any of its alternatives. */
const NO_VIABLE_ALT: Readonly<Record<string, string>> = {
  file: DECLARATION,
  neuronMember: NEURON_MEMBER,
  moduleMember: MODULE_MEMBER,
  stmt: STATEMENT,
  expression: EXPRESSION,
  term: EXPRESSION,
  unary: EXPRESSION,
  postfix: EXPRESSION,
  primary: EXPRESSION,
  arg: "an argument",
  indexItem: "an index or a slice `a:b`",
  dim: "a dimension or `...`",
  type: "`f32`, `int` or `[`",
  moduleDecl: "`layer` or `model`",
};

/** The phrase that says why a specific token was expected inside a rule. */
function purpose(expected: TokenType, rule: string): string {
  switch (expected) {
    case RParen:
      if (rule === "callArgs") return " to close the argument list";
      if (rule === "params" || rule === "typedParams") return " to close the parameter list";
      if (rule === "primary") return " to close the parenthesis";
      return "";
    case RBracket:
      if (rule === "indexArgs") return " to close the index";
      if (rule === "type") return " to close the shape";
      if (rule === "amplitudeDecl") return " to close the amplitude's axis";
      return "";
    case LBrace:
      if (rule === "neuronDecl") return " to start the neuron's body";
      if (rule === "moduleDecl") return " to start the body";
      if (rule === "block") return " to start the block";
      if (rule === "repeatExpr") return " to start the body of `repeat`";
      return "";
    case RBrace:
      if (rule === "repeatExpr") return " to close the body of `repeat`";
      return "";
    case LBracket:
      if (rule === "type") return " to start a shape";
      if (rule === "amplitudeDecl") return " and the amplitude's axis";
      return "";
    case LParen:
      if (rule === "params" || rule === "typedParams") return " to start the parameter list";
      return "";
    case Colon:
      if (rule === "weightDecl") return " and the weight's shape";
      return "";
  }
  return "";
}

function expectedMismatch(expected: TokenType, rule: string): string {
  if (expected === EOF) return DECLARATION;
  if (expected === RBrace) {
    if (rule === "neuronDecl") return `${NEURON_MEMBER} or \`}\` to close the neuron`;
    if (rule === "moduleDecl") return `${MODULE_MEMBER} or \`}\` to close the body`;
    if (rule === "block") return `${STATEMENT} or \`}\` to close the block`;
  }
  if (expected === StringLit && rule === "importDecl") return "the path to import, as a string";
  if (expected === Ident) {
    if (rule === "amplitudeDecl") return "a name (the amplitude's name or its time axis)";
    if (rule === "neuronDecl") return "the neuron's name";
    if (rule === "moduleDecl") return "a name for the layer or model";
    if (rule === "constDecl") return "the constant's name";
    if (rule === "params" || rule === "typedParams" || rule === "param" || rule === "typedParam") return "a parameter name";
  }
  return tokenSpelling(expected) + purpose(expected, rule);
}

/** Distinct first tokens of the given paths, spelled and joined: "`a`, `b` or `c`". */
function listFirsts(paths: readonly (readonly TokenType[])[]): string {
  const names: string[] = [];
  for (const path of paths) {
    const first = path[0];
    if (first === undefined) continue;
    const name = tokenSpelling(first);
    if (!names.includes(name)) names.push(name);
  }
  if (names.length === 0) return "something else";
  if (names.length === 1) return names[0]!;
  return names.slice(0, -1).join(", ") + " or " + names[names.length - 1]!;
}

export const spkErrorMessages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual, ruleName }) {
    return `expected ${expectedMismatch(expected, ruleName)}, found ${describeFound(actual)}`;
  },
  buildNotAllInputParsedMessage({ firstRedundant }) {
    return `expected ${DECLARATION}, found ${describeFound(firstRedundant)}`;
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, actual, ruleName }) {
    const what = NO_VIABLE_ALT[ruleName] ?? listFirsts(expectedPathsPerAlt.flat());
    return `expected ${what}, found ${describeFound(actual[0])}`;
  },
  buildEarlyExitMessage({ expectedIterationPaths, actual, ruleName }) {
    const what = NO_VIABLE_ALT[ruleName] ?? listFirsts(expectedIterationPaths);
    return `expected ${what}, found ${describeFound(actual[0])}`;
  },
};
