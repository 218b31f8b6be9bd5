/**
 * A long-lived python child that answers one JSON request per line (tools/bench/
 * torch_block_server.py), so a bench can interleave PyTorch's runs with spikelm's in the same
 * time window without paying python's start-up per run.
 *
 * Robustness: each request has a timeout, after which the child is killed (SIGKILL) and the
 * request fails with the tail of its stderr; a child that exits fails the pending request the
 * same way (on 'close', after its last output line was read); close() ends stdin (the server exits at end of input) and kills the child if it has
 * not exited within a few seconds. Node reaps the child on exit, so none is left as a zombie.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";

export type Reply = { ok: true; [k: string]: unknown } | { ok: false; error: string };

/**
 * The python3 that can import torch (Debian's python3-torch installs it for /usr/bin/python3,
 * which may not be the python3 first on PATH), or why there is none. SPIKELM_PYTHON, when set,
 * is the only candidate.
 */
export function findTorchPython(): { python: string } | { reason: string } {
  const candidates = process.env.SPIKELM_PYTHON !== undefined ? [process.env.SPIKELM_PYTHON] : ["/usr/bin/python3", "python3"];
  for (const c of candidates) {
    const r = spawnSync(c, ["-c", "import torch"], { encoding: "utf8", timeout: 60_000 });
    if (r.status === 0) return { python: c };
  }
  return { reason: `no python3 that can import torch (tried ${candidates.join(", ")}; Debian's python3-torch provides it)` };
}

export class TorchChild {
  private readonly lines: string[] = [];
  private waiting: ((line: string | Error) => void) | null = null;
  private exited: Error | null = null;
  private stderrTail = "";
  private readonly exitPromise: Promise<void>;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    createInterface({ input: child.stdout }).on("line", (line) => this.deliver(line));
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (s: string) => {
      this.stderrTail = (this.stderrTail + s).slice(-4000);
    });
    // the server never writes to a closed stdin's peer; a write after the child died must not crash the bench
    child.stdin.on("error", () => {});
    this.exitPromise = new Promise((resolve) => {
      const done = (why: string) => {
        this.exited ??= new Error(`python exited (${why})${this.stderrTail ? `:\n${this.stderrTail.trimEnd()}` : ""}`);
        this.deliver(this.exited);
        resolve();
      };
      child.on("close", (code, signal) => done(signal ? `signal ${signal}` : `code ${code}`));
      child.on("error", (e) => done(e.message));
    });
  }

  /** Starts `python script ...args` and waits for its first line (the server's ready answer). */
  static async start(python: string, script: string, args: readonly string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<{ child: TorchChild; first: Reply }> {
    const child = new TorchChild(spawn(python, [script, ...args], { stdio: ["pipe", "pipe", "pipe"], env }));
    try {
      return { child, first: await child.next(timeoutMs, "start") };
    } catch (e) {
      child.kill();
      throw e;
    }
  }

  /** Sends one request and waits for its answer; on timeout the child is killed. */
  async request(req: Readonly<Record<string, unknown>>, timeoutMs: number): Promise<Reply> {
    if (this.exited) throw this.exited;
    this.child.stdin.write(JSON.stringify(req) + "\n");
    return this.next(timeoutMs, String(req["op"]));
  }

  /** Ends stdin (the server exits at end of input); kills the child if it has not exited in time. */
  async close(graceMs = 5000): Promise<void> {
    this.child.stdin.end();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)));
    if (await Promise.race([this.exitPromise.then(() => false), late])) this.kill();
    clearTimeout(timer);
    await this.exitPromise;
  }

  /** The child's process id (gone, and reaped, once close() has returned). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }

  private deliver(line: string | Error): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w(line);
    } else if (typeof line === "string") this.lines.push(line);
  }

  private next(timeoutMs: number, what: string): Promise<Reply> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(parse(queued));
    if (this.exited) return Promise.reject(this.exited);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        this.kill();
        reject(new Error(`python did not answer "${what}" within ${timeoutMs} ms (killed)${this.stderrTail ? `:\n${this.stderrTail.trimEnd()}` : ""}`));
      }, timeoutMs);
      this.waiting = (line) => {
        clearTimeout(timer);
        if (line instanceof Error) reject(line);
        else {
          try {
            resolve(parse(line));
          } catch (e) {
            reject(e);
          }
        }
      };
    });
  }
}

function parse(line: string): Reply {
  try {
    return JSON.parse(line) as Reply;
  } catch {
    throw new Error(`python wrote a line that is not JSON: ${line.slice(0, 200)}`);
  }
}
