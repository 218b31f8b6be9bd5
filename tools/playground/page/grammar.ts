/**
 * Loads the VS Code extension's TextMate grammar in the browser: vscode-textmate with the
 * oniguruma regular expressions compiled to WebAssembly (both bundled; nothing is fetched from
 * elsewhere), and returns the editor language built on it (highlight.ts).
 */
import * as onig from "vscode-oniguruma";
import onigWasmUrl from "vscode-oniguruma/release/onig.wasm?url";
import * as vsctm from "vscode-textmate";
import grammarText from "../../vscode/syntaxes/spk.tmLanguage.json?raw";
import { spkLanguage } from "./highlight.js";

export async function loadSpkLanguage() {
  const wasm = await (await fetch(onigWasmUrl)).arrayBuffer();
  await onig.loadWASM(wasm);
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (patterns: string[]) => new onig.OnigScanner(patterns),
      createOnigString: (s: string) => new onig.OnigString(s),
    }),
    loadGrammar: async (scopeName: string) => (scopeName === "source.spk" ? vsctm.parseRawGrammar(grammarText, "spk.tmLanguage.json") : null),
  });
  const grammar = await registry.loadGrammar("source.spk");
  if (!grammar) throw new Error("the spk grammar did not load");
  return spkLanguage(grammar, vsctm.INITIAL);
}
