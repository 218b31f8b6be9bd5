/**
 * The playground's workers bundle for the browser with vite (the `browser` condition, as the
 * page's build resolves them): `#platform` is the browser layer, and no Node built-in reaches
 * the bundle (vite would replace it with an empty stub that throws when used). The one known
 * exception is wabt's Emscripten loader, which names `fs` only on its Node branch.
 */
import * as path from "node:path";
import { build, type Rollup } from "vite";
import { describe, expect, it } from "vitest";
import { REPO } from "./helpers.js";

const WORKERS = { "run-worker": "tools/playground/workers/run-worker.ts", "lsp-worker": "tools/playground/workers/lsp-worker.ts" };
/** `Module "fs" has been externalized ..., imported by ".../node_modules/wabt/index.js"`. */
const KNOWN = /Module "fs" has been externalized for browser compatibility, imported by "[^"]*node_modules\/wabt\/index\.js"/;

describe("the playground workers' browser bundle", () => {
  it("has the browser platform layer and no Node built-ins", { timeout: 300_000 }, async () => {
    const warnings: string[] = [];
    const capture = (msg: string) => void warnings.push(msg);
    const result = (await build({
      configFile: false,
      root: REPO,
      logLevel: "warn",
      customLogger: { info: () => undefined, warn: capture, warnOnce: capture, error: capture, clearScreen: () => undefined, hasErrorLogged: () => false, hasWarned: false },
      build: { write: false, target: "es2022", minify: false, rollupOptions: { input: Object.fromEntries(Object.entries(WORKERS).map(([k, v]) => [k, path.join(REPO, v)])) } },
    })) as Rollup.RollupOutput | Rollup.RollupOutput[];
    const chunks = (Array.isArray(result) ? result : [result]).flatMap((o) => o.output).filter((c): c is Rollup.OutputChunk => c.type === "chunk");
    const externalized = warnings.filter((w) => /externalized for browser compatibility/.test(w));
    expect(externalized.filter((w) => !KNOWN.test(w))).toEqual([]);
    const code = chunks.map((c) => c.code).join("\n");
    // The browser layer is in, the Node one is not.
    expect(code).toContain("the playground has no file system to write");
    expect(code).not.toContain("node:worker_threads");
    expect(code).not.toMatch(/from\s*["']node:/);
    // The language server's handlers are in the LSP worker, the supervisor (Node threads) is not.
    const lsp = chunks.find((c) => c.name === "lsp-worker")!;
    expect(lsp.moduleIds.some((m) => m.endsWith("tools/lsp/service.ts"))).toBe(true);
    expect(chunks.flatMap((c) => c.moduleIds).filter((m) => /tools\/lsp\/(supervisor|framing|server)\.ts$/.test(m))).toEqual([]);
    // The LSP worker loads the checker, not the executor and the run handler.
    const byFile = new Map(chunks.map((c) => [c.fileName, c]));
    const lspModules = new Set<string>();
    const visit = (c: Rollup.OutputChunk) => {
      for (const m of c.moduleIds) lspModules.add(m);
      for (const f of c.imports) visit(byFile.get(f)!);
    };
    visit(lsp);
    expect([...lspModules].some((m) => m.endsWith("interpreter/checker/check.ts"))).toBe(true);
    expect([...lspModules].filter((m) => /optimized\/executor\.ts$|workers\/run-handler\.ts$/.test(m))).toEqual([]);
  });
});
