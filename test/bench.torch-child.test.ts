/**
 * tools/bench/torch-child.ts (the python child of the bench group "pytorch") and
 * tools/bench/torch_block_server.py: a request not answered in time kills the child; a child
 * that dies fails the pending request with its stderr; close() ends the child through end of
 * input, or kills one that ignores it; none is left running or unreaped (a zombie still answers
 * kill(pid, 0)). The child-handling tests use a few lines of python (any python3); the server's
 * own tests need torch and are skipped, with the reason in their names, without it.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { Tensor } from "../interpreter/engine/tensor.js";
import { readSafetensors, serializeSafetensors } from "../interpreter/io/safetensors.js";
import { prepareSpec } from "../tools/export/common.js";
import { exportPytorch } from "../tools/export/pytorch.js";
import { TorchChild, findTorchPython } from "../tools/bench/torch-child.js";
import { seededNormal } from "./helpers.js";

const root = path.resolve(__dirname, "..");
const PY3 = spawnSync("python3", ["-c", "pass"]).status === 0 ? "python3" : undefined;
const found = findTorchPython();
const TORCH = "python" in found ? found.python : undefined;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-torch-child-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Children started here, killed after each test (so a failing assertion leaves none running). */
const started: TorchChild[] = [];
afterEach(() => {
  for (const c of started.splice(0)) c.kill();
});

async function start(python: string, script: string, args: string[], timeoutMs: number): ReturnType<typeof TorchChild.start> {
  const r = await TorchChild.start(python, script, args, timeoutMs);
  started.push(r.child);
  return r;
}

/** A python child running `code` (as `python3 -c code`). */
const fake = (code: string, timeoutMs = 20_000) => start(PY3!, "-c", [code], timeoutMs);

/** True while a process with this id exists (running or a zombie not yet reaped). */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

const READY = `import sys, json, time\nprint(json.dumps({"ok": True}), flush=True)\n`;

describe.skipIf(!PY3)(`TorchChild${PY3 ? "" : " [skipped: no python3]"}`, () => {
  it("answers requests in order, one line each", async () => {
    const { child, first } = await fake(READY + `for line in sys.stdin:\n    print(json.dumps({"ok": True, "echo": json.loads(line)["n"]}), flush=True)\n`);
    expect(first).toEqual({ ok: true });
    for (const n of [1, 2, 3]) expect(await child.request({ op: "echo", n }, 10_000)).toEqual({ ok: true, echo: n });
    await child.close();
    expect(exists(child.pid!)).toBe(false);
  });

  it("kills a child that does not answer in time, and says which request", async () => {
    const { child } = await fake(READY + `sys.stdin.readline()\ntime.sleep(600)\n`);
    const t0 = performance.now();
    await expect(child.request({ op: "run" }, 300)).rejects.toThrow(/did not answer "run" within 300 ms \(killed\)/);
    expect(performance.now() - t0).toBeLessThan(10_000);
    // gone (and reaped) without close(): the timeout itself killed it
    await expect(child.request({ op: "run" }, 300)).rejects.toThrow(/python exited \(signal SIGKILL\)/);
    expect(exists(child.pid!)).toBe(false);
    await child.close();
  });

  it("fails the pending request of a child that dies, with its exit code and stderr", async () => {
    const { child } = await fake(READY + `sys.stdin.readline()\nsys.stderr.write("boom: it broke\\n")\nsys.exit(3)\n`);
    await expect(child.request({ op: "run" }, 10_000)).rejects.toThrow(/python exited \(code 3\):\nboom: it broke/);
    await child.close();
    expect(exists(child.pid!)).toBe(false);
  });

  it("rejects an answer that is not JSON", async () => {
    const { child } = await fake(READY + `sys.stdin.readline()\nprint("Traceback (most recent call last):", flush=True)\nsys.stdin.readline()\n`);
    await expect(child.request({ op: "run" }, 10_000)).rejects.toThrow(/not JSON: Traceback/);
    await child.close();
    expect(exists(child.pid!)).toBe(false);
  });

  it("close() ends a child through end of input; one that ignores it is killed after the grace time", async () => {
    const polite = (await fake(READY + `for line in sys.stdin:\n    pass\nsys.exit(0)\n`)).child;
    await polite.close(10_000);
    expect(exists(polite.pid!)).toBe(false);
    const stubborn = (await fake(READY + `import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nsys.stdin.close()\ntime.sleep(600)\n`)).child;
    const t0 = performance.now();
    await stubborn.close(300);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(exists(stubborn.pid!)).toBe(false);
  });

  it("a start that does not answer in time kills the child", async () => {
    await expect(fake(`import time\ntime.sleep(600)\n`, 300)).rejects.toThrow(/did not answer "start" within 300 ms/);
  });
});

