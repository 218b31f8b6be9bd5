/**
 * The playground's run worker (tools/playground/workers/run-handler.ts) against the CLI: for
 * the same spec, seed and inputs, its taps and rates equal `spikelm run ... --record --out`,
 * bit for bit. The CLI runs as a separate process (the oracle); the handler runs here under
 * Node and, in a child process with `--conditions=browser`, on the browser platform layer
 * (in-memory files, POSIX paths, no kernel threads) the page's Web Worker uses.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initSpikeKernels } from "../interpreter/engine/kernels/spike-matmul.js";
import type { Tensor } from "../interpreter/engine/tensor.js";
import { parseTensor } from "../interpreter/io/tensor-json.js";
import type { RunRequest, RunSuccess, RunWorkerReply, Tap, TensorData } from "../tools/playground/protocol.js";
import { handle } from "../tools/playground/workers/run-handler.js";
import { KJV_MERGES } from "../models/spikelm/make-bpe.js";
import { BpeTokenizer } from "../models/tokenizers/bpe.js";
import { REPO } from "./helpers.js";

const KJV_BPE_TOKENIZER = BpeTokenizer.fromFile(KJV_MERGES);

const TINY = path.join(REPO, "models/tiny/tiny_spikelm.spk");
const TINY_URI = pathToFileURL(TINY).href;
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-playground-"));
  await initSpikeKernels();
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function tensorJson(t: TensorData) {
  return { shape: t.shape, dtype: t.dtype, data: Array.from(t.data) };
}

interface CliRun {
  readonly output: Tensor;
  readonly spikes: Map<string, Tensor>;
  readonly outputs: Map<string, Tensor>;
}

/** `spikelm run` in its own process, on the inputs the worker used; what --out wrote. */
function cli(args: readonly string[], inputs: Readonly<Record<string, TensorData>>): CliRun {
  const input = path.join(dir, `in-${Math.random().toString(36).slice(2)}.json`);
  const out = input.replace("in-", "out-");
  fs.writeFileSync(input, JSON.stringify(Object.fromEntries(Object.entries(inputs).map(([k, t]) => [k, tensorJson(t)]))));
  const r = spawnSync(process.execPath, ["--import", "tsx", "tools/cli/main.ts", "run", ...args, "--input", input, "--out", out], { cwd: REPO, encoding: "utf8" });
  // Only the note a weights mapping prints.
  expect(r.stderr.split("\n").filter((l) => l !== "" && !l.startsWith("weights: "))).toEqual([]);
  expect(r.status).toBe(0);
  const json = JSON.parse(fs.readFileSync(out, "utf8")) as { output: unknown; record?: Record<string, { spikes?: unknown; output?: unknown }> };
  const spikes = new Map<string, Tensor>();
  const outputs = new Map<string, Tensor>();
  for (const [k, v] of Object.entries(json.record ?? {})) {
    if (v.spikes) spikes.set(k, parseTensor(v.spikes, k, out));
    if (v.output) outputs.set(k, parseTensor(v.output, k, out));
  }
  return { output: parseTensor(json.output, "output", out), spikes, outputs };
}

const bits = (a: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(a).buffer));

function expectOk(r: RunWorkerReply): RunSuccess {
  if (r.type !== "run" || !r.ok) throw new Error(`run failed: ${JSON.stringify(r)}`);
  return r;
}

