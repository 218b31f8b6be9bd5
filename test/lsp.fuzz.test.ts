/**
 * Fuzz: a seeded random storm of edits, requests and malformed frames over the server's real
 * framing (in-process streams, supervisor and worker thread). Bad Content-Length headers,
 * bodies that are not JSON or not messages, null and ill-typed params, unknown methods and
 * out-of-range positions are mixed into ordinary traffic without waiting for answers.
 *
 * The server must answer every well-framed request exactly once, never with an internal
 * error (only InvalidParams, MethodNotFound, or a rename refusal), log no internal error,
 * and afterwards still answer a hover correctly. `LSP_FUZZ_SEED` replays another storm.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, expect, it } from "vitest";
import { rng } from "../tools/bench/stats.js";
import { CHECKER_CRASH } from "../tools/lsp/workspace.js";
import { EXAMPLES, REPO } from "./helpers.js";
import { LSP_METHODS, fixture } from "./lsp.client.js";
import { RawClient } from "./lsp.raw.js";

/** The storm is seeded (mulberry32, `rng`), so a failing storm can be replayed. */
const SEED = Number(process.env.LSP_FUZZ_SEED ?? 20261129);
const ACTIONS = 200;

const DOCS = [path.join(EXAMPLES, "neurons.spk"), path.join(EXAMPLES, "tiny_spikelm.spk"), path.join(REPO, "stdlib/layers.spk")].map((f, i) => ({
  uri: pathToFileURL(path.join(REPO, `test/fixtures/lsp/scratch-fuzz-${i}.spk`)).href,
  text: fs.readFileSync(f, "utf8"),
}));
const METHODS = LSP_METHODS;
const SNIPPETS = ["(", ")", "{", "}", "[", "]", ",", " = ", "\n", "/// doc\n", "// c", '"', "repeat 3 { ", "x @ ", "é😀", "\r\n", "neuron ", "-> [T, B]", "1e99", "...", "let q = ", ""];
const MALFORMED = [
  "Content-Length: abc\r\n\r\n{}",
  "Content-Length: -5\r\n\r\n",
  "Content-Length: 1e3\r\n\r\n{}",
  "garbage without a colon\r\n\r\n",
  "Content-Length: 7\r\n\r\nnot js}",
  "Content-Length: 2\r\n\r\n[]",
  "Content-Length: 4\r\n\r\nnull",
  'Content-Length: 15\r\n\r\n{"jsonrpc":"1"}',
  'Content-Length: 16\r\n\r\n{"jsonrpc":"2.0"}',
  'Content-Length: 5\r\n\r\n{"jsonrpc":"2.0","id":1}', // too short: the rest must not hide the next frame
];
/** Error codes a well-framed request may get: InvalidParams, MethodNotFound, RequestFailed (rename). */
const ALLOWED_ERRORS = new Set([-32602, -32601, -32803]);

let c: RawClient | undefined;
afterAll(async () => {
  await c?.close();
});

it("survives a random storm of edits, requests and malformed frames, then answers a hover", async () => {
  const rand = rng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const int = (n: number) => Math.floor(rand() * n);
  c = new RawClient();
  await c.initialize(5);
  const versions = DOCS.map(() => 1);
  for (const d of DOCS) c.notify("textDocument/didOpen", { textDocument: { uri: d.uri, languageId: "spk", version: 1, text: d.text } });

  const position = () => (rand() < 0.15 ? { line: pick([1e6, 2 ** 31 - 1, 0]), character: pick([1e6, 0, 5]) } : { line: int(80), character: int(60) });
  const answers: Promise<{ method: string; code: number | undefined }>[] = [];
  const request = (method: string, params: unknown) => {
    const r = c!.request(method, params, 120_000).then((m) => ({ method, code: (m.error as { code?: number } | undefined)?.code }));
    answers.push(r);
  };

  for (let i = 0; i < ACTIONS; i++) {
    const doc = int(DOCS.length);
    const uri = DOCS[doc]!.uri;
    const roll = rand();
    if (roll < 0.42) {
      // An incremental edit (positions beyond the text are clamped by the protocol).
      const start = position();
      const end = rand() < 0.7 ? { line: start.line, character: start.character + int(20) } : position();
      const ordered = start.line < end.line || (start.line === end.line && start.character <= end.character) ? { start, end } : { start: end, end: start };
      c.notify("textDocument/didChange", { textDocument: { uri, version: ++versions[doc]! }, contentChanges: [{ range: ordered, text: pick(SNIPPETS) }] });
    } else if (roll < 0.62) {
      const method = pick(METHODS);
      const p = position();
      request(method, {
        textDocument: { uri },
        position: p,
        newName: pick(["x", "renamed", "1bad", ""]),
        context: { includeDeclaration: rand() < 0.5, diagnostics: [] },
        range: { start: p, end: p },
        options: { tabSize: 2, insertSpaces: true },
      });
    } else if (roll < 0.72) {
      c.raw(pick(MALFORMED));
    } else if (roll < 0.8) {
      // Ill-typed params on a real method.
      request(pick(METHODS), pick([null, 3, "x", [], {}, { textDocument: null }, { textDocument: { uri }, position: { line: -1, character: "a" } }, { textDocument: { uri: 5 } }]));
    } else if (roll < 0.86) {
      c.notify(pick(["textDocument/didChange", "textDocument/didOpen", "textDocument/didClose", "workspace/didChangeWatchedFiles"]), pick([null, {}, { textDocument: null }, { textDocument: { uri }, contentChanges: null }]));
    } else if (roll < 0.91) {
      if (rand() < 0.5) request(`spikelm/unknown${int(5)}`, {});
      else c.notify(`$/unknown${int(5)}`, { x: 1 });
    } else if (roll < 0.95) {
      // Close and reopen a document (its text back to the start).
      c.notify("textDocument/didClose", { textDocument: { uri } });
      versions[doc] = 1;
      c.notify("textDocument/didOpen", { textDocument: { uri, languageId: "spk", version: 1, text: DOCS[doc]!.text } });
    } else {
      await new Promise((r) => setTimeout(r, int(30)));
    }
  }

  const results = await Promise.all(answers);
  const bad = results.filter((r) => r.code !== undefined && !ALLOWED_ERRORS.has(r.code));
  expect(bad, JSON.stringify(bad.slice(0, 5))).toEqual([]);
  const internal = c.errors().filter((m) => !m.startsWith(CHECKER_CRASH));
  expect(internal, internal.join("\n")).toEqual([]);

  // Afterwards: a known text and a hover with the right answer.
  const main = fixture("project/main.spk");
  const diags = c.diagnosticsFor(main.uri, 1, 60_000);
  c.notify("textDocument/didOpen", { textDocument: { uri: main.uri, languageId: "spk", version: 1, text: main.text } });
  await diags;
  const hover = await c.request("textDocument/hover", { textDocument: { uri: main.uri }, position: main.at("gate") });
  expect((hover.result as { contents: { value: string } }).contents.value).toContain("neuron Gate(tau = 0.5, vth = 1.0)");
}, 30_000);