describe("findTorchPython", () => {
  it("gives the reason when no candidate imports torch", () => {
    const was = process.env.SPIKELM_PYTHON;
    process.env.SPIKELM_PYTHON = "none";
    try {
      expect(findTorchPython()).toEqual({ reason: "no python3 that can import torch (tried none; Debian's python3-torch provides it)" });
    } finally {
      if (was === undefined) delete process.env.SPIKELM_PYTHON;
      else process.env.SPIKELM_PYTHON = was;
    }
  });
});

describe.skipIf(!TORCH)(`torch_block_server.py${TORCH ? "" : " [skipped: no python3 with torch; install Debian's python3-torch]"}`, () => {
  const server = path.join(root, "tools/bench/torch_block_server.py");

  it("runs an exported module on request, writes output and spikes on check, exits at end of input", async () => {
    const file = path.join(root, "examples/tiny_spikelm.spk");
    const inputs = new Map([["x", seededNormal([4, 2, 3, 8], 1)]]);
    const args = { inp: 8, out: 5 };
    const prepared = prepareSpec({ file, entry: "SpikeLinear", args, inputs });
    const files = { module: path.join(tmp, "m.py"), weights: path.join(tmp, "w.safetensors"), inputs: path.join(tmp, "in.safetensors"), out: path.join(tmp, "out.safetensors") };
    fs.writeFileSync(files.module, exportPytorch({ file, entry: "SpikeLinear", args, inputs }).code);
    fs.writeFileSync(files.weights, serializeSafetensors(new Map([...prepared.params.entries].map(([k, e]) => [k, e.tensor as Tensor]))));
    fs.writeFileSync(files.inputs, serializeSafetensors(inputs));
    const { child, first } = await start(TORCH!, server, [files.module, files.weights, files.inputs], 120_000);
    expect(first.ok, JSON.stringify(first)).toBe(true);
    const info = (first as unknown as { info: Record<string, unknown> }).info;
    expect(typeof info["torch"]).toBe("string");
    expect(String(info["parallel_info"])).toContain("ATen/Parallel");
    for (const threads of [1, 2]) {
      const r = await child.request({ op: "run", threads }, 60_000);
      expect(r).toMatchObject({ ok: true, threads });
      expect((r as unknown as { ms: number }).ms).toBeGreaterThan(0);
    }
    expect(await child.request({ op: "check", out: files.out }, 60_000)).toEqual({ ok: true });
    const got = readSafetensors(files.out).tensors;
    expect(got.get("output")!.shape).toEqual(prepared.reference.output.shape);
    const [neuron, rec] = [...prepared.reference.record][0]!;
    // levels compare as numbers (PyTorch's round gives -0 where spikelm's level is 0)
    const level = (v: number) => (v === 0 ? 0 : v);
    expect(Array.from(got.get(`spikes/${neuron}`)!.data, level)).toEqual(Array.from(rec.levels.data, level));
    expect(await child.request({ op: "nonsense" }, 60_000)).toEqual({ ok: false, error: "unknown op 'nonsense'" });
    await child.close(30_000);
    expect(exists(child.pid!)).toBe(false);
  });

  it("answers the reason when the module cannot be loaded", async () => {
    const missing = path.join(tmp, "missing.py");
    const { child, first } = await start(TORCH!, server, [missing, missing, missing], 120_000);
    expect(first.ok).toBe(false);
    expect((first as { error: string }).error).toMatch(/missing\.py/);
    await child.close(30_000);
    expect(exists(child.pid!)).toBe(false);
  });
});