function expectSameAsCli(r: RunSuccess, c: CliRun): void {
  expect(bits(r.outputs.output!.data)).toEqual(bits(c.output.data));
  const spikes = r.taps.filter((t): t is Extract<Tap, { kind: "spikes" }> => t.kind === "spikes");
  expect(spikes.map((t) => t.path)).toEqual([...c.spikes.keys()]);
  for (const t of spikes) {
    const want = c.spikes.get(t.path)!;
    expect(t.shape).toEqual(want.shape);
    expect(Array.from(t.levels)).toEqual(Array.from(want.data));
  }
  const outs = r.taps.filter((t): t is Extract<Tap, { kind: "output" }> => t.kind === "output");
  expect(outs.map((t) => t.path)).toEqual([...c.outputs.keys()]);
  for (const t of outs) {
    const want = c.outputs.get(t.path)!;
    expect(t.shape).toEqual(want.shape);
    expect(bits(t.values)).toEqual(bits(want.data));
  }
  // Rates: counted here from the CLI's levels (the CLI's table counts the same way).
  expect(r.rates.map((x) => x.path)).toEqual([...c.spikes.keys()]);
  for (const x of r.rates) {
    const d = Array.from(c.spikes.get(x.path)!.data);
    const pos = d.filter((v) => v > 0).length;
    const neg = d.filter((v) => v < 0).length;
    expect([x.rate, x.ratePos, x.rateNeg]).toEqual([(pos + neg) / d.length, pos / d.length, neg / d.length]);
  }
}

const tinyRun = (over: Partial<RunRequest> = {}): RunRequest => ({
  type: "run",
  id: 1,
  files: {},
  main: TINY_URI,
  entry: "TinySpikeLM",
  args: { depth: 1 },
  seed: 3,
  input: { kind: "random", seed: 7, sizes: { L: 6 } },
  report: false,
  ...over,
});

