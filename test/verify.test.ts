/**
 * `spikelm verify`: passes on the shipped example specs and a model; a deliberately broken
 * executor path (a fault that rounds some values of one op up by one ulp) is caught, shrunk,
 * located at the right op and line, and its replay file reproduces it; the CLI's exit codes,
 * summary JSON and argument errors.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Program } from "../interpreter/checker/program.js";
import { initSpikeKernels, shutdownKernelPool } from "../interpreter/engine/kernels/spike-matmul.js";
import { setVecTuning } from "../interpreter/engine/kernels/wasm-vector.js";
import { wasmNeuronStats } from "../interpreter/optimized/neuron-wasm.js";
import type { TraceFn } from "../interpreter/reference/interpreter.js";
import { type KernelPath, availablePaths } from "../interpreter/verify/paths.js";
import { replayCase, replayJson } from "../interpreter/verify/replay.js";
import { type VerifyOptions, verify } from "../interpreter/verify/verify.js";
import { type VerifyCommandOptions, verifyCommand } from "../tools/cli/commands/verify.js";
import { verifyReport } from "../tools/cli/commands/verify-report.js";
import { EXAMPLES, REPO } from "./helpers.js";

const run = promisify(execFile);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-verify-"));
let paths: KernelPath[] = [];

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ["--import", "tsx", path.join(REPO, "tools/cli/main.ts"), "verify", ...args], { cwd: REPO, encoding: "utf8" });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

const TINY = path.join(EXAMPLES, "tiny_spikelm.spk");
const NEURONS = path.join(EXAMPLES, "neurons.spk");
const lib = (o: Omit<VerifyOptions, "paths" | "seed"> & { seed?: number }) => verify({ seed: 11, paths, ...o });

/** The `+ b` of SpikeLinear's `fire(x) @ transpose(W) + b`: its fused (mul, add) node. */
const LINE_OF_ADD = fs.readFileSync(TINY, "utf8").split("\n").findIndex((l) => l.includes("return fire(x) @ transpose(W) + b")) + 1;

/**
 * The broken path: on the optimized executor's fused elementwise nodes, every result of
 * magnitude >= 2 is rounded up by one ulp instead of to nearest. Data-dependent, so shrinking
 * has something to do, and only the optimized path has it.
 */
const roundingFault: TraceFn = (node, value) => {
  if (node.op !== "fused") return;
  const d = value.data as Float32Array;
  const bits = new Uint32Array(1);
  const f = new Float32Array(bits.buffer);
  for (let i = 0; i < d.length; i++) {
    const x = d[i]!;
    if (!Number.isFinite(x) || Math.abs(x) < 2) continue;
    f[0] = x;
    bits[0]! += 1;
    d[i] = f[0]!;
  }
};

beforeAll(async () => {
  paths = availablePaths(await initSpikeKernels({ threads: 2 }));
  // As the command does: small chunks, so that neuron steps split over both threads.
  setVecTuning({ chunk: 16, threadMin: 0 });
});
afterAll(() => {
  setVecTuning({});
  // The WebAssembly neuron paths ran the vector machine, not only the JS fallback.
  expect(wasmNeuronStats.runs).toBeGreaterThan(0);
  return shutdownKernelPool();
});

