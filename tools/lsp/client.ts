/**
 * A minimal LSP client for a spawned `spikelm lsp --stdio`: requests, notifications, and the
 * server's notifications, over the same framing as the server (framing.ts). The benchmarks
 * use it; it lives here because only tools/lsp speaks the protocol.
 */
import { type ChildProcess, spawn } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { FrameReader, FrameWriter, type RpcMessage } from "./framing.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export class SpawnedLspClient {
  private readonly child: ChildProcess;
  private readonly writer: FrameWriter;
  private readonly answers = new Map<number | string, (m: RpcMessage) => void>();
  private readonly listeners = new Map<string, ((params: unknown) => void)[]>();
  private nextId = 1;
  readonly exited: Promise<number | null>;

  /** `root`: the checkout whose server runs (another one to compare versions). */
  constructor(root = ROOT) {
    this.child = spawn(process.execPath, ["--import", "tsx", path.join(root, "tools/cli/main.ts"), "lsp", "--stdio"], { cwd: root, stdio: ["pipe", "pipe", "inherit"] });
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
    this.writer = new FrameWriter(this.child.stdin!);
    new FrameReader(
      this.child.stdout!,
      (m) => {
        if (m.method === undefined) {
          this.answers.get(m.id!)?.(m);
          this.answers.delete(m.id!);
        } else if (m.id !== undefined && m.id !== null) {
          this.writer.write({ jsonrpc: "2.0", id: m.id, result: null }); // registrations: accepted
        } else {
          for (const l of this.listeners.get(m.method) ?? []) l(m.params);
        }
      },
      () => undefined,
    );
  }

  onNotification(method: string, listener: (params: unknown) => void): void {
    this.listeners.set(method, [...(this.listeners.get(method) ?? []), listener]);
  }

  request<R>(method: string, params: unknown): Promise<R> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.answers.set(id, (m) => (m.error ? reject(new Error(`${method}: ${JSON.stringify(m.error)}`)) : resolve(m.result as R)));
      this.writer.write({ jsonrpc: "2.0", id, method, params });
    });
  }

  notify(method: string, params: unknown): void {
    this.writer.write({ jsonrpc: "2.0", method, params });
  }

  /** shutdown + exit, then waits for the process (killed after `graceMs`). */
  async close(graceMs = 5000): Promise<void> {
    try {
      await Promise.race([this.request("shutdown", null), new Promise((r) => setTimeout(r, graceMs))]);
      this.notify("exit", null);
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, graceMs))]);
    } finally {
      if (this.child.exitCode === null) this.child.kill("SIGKILL");
    }
  }
}