describe("run worker handler vs spikelm run --record", () => {
  it("TinySpikeLM, random ids: every neuron's spikes, rates and the output, bit for bit", async () => {
    const r = expectOk(await handle(tinyRun()));
    expect(r.inputs.ids!.shape).toEqual([1, 6]);
    expect(r.taps.length).toBeGreaterThan(3);
    // Spikes of both signs, so a sign mix-up would show.
    expect(r.rates.some((x) => x.ratePos > 0) && r.rates.some((x) => x.rateNeg > 0)).toBe(true);
    expectSameAsCli(r, cli([TINY, "--entry", "TinySpikeLM", "--arg", "depth=1", "--seed", "3", "--record"], r.inputs));
  });

  it("--record PATH patterns: the matching layer outputs and neurons, T and step mode", async () => {
    const r = expectOk(await handle(tinyRun({ record: ["blocks.*", "blocks.0.up.fire"], steps: 2, mode: "step", seed: 0, input: { kind: "random", seed: 11, sizes: { L: 3 } } })));
    expect(r.timesteps).toBe(2);
    expect(r.taps.map((t) => `${t.kind} ${t.path}`)).toEqual(["spikes blocks.0.up.fire", "output blocks.0"]);
    expectSameAsCli(r, cli([TINY, "--entry", "TinySpikeLM", "--arg", "depth=1", "--timesteps", "2", "--mode", "step", "--record", "blocks.*", "--record", "blocks.0.up.fire"], r.inputs));
  });

  it("an edited spec (files overlay) runs with its edits; a float input layer from the examples", async () => {
    const text = fs.readFileSync(path.join(REPO, "examples/tiny_spikelm.spk"), "utf8");
    const uri = "file:///playground/main.spk";
    const files = { [uri]: text.replace('import "./neurons.spk"', 'import "std/neurons"') };
    const r = expectOk(await handle({ type: "run", id: 2, files, main: uri, entry: "SpikeLinear", args: { inp: 16, out: 8 }, seed: 5, input: { kind: "random", seed: 2 }, report: false }));
    // [T, B, L, inp] with T 4 and L 8 by default.
    expect(r.inputs.x!.shape).toEqual([4, 1, 8, 16]);
    const onDisk = path.join(dir, "main.spk");
    fs.writeFileSync(onDisk, files[uri]!);
    fs.copyFileSync(path.join(REPO, "examples/neurons.spk"), path.join(dir, "neurons.spk"));
    expectSameAsCli(r, cli([onDisk, "--entry", "SpikeLinear", "--arg", "inp=16", "--arg", "out=8", "--seed", "5", "--record"], r.inputs));
  });

  it.each([
    ["decoder-small", ["ids"]],
    ["decoder-small-bpe", ["ids"]],
    ["classifier-small", ["ids", "types", "mask"]],
  ])("a shipped model on a text (%s, trained weights): the command the response gives reproduces it", async (model, inputs) => {
    const r = expectOk(await handle({ type: "run", id: 4, files: {}, main: "", entry: "", args: {}, model, input: { kind: "text", text: "In the beginning" }, report: false }));
    expect(Object.keys(r.inputs)).toEqual(inputs);
    if (model === "decoder-small") expect(Array.from(r.inputs.ids!.data)).toEqual([...Buffer.from("In the beginning")]);
    // BPE: "In", " the", " beginning", each one token of the KJV vocabulary.
    else if (model === "decoder-small-bpe") expect(Array.from(r.inputs.ids!.data).map((id) => KJV_BPE_TOKENIZER.decode([id]))).toEqual(["In", " the", " beginning"]);
    // WordPiece: [CLS] ... [SEP], all attended.
    else expect(Array.from(r.inputs.mask!.data).every((v) => v === 1)).toBe(true);
    const words = r.command.split(" ");
    expect(words.slice(0, 2)).toEqual(["spikelm", "run"]);
    expect(words).toContain("--weights");
    // The command as given, with the inputs file it names.
    const args = words.slice(2);
    const at = args.indexOf("--input");
    args.splice(at, 2);
    args[0] = path.join(REPO, args[0]!);
    const wi = args.indexOf("--weights") + 1;
    args[wi] = path.join(REPO, args[wi]!);
    expectSameAsCli(r, cli(args, r.inputs));
  });

  it("the report is the CLI's (run --report FILE.json): totals, layers and the spike-driven proof", async () => {
    const r = expectOk(await handle(tinyRun({ report: true })));
    const file = path.join(dir, "report.json");
    const input = path.join(dir, "report-in.json");
    fs.writeFileSync(input, JSON.stringify({ ids: tensorJson(r.inputs.ids!) }));
    const p = spawnSync(process.execPath, ["--import", "tsx", "tools/cli/main.ts", "run", TINY, "--entry", "TinySpikeLM", "--arg", "depth=1", "--seed", "3", "--input", input, "--report", file], { cwd: REPO, encoding: "utf8" });
    expect(p.status).toBe(0);
    const want = JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;
    const got = JSON.parse(JSON.stringify(r.report)) as Record<string, unknown>;
    for (const k of ["total", "layers", "neurons", "non_spike_matmuls", "matmuls"]) {
      expect(want[k], k).toBeDefined();
      expect(got[k], k).toEqual(want[k]);
    }
    expect((got.total as { spike_driven: unknown }).spike_driven).toBeTypeOf("boolean");
  });

  it("a typo gives diagnostics with line:col, not an exception", async () => {
    const uri = "file:///playground/typo.spk";
    const text = 'import "std/neurons"\nneuron N(k = 1.0) {\n  step(x) {\n    emit heavisid(x)\n  }\n}\n';
    const r = await handle({ type: "run", id: 3, files: { [uri]: text }, main: uri, entry: "N", args: {}, input: { kind: "random", seed: 1 } });
    if (r.ok) throw new Error("a typo ran");
    expect(r.diagnostics[0]).toMatchObject({ uri, line: 4, col: 10, severity: "error" });
    expect(r.message).toMatch(/^typo\.spk:4:10: .*heavisid/);
  });

  it("a bad seed or entry is a message, not an exception", async () => {
    const bad = await handle(tinyRun({ seed: -1 }));
    expect(bad).toMatchObject({ ok: false, message: expect.stringContaining("seed") });
    const noEntry = await handle(tinyRun({ entry: "TinySpikeLn" }));
    expect(noEntry).toMatchObject({ ok: false, message: expect.stringContaining("did you mean `TinySpikeLM`") });
  });
});

