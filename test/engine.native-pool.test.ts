/**
 * The native addon's thread pool (native/parallel.c spk_parallel): every part of every call
 * runs exactly once and its writes are the caller's when the call returns, however the
 * parts fall between the caller and the pool's workers.
 *  - Many small calls split over 2 to 16 threads (the spike accumulate, the dense-times-levels
 *    product, GELU), each against an oracle independent of the addon (test/native-pool-hammer.ts).
 *  - In a child process (test/fixtures/scripts/native-pool-child.ts): the main thread and
 *    three worker_threads calling at once, each checking its own results (a caller that
 *    finds the pool busy starts threads of its own); then, idle, the process's CPU time
 *    must stop growing: the workers spin only briefly, then sleep.
 *  - worker_threads that load the addon, call it and are terminated mid-calls (Node then
 *    dlcloses the thread's addons while the pool's workers live on), eight times in one
 *    process; and a process that exits right after a call. Each must exit cleanly. (A pool
 *    that does not pin its shared object crashed this scenario in about one run of eight
 *    when tried: the test can catch that only sometimes.)
 * Skipped, with the reason, where the addon cannot be built or loaded.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { nativeAddon, nativeStatus } from "../interpreter/engine/kernels/native-backend.js";
import { type HammerResult, type PoolKernels, hammer } from "./native-pool-hammer.js";

const status = nativeStatus();
const skipReason = status.ready ? "" : ` (SKIPPED: ${status.reason})`;
const REPO = fileURLToPath(new URL("..", import.meta.url));
const CHILD = fileURLToPath(new URL("./fixtures/scripts/native-pool-child.ts", import.meta.url));

interface ChildRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  out?: { results: HammerResult[]; idleCpuMs?: number };
}

function runChild(scenario: string): ChildRun {
  const r = spawnSync(process.execPath, ["--import", "tsx", CHILD, scenario], { cwd: REPO, encoding: "utf8", timeout: 120_000 });
  const line = r.stdout.trim().split("\n").pop();
  let out: ChildRun["out"];
  try {
    out = line ? JSON.parse(line) : undefined;
  } catch {
    out = undefined;
  }
  return { status: r.status, signal: r.signal, stderr: r.stderr, out };
}

function expectClean(r: ChildRun, threads: number): void {
  expect({ status: r.status, signal: r.signal, stderr: r.stderr.slice(0, 2000) }).toEqual({ status: 0, signal: null, stderr: "" });
  expect(r.out?.results.length).toBe(threads);
  for (const res of r.out!.results) expect(res.bad).toEqual([]);
}

describe.skipIf(!status.ready)(`the native thread pool${skipReason}`, () => {
  it("runs 900 small calls on 2 to 16 threads with the oracles' bits", () => {
    const a = nativeAddon() as unknown as PoolKernels;
    expect(hammer(a, 12345, 900).bad).toEqual([]);
  });

  it("serves the main thread and three worker_threads calling at once, each with its own results, then lets the process idle", () => {
    const r = runChild("threads");
    expectClean(r, 4);
    // 100 ms of idleness: a worker still spinning would cost up to 100 ms (15 were started)
    expect(r.out!.idleCpuMs).toBeLessThan(10);
  });

  it("survives worker_threads that load the addon being terminated mid-calls, eight in turn", () => {
    expectClean(runChild("workers-only"), 8);
  });

  it("lets the process exit right after a call", () => {
    expectClean(runChild("exit-now"), 1);
  });
});
