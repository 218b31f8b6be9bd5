/**
 * Property: random edits to the example specs (incremental didChange), then random requests
 * at random positions, never break the server: every request is answered, the only error
 * responses are rename refusals (RequestFailed), no handler logs an internal error, and the
 * server still answers a hover at the end.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import fc from "fast-check";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Hover } from "vscode-languageserver";
import { LineIndex } from "../grammar/source.js";
import { CHECKER_CRASH } from "../tools/lsp/workspace.js";
import { EXAMPLES, REPO } from "./helpers.js";
import { LSP_METHODS, type LspClient, inProcessClient } from "./lsp.client.js";

const FILES = [
  ...fs.readdirSync(EXAMPLES).filter((f) => f.endsWith(".spk")).map((f) => path.join(EXAMPLES, f)),
  path.join(REPO, "models/spikelm/spikelm_encoder.spk"),
  path.join(REPO, "stdlib/layers.spk"),
];
const TEXTS = FILES.map((f) => fs.readFileSync(f, "utf8"));

const METHODS = LSP_METHODS;
const MAY_REFUSE = new Set<string>(["textDocument/prepareRename", "textDocument/rename"]);

const snippet = fc.constantFrom("(", ")", "{", "}", "[", "]", ",", " = ", "\n", "/// doc\n", "// c", '"', 'import "std/', "alpha[t]", "repeat 2 { ", "x @ ", "é😀", "\r\n", "neuron ", "-> [T, B]", "1e99", "..."); // prettier-ignore
const edit = fc.record({
  at: fc.nat(),
  remove: fc.nat({ max: 24 }),
  insert: fc.oneof(snippet, fc.string({ maxLength: 8 }), fc.record({ from: fc.nat(), len: fc.nat({ max: 40 }) })),
});
const request = fc.record({ method: fc.constantFrom(...METHODS), at: fc.nat(), name: fc.constantFrom("x", "renamed", "layer", "1bad") });

let client: LspClient;
beforeAll(async () => {
  client = inProcessClient();
  await client.initialize(undefined, { debounceMs: 5 });
});
afterAll(async () => {
  await client.close();
});

it("random edits and requests never break the server", async () => {
  await fc.assert(
    fc.asyncProperty(fc.nat({ max: FILES.length - 1 }), fc.array(edit, { minLength: 1, maxLength: 4 }), fc.array(request, { minLength: 1, maxLength: 6 }), async (which, edits, requests) => {
      const file = FILES[which]!;
      const uri = pathToFileURL(file).href;
      await client.open(uri, TEXTS[which]!);
      for (const e of edits) {
        const text = client.text(uri);
        const start = e.at % (text.length + 1);
        const end = Math.min(text.length, start + e.remove);
        const insert = typeof e.insert === "string" ? e.insert : text.slice(e.insert.from % (text.length + 1), (e.insert.from % (text.length + 1)) + e.insert.len);
        await client.edit(uri, start, end, insert);
      }
      const text = client.text(uri);
      const lines = new LineIndex(text);
      const answers = requests.map(async (r) => {
        const position = lines.position(r.at % (text.length + 1));
        const params = {
          textDocument: { uri },
          position,
          newName: r.name,
          context: { includeDeclaration: true, diagnostics: [] },
          range: { start: position, end: position },
          options: { tabSize: 2, insertSpaces: true },
        };
        try {
          await client.request(r.method, params);
          return "ok";
        } catch (e) {
          const code = (e as { code?: number }).code;
          return MAY_REFUSE.has(r.method) && code === -32803 ? "refused" : `${r.method} failed: ${code} ${(e as Error).message}`;
        }
      });
      for (const a of await Promise.all(answers)) expect(a === "ok" || a === "refused", a).toBe(true);
      await client.closeDoc(uri);
      // A failing handler is a server bug; a checker crash is a core bug the server survives.
      const internal = client.logs.filter((l) => l.type === 1 && !l.message.startsWith(CHECKER_CRASH));
      expect(internal, internal.map((l) => l.message).join("\n")).toEqual([]);
    }),
    { numRuns: Number(process.env.LSP_RUNS ?? 60), seed: process.env.LSP_RUNS ? undefined : 20240611, endOnFailure: true },
  );
  const last = FILES[0]!;
  const uri = pathToFileURL(last).href;
  await client.open(uri, TEXTS[0]!);
  const crashes = client.logs.filter((l) => l.message.startsWith(CHECKER_CRASH));
  if (crashes.length) console.warn(`${crashes.length} checker crash(es) survived, first:\n${crashes[0]!.message.split("\n").slice(0, 3).join("\n")}`);
  const hover = await client.request<Hover | null>("textDocument/hover", { textDocument: { uri }, position: { line: 1, character: 8 } });
  expect(hover).not.toBeNull();
}, 60_000);