describe("the handler on the browser platform layer", () => {
  it("in a child with --conditions=browser (in-memory files under /spikelm, no threads): the same bits as under Node", async () => {
    const requests: RunRequest[] = [
      tinyRun({ main: "file:///spikelm/models/tiny/tiny_spikelm.spk", record: ["blocks.*", "**.fire"] }),
      { type: "run", id: 2, files: {}, main: "file:///spikelm/examples/tiny_spikelm.spk", entry: "SpikeLinear", args: { inp: 16, out: 8 }, seed: 5, input: { kind: "random", seed: 2 }, report: false },
    ];
    const child = spawnSync(process.execPath, ["--conditions=browser", "--import", "tsx", "test/playground.browser-platform.child.ts", REPO], {
      cwd: REPO,
      encoding: "utf8",
      input: requests.map((r) => JSON.stringify(r)).join("\n"),
    });
    expect(child.stderr).toBe("");
    const lines = child.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toEqual({ platform: "browser", same: true });
    for (const [i, req] of requests.entries()) {
      const browser = lines[i + 1] as unknown as RunSuccess;
      expect(browser.ok, JSON.stringify(browser).slice(0, 300)).toBe(true);
      // The same run under Node, from the files on disk.
      const node = expectOk(await handle({ ...req, main: req.main.replace("file:///spikelm/", pathToFileURL(`${REPO}/`).href) }));
      expect(browser.timings.threads).toBe(1);
      expect(bits(browser.outputs.output!.data as unknown as number[])).toEqual(bits(node.outputs.output!.data));
      expect(browser.taps.map((t) => t.path)).toEqual(node.taps.map((t) => t.path));
      expect(browser.taps.length).toBeGreaterThan(0);
      browser.taps.forEach((t, j) => {
        const n = node.taps[j]!;
        if (t.kind === "spikes" && n.kind === "spikes") expect(t.levels as unknown as number[]).toEqual(Array.from(n.levels));
        else if (t.kind === "output" && n.kind === "output") expect(bits(t.values as unknown as number[])).toEqual(bits(n.values));
        else throw new Error(`tap ${t.path}: ${t.kind} vs ${n.kind}`);
      });
      expect(browser.rates).toEqual(node.rates);
    }
  });
});

describe("catalog, entries and bundled files", () => {
  it("lists the examples with runs that work as written, and the small models", async () => {
    const c = await handle({ type: "catalog", id: 1 });
    if (c.type !== "catalog" || !c.ok) throw new Error("catalog failed");
    expect(c.models.map((m) => m.name)).toEqual(["decoder-small", "decoder-small-bpe", "mlm-small", "classifier-small", "encoder-small"]);
    for (const ex of c.examples)
      for (const run of ex.runs) {
        const r = await handle({ type: "run", id: 9, files: {}, main: ex.uri, entry: run.entry, args: run.args, input: run.input, report: false });
        expect(r.ok, `${ex.path} ${run.entry}: ${JSON.stringify(r).slice(0, 300)}`).toBe(true);
      }
    for (const uri of c.files) expect((await handle({ type: "file", id: 2, uri })).ok, uri).toBe(true);
  });

  it("entries: runnable declarations with their parameters", async () => {
    const e = await handle({ type: "entries", id: 1, files: {}, main: pathToFileURL(path.join(REPO, "examples/tiny_spikelm.spk")).href });
    if (e.type !== "entries" || !e.ok) throw new Error("entries failed");
    const linear = e.entries.find((x) => x.name === "SpikeLinear")!;
    expect(linear).toMatchObject({ declKind: "layer", line: 5 });
    expect(linear.params).toEqual([
      { name: "inp", required: true },
      { name: "out", required: true },
      { name: "act", required: false },
    ]);
    expect(e.entries.find((x) => x.name === "TinySpikeLM")?.params[0]).toEqual({ name: "vocab", default: 256, required: false });
  });
});
