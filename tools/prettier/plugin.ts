/**
 * The prettier plugin for `.spk` files: language `spk`, parser `spk`, printer `spk-ast`.
 *
 * The parser is the project's own (`grammar/parse.ts`). A document with syntax errors
 * (any SPK0xx diagnostic) is refused with a SyntaxError carrying prettier's `loc`, so
 * prettier prints a code frame; the formatter never guesses at a broken tree.
 *
 * Load it from TypeScript directly, or through `plugin.mjs` (which registers tsx) from a
 * prettier configuration.
 */
import type { AstPath, Doc, Parser, ParserOptions, Plugin, Printer, SupportLanguage } from "prettier";
import { parse } from "../../grammar/parse.js";
import { LineIndex } from "../../grammar/source.js";
import type { Diagnostic } from "../../grammar/source.js";
import { printSpkFile } from "./printer.js";
import type { SpkRoot } from "./printer.js";

export type { SpkRoot } from "./printer.js";

/** A syntax error as prettier expects parsers to throw it (1-based line and column). */
export class SpkSyntaxError extends SyntaxError {
  readonly loc: { readonly start: { readonly line: number; readonly column: number } };
  readonly diagnostics: readonly Diagnostic[];
  constructor(message: string, line: number, column: number, diagnostics: readonly Diagnostic[]) {
    super(`${message} (${line}:${column})`);
    this.name = "SyntaxError";
    this.loc = { start: { line, column } };
    this.diagnostics = diagnostics;
  }
}

/** Diagnostics that make a document unformattable: the grammar's (SPK0xx). */
export function syntaxDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  return diagnostics.filter((d) => d.severity === "error" && /^SPK0\d\d$/.test(d.code));
}

export function parseSpk(text: string, filepath = "<input>.spk"): SpkRoot {
  const { file, diagnostics } = parse(text, filepath);
  const errors = syntaxDiagnostics(diagnostics);
  const first = errors[0];
  if (first) {
    const p = new LineIndex(text).position(first.span.start);
    throw new SpkSyntaxError(`${first.code}: ${first.message}`, p.line + 1, p.character + 1, errors);
  }
  return { type: "spk-root", file, text, start: 0, end: text.length };
}

export const languages: SupportLanguage[] = [
  {
    name: "spk",
    parsers: ["spk"],
    extensions: [".spk"],
    vscodeLanguageIds: ["spk"],
  },
];

const spkParser: Parser<SpkRoot> = {
  parse: (text: string, options: ParserOptions<SpkRoot>) => parseSpk(text, options.filepath),
  astFormat: "spk-ast",
  locStart: (node: SpkRoot) => node.start,
  locEnd: (node: SpkRoot) => node.end,
};

export const parsers: Record<string, Parser<SpkRoot>> = { spk: spkParser };

const spkPrinter: Printer<SpkRoot> = {
  print(path: AstPath<SpkRoot>): Doc {
    const root = path.node;
    return printSpkFile(root.file, root.text);
  },
};

export const printers: Record<string, Printer<SpkRoot>> = { "spk-ast": spkPrinter };

/** Prettier's core defaults, changed for `.spk` files only. */
export const defaultOptions: Plugin["defaultOptions"] = { printWidth: 100, tabWidth: 2 };

const plugin: Plugin<SpkRoot> = { languages, parsers, printers, defaultOptions };
export default plugin;
