/**
 * The base-protocol reader (tools/lsp/framing.ts): frames split anywhere are read whole;
 * malformed frames are reported and skipped, and the frames after them still arrive.
 */
import { PassThrough } from "node:stream";
import fc from "fast-check";
import { expect, it } from "vitest";
import { type FrameError, FrameReader, type RpcMessage } from "../tools/lsp/framing.js";

const frame = (body: string) => {
  const b = Buffer.from(body, "utf8");
  return Buffer.concat([Buffer.from(`Content-Length: ${b.length}\r\n\r\n`), b]);
};
const message = (id: number, text = "é😀") => frame(JSON.stringify({ jsonrpc: "2.0", id, method: "m", params: { text } }));

function read(bytes: Buffer, cuts: number[]): { messages: RpcMessage[]; errors: FrameError[] } {
  const input = new PassThrough();
  const messages: RpcMessage[] = [];
  const errors: FrameError[] = [];
  const reader = new FrameReader(input, (m) => messages.push(m), (e) => errors.push(e));
  let last = 0;
  for (const cut of [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)) {
    reader.push(bytes.subarray(last, cut));
    last = cut;
  }
  reader.push(bytes.subarray(last));
  return { messages, errors };
}

const BAD = [
  "Content-Length: abc\r\n\r\n{}",
  "Content-Length: -1\r\n\r\n",
  "no colon here\r\n\r\n",
  "Content-Length: 8\r\n\r\nnot json",
  "Content-Length: 2\r\n\r\n[]",
  'Content-Length: 15\r\n\r\n{"jsonrpc":"1"}',
  'Content-Length: 4\r\n\r\n{"jsonrpc":"2.0","id":9}', // shorter than its body
];

it("reads frames split at any byte, and skips malformed ones without losing the next", () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.nat({ max: 1000 }).map((id) => ({ id })), fc.constantFrom(...BAD).map((bad) => ({ bad }))), { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 10 }), (items, cuts) => {
      const bytes = Buffer.concat(items.map((x) => ("id" in x ? message(x.id) : Buffer.from(x.bad))));
      const { messages, errors } = read(bytes, cuts);
      const ids = items.filter((x) => "id" in x).map((x) => (x as { id: number }).id);
      expect(messages.map((m) => m.id)).toEqual(ids);
      expect(messages.every((m) => (m.params as { text: string }).text === "é😀")).toBe(true);
      // Bytes after a bad header are skipped up to the next Content-Length (they may be its
      // body), so consecutive bad frames can give one error; but at least one, and never a
      // lost good frame.
      expect(errors.length > 0).toBe(items.length > ids.length);
    }),
    { numRuns: 300, seed: 20261129 },
  );
});

it("answers with the request id when the body is JSON with an id but not a message", () => {
  const { errors } = read(frame(JSON.stringify({ jsonrpc: "1.0", id: 7, method: "m" })), []);
  expect(errors).toEqual([{ code: -32600, message: expect.any(String), id: 7 }]);
});
