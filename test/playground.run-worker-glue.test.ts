/**
 * The run worker's message loop (tools/playground/workers/run-worker.ts) with its worker scope
 * stood in for: every request gets exactly one reply with its id, a run's progress comes before
 * its reply, runs are answered in arrival order while other requests do not wait behind them,
 * the catalog says which model weights the bundle carries, and a weights download that fails
 * is a message, not an exception. (Here the files are read from the repository through the
 * Node platform; the browser bundle is test/playground.bundle.test.ts' business.)
 */
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import type { RunWorkerRequest, RunWorkerResponse } from "../tools/playground/protocol.js";
import { REPO } from "./helpers.js";

interface Scope {
  onmessage: ((e: { data: unknown }) => void) | null;
  postMessage(message: unknown, transfer?: unknown[]): void;
}
const scope = globalThis as unknown as Scope;
const posted: { message: RunWorkerResponse; transfer: unknown[] }[] = [];

beforeAll(async () => {
  scope.postMessage = (message, transfer = []) => void posted.push({ message: message as RunWorkerResponse, transfer });
  await import("../tools/playground/workers/run-worker.js");
});

async function settle(ids: number[]): Promise<RunWorkerResponse[]> {
  const deadline = Date.now() + 120_000;
  const done = () => ids.every((id) => posted.some((p) => p.message.id === id && p.message.type !== "progress"));
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`no reply to ${ids.join(", ")}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return posted.map((p) => p.message).filter((m) => ids.includes(m.id));
}

const send = (req: RunWorkerRequest) => scope.onmessage!({ data: req });
const TINY = pathToFileURL(path.join(REPO, "models/tiny/tiny_spikelm.spk")).href;

describe("run worker message loop", () => {
  it("runs in order, one reply each after its progress, typed arrays transferred; a file request does not wait behind runs", async () => {
    const run = (id: number): RunWorkerRequest => ({ type: "run", id, files: {}, main: TINY, entry: "TinySpikeLM", args: { depth: 1 }, input: { kind: "random", seed: id }, report: true });
    send(run(101));
    send(run(102));
    send({ type: "file", id: 103, uri: pathToFileURL(path.join(REPO, "stdlib/layers.spk")).href });
    const msgs = await settle([101, 102, 103]);
    const replies = msgs.filter((m) => m.type !== "progress");
    expect(replies.map((m) => m.id)).toEqual([103, 101, 102]);
    expect(replies.every((m) => m.ok)).toBe(true);
    for (const id of [101, 102]) {
      const mine = msgs.filter((m) => m.id === id);
      expect(mine[mine.length - 1]!.type).toBe("run");
      expect(mine.slice(0, -1).map((m) => m.type)).toContain("progress");
      expect(new Set(mine.slice(0, -1).map((m) => m.type))).toEqual(new Set(["progress"]));
    }
    const reply = posted.find((p) => p.message.id === 101 && p.message.type === "run")!;
    const r = reply.message;
    if (r.type !== "run" || !r.ok) throw new Error("run failed");
    const levels = r.taps.flatMap((t) => (t.kind === "spikes" ? [t.levels.buffer] : []));
    expect(levels.length).toBeGreaterThan(0);
    for (const b of levels) expect(reply.transfer).toContain(b);
  });

  it("the catalog says which weights the bundle carries; a failed weights download is a message", async () => {
    send({ type: "catalog", id: 201 });
    const [c] = await settle([201]);
    if (c?.type !== "catalog" || !c.ok) throw new Error("catalog failed");
    expect(Object.fromEntries(c.models.map((m) => [m.name, m.weights]))).toEqual({ "decoder-small": true, "decoder-small-bpe": true, "mlm-small": true, "classifier-small": true, "encoder-small": true });
    // Under Node the bundle's asset URL is a bare path: fetch refuses it, as a browser would a 404.
    send({ type: "run", id: 202, files: {}, main: "", entry: "", args: {}, model: "decoder-small", input: { kind: "text", text: "hi" } });
    const r = (await settle([202])).find((m) => m.type === "run");
    if (!r || r.type !== "run" || r.ok) throw new Error(`expected a failed run, got ${JSON.stringify(r)}`);
    expect(r.id).toBe(202);
    expect(r.message).not.toMatch(/internal error/);
  });
});
