/**
 * Document formatting through the project's formatter, `formatSpk(text)` from tools/prettier/
 * (printer.ts or plugin.ts). The module is imported lazily and optionally: if it is missing or
 * fails to load, formatting returns no edits and the server keeps working. A document the
 * formatter rejects (syntax errors) is left alone.
 */
import type { TextEdit } from "vscode-languageserver";
import type { Analysis } from "./workspace.js";

export type FormatFn = (text: string) => string | Promise<string>;

// Specifiers are built at run time so the type checker does not require the module to exist.
const CANDIDATES = ["../prettier/printer.js", "../prettier/plugin.js", "../prettier/index.js"];

let loaded: Promise<FormatFn | undefined> | undefined;

/**
 * Formats with `format` rather than looking for tools/prettier/ at run time (a bundle, such
 * as the playground's LSP worker, imports the formatter statically and hands it over).
 */
export function useFormatter(format: FormatFn): void {
  loaded = Promise.resolve(format);
}

export function loadFormatter(log: (message: string) => void): Promise<FormatFn | undefined> {
  loaded ??= (async () => {
    for (const spec of CANDIDATES) {
      try {
        const mod = (await import(new URL(spec, import.meta.url).href)) as Record<string, unknown>;
        const fn = mod["formatSpk"] ?? (mod["default"] as Record<string, unknown> | undefined)?.["formatSpk"];
        if (typeof fn === "function") return fn as FormatFn;
      } catch {
        // try the next candidate
      }
    }
    log("spikelm: formatting is unavailable (no formatSpk in tools/prettier/)");
    return undefined;
  })();
  return loaded;
}

export async function formatting(a: Analysis, log: (message: string) => void): Promise<TextEdit[]> {
  const format = await loadFormatter(log);
  if (!format) return [];
  let formatted: string;
  try {
    formatted = await format(a.text);
  } catch (e) {
    log(`spikelm: the formatter left the document unchanged: ${e instanceof Error ? e.message : String(e)}`);
    return [];
  }
  if (typeof formatted !== "string" || formatted === a.text) return [];
  return [{ range: { start: { line: 0, character: 0 }, end: a.lines.position(a.text.length) }, newText: formatted }];
}
