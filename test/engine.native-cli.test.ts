/**
 * `spikelm classify --timings` on and off the native kernels: with SPIKELM_NATIVE=0 the
 * forward runs on WebAssembly and the timings line says why the native kernels did not run;
 * with them (where the addon loads) the forward's spike products run natively, the line has
 * no such note, and the command prints the same result.
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { nativeStatus } from "../interpreter/engine/kernels/spike-matmul.js";
import { REPO } from "./helpers.js";

const status = nativeStatus();

function classify(env: NodeJS.ProcessEnv) {
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(REPO, "tools/cli/main.ts"), "classify", "--timings", "a fine film"], { cwd: REPO, encoding: "utf8", env, timeout: 120_000 });
  const line = r.stderr.split("\n").find((l) => l.startsWith("timings: ")) ?? "";
  const m = /spike matmuls: (\d+) native, (\d+) wasm, (\d+) js([^;]*);/.exec(line);
  return { code: r.status, out: r.stdout, err: r.stderr, calls: m ? { native: Number(m[1]), wasm: Number(m[2]), js: Number(m[3]), note: m[4]! } : undefined };
}

describe("spikelm classify --timings and the native kernels", () => {
  let off: ReturnType<typeof classify>;
  beforeAll(() => {
    off = classify({ ...process.env, SPIKELM_NATIVE: "0" });
  });

  it("SPIKELM_NATIVE=0: the forward runs on WebAssembly, and the timings line says why not native", () => {
    expect(off.code, off.err).toBe(0);
    expect(off.calls).toMatchObject({ native: 0, note: " (native kernels unavailable: turned off (SPIKELM_NATIVE=0))" });
    expect(off.calls!.wasm).toBeGreaterThan(0);
  });

  it.skipIf(!status.ready)(`with the native kernels: they run the spike products, no note, the same result${status.ready ? "" : ` (SKIPPED: ${status.reason})`}`, () => {
    const on = classify(process.env);
    expect(on.code, on.err).toBe(0);
    expect(on.calls).toMatchObject({ wasm: 0, note: "" });
    expect(on.calls!.native).toBeGreaterThan(0);
    expect(on.out).toBe(off.out);
    expect(on.out).toMatch(/a fine film/);
  });
});
