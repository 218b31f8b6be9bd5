/**
 * The language server over the string transport the playground's LSP worker uses
 * (tools/lsp/string-server.ts): one JSON-RPC message per string, no framing. Documents live at
 * URIs that are not on disk (`file:///playground/...`), as in the page; definitions into the
 * stdlib answer the stdlib's URI; a malformed message gets an error answer and the
 * conversation goes on.
 */
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { createProtocolConnection } from "vscode-languageserver/node";
import { afterEach, describe, expect, it } from "vitest";
import { formatSpk } from "../tools/prettier/printer.js";
import { useFormatter } from "../tools/lsp/formatting.js";
import { type StringServer, startStringServer } from "../tools/lsp/string-server.js";
import { REPO } from "./helpers.js";

interface Rpc {
  readonly id?: number | null;
  readonly method?: string;
  readonly params?: unknown;
  readonly result?: unknown;
  readonly error?: { code: number; message: string };
}

class Client {
  readonly received: Rpc[] = [];
  private waiters: (() => void)[] = [];
  private nextId = 1;
  readonly server: StringServer;

  constructor() {
    this.server = startStringServer(
      (m) => {
        expect(typeof m).toBe("string");
        this.received.push(JSON.parse(m) as Rpc);
        for (const w of this.waiters.splice(0)) w();
      },
      createProtocolConnection,
      { debounceMs: 0 },
    );
  }

  async until<T>(pick: () => T | undefined, what: string): Promise<T> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const v = pick();
      if (v !== undefined) return v;
      if (Date.now() > deadline) throw new Error(`no ${what}; got ${JSON.stringify(this.received).slice(0, 500)}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  async request<T>(method: string, params: unknown): Promise<T> {
    const id = this.nextId++;
    this.server.receive(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    const r = await this.until(() => this.received.find((m) => m.id === id && m.method === undefined), `answer to ${method}`);
    if (r.error) throw new Error(r.error.message);
    return r.result as T;
  }

  notify(method: string, params: unknown): void {
    this.server.receive(JSON.stringify({ jsonrpc: "2.0", method, params }));
  }
}

const DOC = "file:///playground/main.spk";
const TEXT = `import "std/layers"

layer Block(d) {
  lin = SpikeLinear(d, d)
  forward(x: [T, B, L, d]) -> [T, B, L, d] {
    let y = lin(x)
    return y + x
  }
}
`;
const pos = (text: string, needle: string, offset = 0) => {
  const i = text.indexOf(needle) + offset;
  const before = text.slice(0, i).split("\n");
  return { line: before.length - 1, character: before[before.length - 1]!.length };
};

let client: Client | undefined;
afterEach(() => client?.server.dispose());

async function started(text = TEXT): Promise<Client> {
  const c = new Client();
  client = c;
  const init = await c.request<{ capabilities: Record<string, unknown> }>("initialize", { processId: null, rootUri: "file:///playground/", capabilities: {} });
  expect(init.capabilities.hoverProvider).toBe(true);
  c.notify("initialized", {});
  c.notify("textDocument/didOpen", { textDocument: { uri: DOC, languageId: "spikelm", version: 1, text } });
  return c;
}

const diagnosticsOf = (c: Client, version: number) =>
  c.until(() => c.received.find((m) => m.method === "textDocument/publishDiagnostics" && (m.params as { version?: number }).version === version)?.params as { diagnostics: { message: string; range: { start: { line: number; character: number } } }[] } | undefined, `diagnostics v${version}`);

describe("language server over strings (the playground's LSP worker transport)", () => {
  it("a typo gets a located diagnostic; fixing it clears it", async () => {
    const c = await started(TEXT.replace("lin(x)", "lni(x)"));
    const d = await diagnosticsOf(c, 1);
    expect(d.diagnostics.length).toBeGreaterThan(0);
    expect(d.diagnostics[0]!.message).toContain("lni");
    expect(d.diagnostics[0]!.range.start).toEqual(pos(TEXT, "lin(x)"));
    c.notify("textDocument/didChange", { textDocument: { uri: DOC, version: 2 }, contentChanges: [{ text: TEXT }] });
    expect((await diagnosticsOf(c, 2)).diagnostics).toEqual([]);
  });

  it("hover shows a shape; go to definition reaches the stdlib's URI", async () => {
    const c = await started();
    await diagnosticsOf(c, 1);
    const hover = await c.request<{ contents: { value: string } }>("textDocument/hover", { textDocument: { uri: DOC }, position: pos(TEXT, "y + x") });
    expect(hover.contents.value).toContain("f32[T, B, L, d]");
    const def = await c.request<{ uri: string }[]>("textDocument/definition", { textDocument: { uri: DOC }, position: pos(TEXT, "SpikeLinear", 2) });
    expect(def.map((l) => l.uri)).toEqual([pathToFileURL(path.join(REPO, "stdlib/layers.spk")).href]);
  });

  it("formats through the formatter it is handed", async () => {
    useFormatter(formatSpk);
    const messy = TEXT.replace("return y + x", "return   y+x");
    const c = await started(messy);
    const edits = await c.request<{ newText: string }[]>("textDocument/formatting", { textDocument: { uri: DOC }, options: { tabSize: 2, insertSpaces: true } });
    expect(edits.length).toBe(1);
    expect(edits[0]!.newText).toBe(await formatSpk(messy));
    expect(edits[0]!.newText).toContain("return y + x");
  });

  it("open documents import each other by relative path, as on disk", async () => {
    const c = await started(TEXT.replace('import "std/layers"', 'import "std/layers"\nimport "./more.spk"').replace("return y + x", "return Twice()(y)"));
    c.notify("textDocument/didOpen", { textDocument: { uri: "file:///playground/more.spk", languageId: "spikelm", version: 1, text: "layer Twice() {\n  forward(x) {\n    return x + x\n  }\n}\n" } });
    const first = await diagnosticsOf(c, 1);
    const settled = first.diagnostics.length === 0 ? first : await c.until(() => {
      const all = c.received.filter((m) => m.method === "textDocument/publishDiagnostics" && (m.params as { uri: string }).uri === DOC);
      const last = all[all.length - 1]?.params as { diagnostics: unknown[] } | undefined;
      return last && last.diagnostics.length === 0 ? last : undefined;
    }, "clean diagnostics once more.spk is open");
    expect(settled.diagnostics).toEqual([]);
  });

  it("malformed text is answered with an error and the conversation goes on", async () => {
    const c = await started();
    c.server.receive("{not json");
    c.server.receive("[1]");
    const errors = await c.until(() => {
      const e = c.received.filter((m) => m.error && m.id === null);
      return e.length >= 2 ? e : undefined;
    }, "two error answers");
    expect(errors.map((e) => e.error!.code)).toEqual([-32700, -32600]);
    const symbols = await c.request<{ name: string }[]>("textDocument/documentSymbol", { textDocument: { uri: DOC } });
    expect(symbols.map((s) => s.name)).toEqual(["std/layers", "Block"]);
  });
});
