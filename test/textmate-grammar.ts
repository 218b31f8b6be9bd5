/**
 * The VS Code extension's TextMate grammar (tools/vscode/syntaxes/spk.tmLanguage.json) loaded
 * by vscode-textmate on the oniguruma wasm: the tokenizer both the extension's grammar tests
 * and the playground's highlighting tests compare against.
 */
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import type { IGrammar } from "vscode-textmate";
import { REPO } from "./helpers.js";

const require = createRequire(import.meta.url);
export const vsctm = require("vscode-textmate") as typeof import("vscode-textmate");
const onig = require("vscode-oniguruma") as typeof import("vscode-oniguruma");

export const SPK_GRAMMAR = path.join(REPO, "tools/vscode/syntaxes/spk.tmLanguage.json");

/** The grammar of `source.spk`, ready to tokenize (loads the oniguruma wasm first). */
export async function loadSpkGrammar(): Promise<IGrammar> {
  const wasm = fs.readFileSync(require.resolve("vscode-oniguruma/release/onig.wasm"));
  await onig.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns: string[]) => new onig.OnigScanner(patterns),
      createOnigString: (s: string) => new onig.OnigString(s),
    }),
    loadGrammar: async (scopeName: string) => (scopeName === "source.spk" ? vsctm.parseRawGrammar(fs.readFileSync(SPK_GRAMMAR, "utf8"), SPK_GRAMMAR) : null),
  });
  const g = await registry.loadGrammar("source.spk");
  if (!g) throw new Error("the grammar did not load");
  return g;
}
