/**
 * Language-server latency: how long an editor waits for diagnostics after an edit to the
 * largest spec in the repo. Runs the real server (`spikelm lsp --stdio`, a child process) and
 * times didChange → publishDiagnostics for that version, one edit at a time (each edit
 * inserts or removes a space inside a forward body, so the spec stays valid), after a few
 * warm-up edits. The budget is 50 ms; `ratio` = 50 / median (> 1: within budget). The time
 * includes the server's debounce (tools/lsp/server.ts, DEFAULT_DEBOUNCE_MS).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from "vscode-languageserver/node";
import type { PublishDiagnosticsParams } from "vscode-languageserver";
import { LineIndex } from "../../../grammar/source.js";
import { listSpecs } from "../../lsp/workspace.js";
import { type BenchContext, type BenchRow, registerGroup } from "../registry.js";
import { median } from "../stats.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const BUDGET_MS = 50;

/** The largest `.spk` the project ships (tests' fixtures and scratch files excluded). */
export function largestSpec(): string {
  const specs = listSpecs(ROOT).filter((f) => {
    const rel = path.relative(ROOT, f).split(path.sep)[0];
    return rel !== "test" && rel !== "scratch";
  });
  specs.sort((a, b) => fs.statSync(b).size - fs.statSync(a).size);
  if (!specs[0]) throw new Error("no .spk file found");
  return specs[0];
}

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

export async function measureDiagnosticsLatency(file: string, edits: number, warmup: number, onEdit: () => void = () => undefined): Promise<number[]> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "tools/cli/main.ts"), "lsp", "--stdio"], { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] });
  const exited = new Promise<void>((r) => child.on("exit", () => r()));
  const conn = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  const waiting = new Map<number, (at: number) => void>();
  conn.onNotification("textDocument/publishDiagnostics", (p: PublishDiagnosticsParams) => {
    if (p.version !== undefined) waiting.get(p.version)?.(performance.now());
  });
  conn.onNotification("window/logMessage", () => undefined);
  conn.onRequest("client/registerCapability", () => null);
  conn.listen();
  const uri = pathToFileURL(file).href;
  const text = fs.readFileSync(file, "utf8");
  const diagnosed = (version: number) =>
    new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no diagnostics for version ${version} within 10 s`)), 10_000);
      waiting.set(version, (at) => {
        clearTimeout(timer);
        waiting.delete(version);
        resolve(at);
      });
    });
  const times: number[] = [];
  try {
    await conn.sendRequest("initialize", { processId: process.pid, rootUri: null, capabilities: {} });
    await conn.sendNotification("initialized", {});
    const first = diagnosed(1);
    await conn.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: "spk", version: 1, text } });
    await first;
    // Edit inside the last forward body: a space typed after `return`, then deleted.
    const at = text.lastIndexOf("return ") + "return".length;
    const pos = new LineIndex(text).position(at);
    for (let i = 0; i < warmup + edits; i++) {
      const version = i + 2;
      const insert = i % 2 === 0;
      const change = insert
        ? { range: { start: pos, end: pos }, text: " " }
        : { range: { start: pos, end: { line: pos.line, character: pos.character + 1 } }, text: "" };
      const done = diagnosed(version);
      const t0 = performance.now();
      await conn.sendNotification("textDocument/didChange", { textDocument: { uri, version }, contentChanges: [change] });
      const t1 = await done;
      if (i >= warmup) times.push(t1 - t0);
      onEdit();
      await new Promise((r) => setTimeout(r, 5));
    }
    await conn.sendRequest("shutdown", null);
    await conn.sendNotification("exit");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
  } finally {
    conn.dispose();
    if (child.exitCode === null) child.kill("SIGKILL");
  }
  return times;
}

registerGroup("lsp-latency", async (ctx: BenchContext): Promise<BenchRow[]> => {
  const file = largestSpec();
  const edits = ctx.quick ? 20 : 50;
  const warmup = ctx.quick ? 5 : 10;
  ctx.addSteps(warmup + edits);
  const times = await measureDiagnosticsLatency(file, edits, warmup, () => ctx.step(path.basename(file)));
  const median_ms = median(times);
  const p95_ms = percentile(times, 95);
  return [
    {
      name: `lsp diagnostics after edit (${path.relative(ROOT, file)})`,
      shape: null,
      rate: null,
      vs: "budget-50ms",
      ratio: BUDGET_MS / median_ms,
      median_ms: Math.round(median_ms * 100) / 100,
      p95_ms: Math.round(p95_ms * 100) / 100,
    },
  ];
});
