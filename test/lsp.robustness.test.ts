/**
 * The server over its real framing (in-process streams, the supervisor and its worker
 * thread): malformed frames and parameters are answered or ignored and the server keeps
 * serving; a document whose check takes too long does not block the others.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixture } from "./lsp.client.js";
import { RawClient } from "./lsp.raw.js";
import { REPO } from "./helpers.js";

const main = fixture("project/main.spk");
const hoverGate = { textDocument: { uri: main.uri }, position: main.at("gate") };
const hoverValue = (m: { result?: unknown }) => ((m.result as { contents?: { value?: string } } | null)?.contents?.value ?? "");

let c: RawClient;
beforeAll(async () => {
  c = new RawClient();
  await c.initialize();
  const diags = c.diagnosticsFor(main.uri, 1);
  c.notify("textDocument/didOpen", { textDocument: { uri: main.uri, languageId: "spk", version: 1, text: main.text } });
  await diags;
}, 60_000);
afterAll(async () => {
  await c.close();
});

describe("malformed frames", () => {
  it.each([
    ["a Content-Length that is not a number", "Content-Length: abc\r\n\r\n{}"],
    ["no Content-Length", "Content-Type: application/json\r\n\r\n{}"],
    ["a header line without a colon", "garbage\r\n\r\n"],
    ["a body that is not JSON", "Content-Length: 8\r\n\r\nnot json"],
    ["a JSON body that is not a message", "Content-Length: 2\r\n\r\n[]"],
  ])("answers %s with a JSON-RPC error and keeps serving", async (_what, bytes) => {
    const error = c.next((m) => m.id === null && m.error !== undefined);
    c.raw(bytes);
    expect(((await error).error as { code: number }).code).toBeOneOf([-32700, -32600]);
    expect(hoverValue(await c.request("textDocument/hover", hoverGate))).toContain("neuron Gate");
  });

  it("reads the frame after a body shorter than its Content-Length said", async () => {
    const body = JSON.stringify({ jsonrpc: "2.0", id: 999, method: "textDocument/hover", params: hoverGate });
    c.raw(`Content-Length: 10\r\n\r\n${body}`);
    expect(hoverValue(await c.request("textDocument/hover", hoverGate))).toContain("neuron Gate");
  });
});

describe("malformed parameters", () => {
  it("answers a request with invalid parameters with InvalidParams", async () => {
    for (const params of [null, { textDocument: null, position: { line: 0, character: 0 } }, { textDocument: { uri: main.uri }, position: { line: -1, character: "x" } }, 7]) {
      const r = await c.request("textDocument/hover", params);
      expect((r.error as { code: number } | undefined)?.code, JSON.stringify(params)).toBe(-32602);
    }
    expect(((await c.request("textDocument/references", { ...hoverGate, context: null })).error as { code: number }).code).toBe(-32602);
  });

  it("ignores notifications with invalid parameters", async () => {
    c.notify("textDocument/didChange", null);
    c.notify("textDocument/didChange", { textDocument: { uri: main.uri, version: 2 }, contentChanges: [{ range: null, text: 5 }] });
    c.notify("textDocument/didOpen", { textDocument: null });
    c.notify("textDocument/didClose", null);
    c.notify("workspace/didChangeWatchedFiles", { changes: null });
    expect(hoverValue(await c.request("textDocument/hover", hoverGate))).toContain("neuron Gate");
    expect(c.errors()).toEqual([]);
  });

  it("answers an unknown method with MethodNotFound and clamps out-of-range positions", async () => {
    expect(((await c.request("spikelm/noSuchMethod", {})).error as { code: number }).code).toBe(-32601);
    const far = await c.request("textDocument/hover", { textDocument: { uri: main.uri }, position: { line: 1e6, character: 1e6 } });
    expect(far.error).toBeUndefined();
    const unknownDoc = await c.request("textDocument/completion", { textDocument: { uri: "file:///no/such.spk" }, position: { line: 0, character: 0 } });
    expect(unknownDoc.error).toBeUndefined();
  });
});

describe("a document that takes too long to check", () => {
  it("does not block the others, and is told why", async () => {
    // A million-character identifier took the checker tens of seconds; whatever the checker
    // does with it now, the other documents must be answered at once.
    const slowUri = pathToFileURL(path.join(REPO, "test/fixtures/lsp/scratch-slow.spk")).href;
    const slowDiags = c.diagnosticsFor(slowUri, 1, 60_000);
    c.notify("textDocument/didOpen", { textDocument: { uri: slowUri, languageId: "spk", version: 1, text: `const a = ${"x".repeat(1_000_000)}\n` } });
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    const hover = await c.request("textDocument/hover", hoverGate, 60_000);
    const waited = performance.now() - t0;
    expect(hoverValue(hover)).toContain("neuron Gate");
    // The watchdog stops a check after 400 ms when others wait; a replacement service must
    // then load (seconds on a loaded machine when its standby was not ready yet).
    expect(waited).toBeLessThan(30_000);
    const d = await slowDiags;
    expect((d.params as { diagnostics: unknown[] }).diagnostics.length).toBeGreaterThan(0);
    // The server still answers everything afterwards.
    expect(hoverValue(await c.request("textDocument/hover", hoverGate))).toContain("neuron Gate");
  }, 90_000);
});

it("keeps the fixture folder clean", () => {
  expect(fs.existsSync(path.join(REPO, "test/fixtures/lsp/scratch-slow.spk"))).toBe(false);
});

describe("the watchdog", () => {
  it("stops a check over its limit, hands over to a new service, and keeps the document's syntax", async () => {
    // Limits so small that every check is over them: the takeover path, deterministically.
    const w = new RawClient({ stuckMs: 1, timeoutMs: 1 });
    try {
      await w.initialize();
      const stopped = w.next(
        (m) => m.method === "textDocument/publishDiagnostics" && (m.params as { diagnostics: { code?: string }[] }).diagnostics.some((d) => d.code === "LSP001"),
        90_000,
        "an LSP001 diagnostic",
      );
      w.notify("textDocument/didOpen", { textDocument: { uri: main.uri, languageId: "spk", version: 1, text: main.text } });
      const d = (await stopped).params as { uri: string; version: number; diagnostics: { message: string }[] };
      expect(d.uri).toBe(main.uri);
      expect(d.version).toBe(1);
      expect(d.diagnostics[0]!.message).toMatch(/took too long/);
      // The replacement service answers (from the syntax alone, or nothing if even parsing was stopped).
      const symbols = await w.request("textDocument/documentSymbol", { textDocument: { uri: main.uri } }, 90_000);
      expect(symbols.error).toBeUndefined();
      expect(w.received.some((m) => m.method === "window/logMessage" && /was stopped after \d+ ms/.test((m.params as { message: string }).message))).toBe(true);
      expect(w.errors()).toEqual([]);
    } finally {
      await w.close();
    }
  }, 120_000);
});