describe("verify on shipped specs", () => {
  it("every neuron of examples/neurons.spk, with finite and non-finite values", () => {
    for (const entry of ["LIF", "BiLIF", "ElasticBiSpike", "SpikeLMReference", "BiSpikeQuant"])
      for (const nonfinite of [false, true]) {
        const r = lib({ file: NEURONS, entry, runs: 4, nonfinite });
        expect(r.counterexample, `${entry}${nonfinite ? " (non-finite)" : ""}`).toBeUndefined();
        // reference step + every available kernel path (9 where the native addon loads, else 7) × 2 modes, 2 calls each, + 3 gradient comparisons
        expect(r.checks).toBe(4 * (2 + paths.length * 2 * 2 + 3));
      }
  });

  it("the layers of examples/tiny_spikelm.spk and a small TinySpikeLM model", () => {
    const cases: [string, Record<string, number>, number][] = [
      ["SpikeLinear", { inp: 5, out: 3 }, 6],
      ["SpikeSelfAttention", { d: 4, heads: 2 }, 2],
      ["SpikeBlock", { d: 4, heads: 2, ffn: 8 }, 1],
      ["TinySpikeLM", { vocab: 16, d: 8, heads: 2, depth: 1, ffn: 16, ctx: 8 }, 2],
    ];
    for (const [entry, args, runs] of cases) {
      const r = lib({ file: TINY, entry, args, runs, nonfinite: entry === "SpikeLinear" });
      expect(r.counterexample, entry).toBeUndefined();
      expect(r.runs).toBe(runs);
    }
  });

  it("signatures with `...` and integer ids (the prelude's Linear and Embedding)", () => {
    const prelude = path.join(REPO, "stdlib/prelude.spk");
    const linear = lib({ file: prelude, entry: "Linear", args: { inp: 3, out: 2 }, runs: 2 });
    expect(linear.counterexample).toBeUndefined();
    expect(linear.shape.signature.free).toEqual(["..."]);
    const embedding = lib({ file: prelude, entry: "Embedding", args: { n: 5, d: 3 }, runs: 2 });
    expect(embedding.counterexample).toBeUndefined();
    expect(embedding.shape.signature.inputs).toEqual([{ name: "ids", dtype: "i32", timed: false, dims: [{ free: "..." }] }]);
  });

  it("refuses an entry too large to verify, naming the limit", () => {
    expect(() => lib({ file: TINY, entry: "SpikeLMClassifier", runs: 1 })).toThrow(/too large to verify: .* more than verify's limit of 1,048,576 .*--arg/);
  });
});

describe("a broken path", () => {
  const program = new Program();
  const base = { file: TINY, entry: "SpikeLinear", args: { inp: 4, out: 3 }, program, fault: roundingFault };

  it("is caught, shrunk and located at the op and line; the replay file reproduces it", async () => {
    const r = lib({ ...base, runs: 40, seed: 3 });
    const cx = r.counterexample!;
    expect(cx, "the fault must be caught").toBeDefined();
    expect(r.failures).toBe(1);
    // Shrunk: every free size is at its smallest, and the fault still shows.
    expect(cx.case.sizes).toEqual({ T: 1, B: 1, L: 1 });
    expect(cx.failure.path.kind).toBe("optimized");
    expect(cx.failure.difference?.what).toBe("output");
    const loc = cx.location!;
    expect(loc.what).toBe("fused (mul, add)");
    const origin = loc.origin!;
    expect(origin.uri).toBe(TINY);
    expect(program.files.get(origin.uri)!.lines.position(origin.span.start).line + 1).toBe(LINE_OF_ADD);
    // The located element is the one the fault changed: one ulp up from the reference.
    const n = loc.node!;
    expect(Math.abs(n.expected!)).toBeGreaterThanOrEqual(2);
    expect(n.actual).toBe(new Float32Array(new Uint32Array([new Uint32Array(new Float32Array([n.expected!]).buffer)[0]! + 1]).buffer)[0]);

    // The replay file: written, read back for the same entry, reproduces exactly the failure.
    const file = path.join(dir, "case.json");
    fs.writeFileSync(file, JSON.stringify(replayJson({ file: TINY, entry: base.entry, args: base.args, nonfinite: false, seed: 3 }, cx)));
    const json = replayCase(JSON.parse(fs.readFileSync(file, "utf8")), file, base.entry, base.args);
    const again = lib({ ...base, replay: { json, file } });
    expect(again.runs).toBe(1);
    expect(again.counterexample?.case).toEqual(cx.case);
    expect(again.counterexample?.failure).toEqual(cx.failure);
    expect(again.counterexample?.location?.node?.node.id).toBe(n.node.id);
    // Without the fault the same case passes: the difference was the broken path's. The
    // command reads the same file (and, with the kernels of this build, agrees).
    expect(lib({ ...base, fault: undefined, replay: { json, file } }).counterexample).toBeUndefined();
    const summary = path.join(dir, "replayed.json");
    const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    let code: number;
    let printed = "";
    try {
      code = await verifyCommand(TINY, { entry: base.entry, arg: ["inp=4", "out=3"], replay: file, json: summary });
      printed = write.mock.calls.map((c) => String(c[0])).join("");
    } finally {
      write.mockRestore();
    }
    expect(code).toBe(0);
    expect(printed).toMatch(/: 1 replayed case, \d+ checks, every path agrees/);
    expect(JSON.parse(fs.readFileSync(summary, "utf8"))).toMatchObject({ runs: 1, failures: 0 });
    // What the command prints and writes for it.
    const report = verifyReport(r, { file: TINY, entry: base.entry, args: base.args, nonfinite: false, replayed: false, caseOut: "c.json", program });
    const text = report.lines.join("\n");
    expect(text).toMatch(/^verify SpikeLinear \(.*tiny_spikelm\.spk\): counterexample after \d+ cases? \(seed 3/);
    expect(text).toContain("optimized multi-step (js event, js neurons) vs reference multi-step, call 1:");
    expect(text).toMatch(new RegExp(`first differing op: %${n.node.id} fused \\(mul, add\\) at .*tiny_spikelm\\.spk:${LINE_OF_ADD}:\\d+`));
    expect(text).toContain("input x [1, 1, 1, 4]:");
    expect(text).toContain("--replay c.json");
    expect(report.replay).toMatchObject({ entry: "SpikeLinear", args: base.args, case: cx.case });
    expect(report.summary).toMatchObject({ runs: r.runs, failures: 1, seed: 3, counterexample: { check: cx.failure.check, case: cx.case } });
    // A case edited out of its bounds is refused, naming the field.
    const tampered = { ...(json as Record<string, unknown>), sizes: { T: 9, B: 1, L: 1 } };
    expect(() => lib({ ...base, replay: { json: tampered, file } })).toThrow(/case\.json: sizes\.T must be a whole number from 1 to 3/);
    // A replay file for another entry or other arguments is refused.
    expect(() => replayCase(JSON.parse(fs.readFileSync(file, "utf8")), file, "SpikeBlock", base.args)).toThrow(/written for entry `SpikeLinear`/);
    expect(() => replayCase(JSON.parse(fs.readFileSync(file, "utf8")), file, base.entry, { inp: 5, out: 3 })).toThrow(/--arg inp=4 --arg out=3/);
  });

  it("a fault only in step-by-step mode is located from the step-mode trace", () => {
    const stepOnly: TraceFn = (node, value, t) => {
      if (t >= 0) roundingFault(node, value, t);
    };
    const r = lib({ ...base, fault: stepOnly, runs: 40, seed: 4 });
    const cx = r.counterexample!;
    expect(cx.failure.path).toMatchObject({ kind: "optimized", mode: "step" });
    expect(cx.location?.what).toBe("fused (mul, add)");
    expect(cx.location?.node?.step).toBe(0);
  });

  it("a path that throws is a counterexample, located at the op it failed in", () => {
    const crash: TraceFn = (node) => {
      if (node.op === "fused") throw new Error("kernel crashed");
    };
    const r = lib({ ...base, fault: crash, runs: 5 });
    const cx = r.counterexample!;
    expect(cx.failure.error).toBe("kernel crashed");
    expect(cx.location?.what).toMatch(/^%\d+ fused \(mul, add\), where the path failed$/);
    const text = verifyReport(r, { file: TINY, entry: base.entry, args: base.args, nonfinite: false, replayed: true, caseOut: "c.json", program }).lines.join("\n");
    expect(text).toContain("the path failed: kernel crashed");
    expect(text).toMatch(new RegExp(`failed in: %\\d+ fused \\(mul, add\\), where the path failed at .*tiny_spikelm\\.spk:${LINE_OF_ADD}:`));
  });

  it("a fault in a neuron's levels is located at its neuron call", () => {
    // Flip the first spike of the neuron's levels (written by its compiled kernel).
    const fault: TraceFn = (node, value) => {
      if (node.op !== "neuron_out" || node.attrs.field !== "levels") return;
      const d = value.data as Float32Array;
      const i = d.findIndex((x) => x > 0);
      if (i >= 0) d[i] = -d[i]!;
    };
    const r = lib({ file: NEURONS, entry: "LIF", runs: 30, seed: 5, program, fault });
    const loc = r.counterexample?.location;
    expect(loc?.what).toBe("levels of neuron LIF");
    // A projection has the neuron call's origin: for an entry neuron, its declaration.
    const at = program.files.get(loc!.origin!.uri)!.lines.position(loc!.origin!.span.start);
    expect(fs.readFileSync(NEURONS, "utf8").split("\n")[at.line]).toContain("neuron LIF");
  });
});

describe("spikelm verify (CLI)", () => {
  it("exit 0 with a --json summary", async () => {
    const json = path.join(dir, "summary.json");
    const r = await cli(NEURONS, "--entry", "SpikeLMReference", "--runs", "3", "--seed", "42", "--json", json);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^verify SpikeLMReference \(.*neurons\.spk\): 3 cases, \d+ checks, every path agrees bit for bit \(seed 42, /);
    const s = JSON.parse(fs.readFileSync(json, "utf8")) as Record<string, unknown>;
    expect(s).toMatchObject({ entry: "SpikeLMReference", runs: 3, failures: 0, seed: 42 });
    expect(s.checks).toBe(3 * (2 + paths.length * 4 + 3));
    expect(typeof s.time_s).toBe("number");
    expect(s.counterexample).toBeUndefined();
  });

  it("bad arguments: exit 1, a clear message, nothing written", async () => {
    const json = path.join(dir, "never.json");
    // Two through the process (the exit code and stderr), the rest through the command itself.
    // One through the process (exit code, stderr only), the rest through the command itself.
    const r = await cli(TINY, "--entry", "SpikeLMClassifier", "--json", json);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/^error: `SpikeLMClassifier` is too large to verify: .*\n$/);
    expect(r.stdout).toBe("");
    const bad: [string, Partial<VerifyCommandOptions>, RegExp][] = [
      [NEURONS, { entry: "Nope" }, /neurons\.spk has no neuron, layer or model named `Nope`/],
      [NEURONS, { runs: "0" }, /--runs expects a whole number >= 1, found `0`/],
      [NEURONS, { runs: "2.5" }, /--runs expects a whole number >= 1, found `2\.5`/],
      [NEURONS, { seed: "-1" }, /--seed expects a whole number >= 0, found `-1`/],
      [NEURONS, { replay: path.join(dir, "missing.json") }, /missing\.json: replay file not found/],
      [NEURONS, { json: path.join(dir, "summary.txt") }, /--json .*summary\.txt: expected a \.json file/],
      [NEURONS, { caseOut: path.join(dir, "no", "such", "case.json") }, /--case-out .*case\.json: cannot write there: no such file or directory/],
      [NEURONS, { arg: ["tauu=1"] }, /`LIF` has no parameter `tauu`; did you mean `tau`\?/],
      [path.join(dir, "missing.spk"), {}, /cannot read spec file .*missing\.spk/],
      [TINY, { entry: "SpikeLinear" }, /`SpikeLinear` needs a value for `inp`: pass --arg inp=<value>/],
    ];
    for (const [file, o, message] of bad) await expect(verifyCommand(file, { entry: "LIF", ...o }), message.source).rejects.toThrow(message);
    expect(fs.existsSync(json)).toBe(false);
  });
});
