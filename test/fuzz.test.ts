/**
 * Fuzzing what a user (or an attacker) can hand spikelm: bounded, seeded, a few seconds each.
 *
 * - Parser + checker on mutated specs (every shipped .spk file, mutated by token, character
 *   and number, numbers including huge, negative, fractional and NaN-producing ones): they
 *   never throw, never report SPK000 (an internal error), keep every span in the document and
 *   never take long (the elaboration bounds of interpreter/limits.ts).
 * - The CLI on bad weights, inputs and arguments (truncated and garbled safetensors and JSON,
 *   wrong shapes and dtypes, huge dimensions): it exits 0 or 1, never prints a stack trace or
 *   "internal error", and on exit 1 writes no output file. These run the command functions
 *   in-process behind the same `guarded` wrapper commander calls (spawning a process per case
 *   costs a second); two cases spawn the real binary to keep that path honest.
 *
 * A failure message carries the seed and the mutation, so a case can be replayed. To search
 * harder, multiply the case counts and move the seeds: `SPIKELM_FUZZ_SCALE=20
 * SPIKELM_FUZZ_SEED=7 npx vitest run test/fuzz.test.ts` (the defaults keep it a few seconds).
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkFiles } from "../interpreter/checker/check.js";
import { Program, diskHost } from "../interpreter/checker/program.js";
import { serializeSafetensors } from "../interpreter/io/safetensors.js";
import { f32, i32, type Tensor } from "../interpreter/engine/tensor.js";
import { checkCommand } from "../tools/cli/commands/check.js";
import { runCommand, type RunOptions } from "../tools/cli/commands/run.js";
import { type Outcome, inProcess } from "./cli-in-process.js";
import { rng } from "../tools/bench/stats.js";
import { EXAMPLES, REPO } from "./helpers.js";

const SCALE = Math.max(1, Number(process.env.SPIKELM_FUZZ_SCALE ?? 1) || 1);
const SEED_SHIFT = Number(process.env.SPIKELM_FUZZ_SEED ?? 0) || 0;
const TIMEOUT = 60_000 * SCALE;

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: () => number, n: number) => Math.floor(r() * n);

function specFiles(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".spk")) out.push(p);
    }
  };
  for (const d of ["examples", "stdlib", "models"]) walk(path.join(REPO, d));
  return out.sort();
}

const NUMBERS = ["0", "-3", "0.5", "1e999", "1e26", "1000000000", "3000000000", "0 / 0", "sqrt(-1)", "-0", "1e-45", "2147483648", "4097", "1.5"];
const NOISE = ["{", "}", "(", ")", "[", "]", "=", ",", ":", ".", "+", "-", "*", "/", "@", '"', "\n", "...", "repeat", "emit", "return", "T", "x", "///"];
const TOKEN = /\s+|\/\/[^\n]*|[A-Za-z_]\w*|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|"[^"\n]*"?|\.\.\.|./g;

/** One seeded mutation of a spec (1-3 edits); returns the text and a description for failure messages. */
function mutate(text: string, r: () => number): { text: string; what: string } {
  const what: string[] = [];
  const edits = 1 + int(r, 3);
  for (let k = 0; k < edits; k++) {
    const tokens: string[] = text.match(TOKEN) ?? [];
    const solid = tokens.map((t, i) => [t, i] as const).filter(([t]) => !/^\s|^\/\//.test(t));
    const numbers = solid.filter(([t]) => /^\d/.test(t));
    const names = solid.filter(([t]) => /^[A-Za-z_]/.test(t));
    const at = (xs: readonly (readonly [string, number])[]) => (xs.length > 0 ? pick(r, xs)[1] : int(r, tokens.length));
    const kind = int(r, 10);
    if (kind <= 2 && numbers.length > 0) {
      const i = at(numbers);
      const n = pick(r, NUMBERS);
      what.push(`number ${tokens[i]} -> ${n}`);
      tokens[i] = n;
    } else if (kind === 3) {
      const i = at(solid);
      what.push(`delete ${JSON.stringify(tokens[i])}`);
      tokens[i] = "";
    } else if (kind === 4) {
      const i = at(solid);
      what.push(`duplicate ${JSON.stringify(tokens[i])}`);
      tokens[i] = `${tokens[i]} ${tokens[i]}`;
    } else if (kind === 5) {
      const i = at(solid);
      const noise = pick(r, NOISE);
      what.push(`insert ${JSON.stringify(noise)} before ${JSON.stringify(tokens[i])}`);
      tokens[i] = `${noise}${tokens[i]}`;
    } else if (kind === 6 && names.length > 1) {
      const i = at(names);
      const j = at(names);
      what.push(`name ${tokens[i]} -> ${tokens[j]}`);
      tokens[i] = tokens[j]!;
    } else if (kind === 7) {
      const i = at(names);
      const deep = pick(r, [`${"(".repeat(80)}x${")".repeat(80)}`, Array.from({ length: 1200 }, () => "x").join(" + "), `${"-".repeat(90)}x`, `x${"[0]".repeat(1100)}`, "a".repeat(5000)]);
      what.push(`deep or long expression for ${tokens[i]}`);
      tokens[i] = deep;
    } else if (kind === 8) {
      const i = at(numbers);
      const n = pick(r, ["1000000000", "100000", "1025"]);
      what.push(`number ${tokens[i]} -> ${n}`);
      tokens[i] = n;
    } else {
      const s = tokens.join("");
      const p = int(r, s.length + 1);
      const c = pick(r, ["", "}", "{", "(", ")", "\u0000", "é", "\r", "\\", "#", "'", "$"]);
      what.push(`char ${JSON.stringify(c)} at ${p}`);
      tokens.length = 0;
      tokens.push(s.slice(0, p) + c + s.slice(p + (r() < 0.5 ? 1 : 0)));
    }
    text = tokens.join("");
  }
  return { text, what: what.join("; ") };
}

describe("fuzz: parser and checker on mutated specs", () => {
  const files = specFiles();
  const SEED = 20261129 + SEED_SHIFT;
  const PER_FILE = 10 * SCALE;

  it("finds the shipped specs", () => {
    expect(files.length).toBeGreaterThanOrEqual(8);
  });

  it.each(files.map((f) => path.relative(REPO, f)))("%s: mutations never throw, never SPK000, stay in bounds", (rel) => {
    const file = path.join(REPO, rel);
    const original = fs.readFileSync(file, "utf8");
    const r = rng(SEED ^ [...rel].reduce((h, c) => (Math.imul(h, 31) + c.charCodeAt(0)) | 0, 7));
    for (let k = 0; k < PER_FILE; k++) {
      const m = mutate(original, r);
      // The mutated text replaces the file in place; its imports still come from disk.
      const host = { read: (f: string) => (f === file ? m.text : diskHost.read(f)) };
      const label = `${rel} seed ${SEED} case ${k}: ${m.what}`;
      const t0 = performance.now();
      let result: ReturnType<typeof checkFiles>;
      try {
        result = checkFiles([file], new Program(host));
      } catch (e) {
        throw new Error(`${label}: threw ${e instanceof Error ? e.stack : String(e)}`);
      }
      const ms = performance.now() - t0;
      expect(ms, `${label}: took ${ms.toFixed(0)} ms`).toBeLessThan(8000);
      const internal = result.diagnostics.filter((d) => d.code === "SPK000");
      expect(internal.map((d) => d.message), label).toEqual([]);
      for (const d of result.diagnostics) {
        const len = result.program.files.get(d.uri)?.text.length ?? 0;
        expect(d.span.start >= 0 && d.span.start <= d.span.end && d.span.end <= len, `${label}: span ${d.span.start}-${d.span.end} of ${len}`).toBe(true);
      }
    }
  }, TIMEOUT);
});

// ---------------------------------------------------------------------------------------
// The CLI on bad weights, inputs and arguments.

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-fuzz-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));


const STACK = /\n\s+at .+:\d+:\d+|internal error|SPK000/;

function expectClean(o: Outcome, outFile: string | undefined, label: string): void {
  expect([0, 1], `${label}: exit ${o.code}\n${o.err}`).toContain(o.code);
  expect(o.err, label).not.toMatch(STACK);
  expect(o.out, label).not.toMatch(STACK);
  if (o.code === 1) {
    expect(o.err.length, `${label}: exit 1 without a message`).toBeGreaterThan(0);
    if (outFile) expect(fs.existsSync(outFile), `${label}: partial output written`).toBe(false);
  }
}

const SPEC = path.join(EXAMPLES, "tiny_spikelm.spk");
const good = {
  W: f32([8, 16], Array.from({ length: 128 }, (_, i) => Math.sin(i) * 0.25)),
  b: f32([8], Array.from({ length: 8 }, (_, i) => i / 10)),
  "fire.alpha": f32([4], [0.5, 0.6, 0.7, 0.8]),
};
const goodInput = { x: f32([4, 2, 3, 16], Array.from({ length: 384 }, (_, i) => Math.cos(i))) };

const toJson = (t: Tensor) => ({ shape: [...t.shape], dtype: t.dtype, data: Array.from(t.data) });
const mapJson = (m: Record<string, Tensor>) => JSON.stringify(Object.fromEntries(Object.entries(m).map(([k, t]) => [k, toJson(t)])));

/** Bad weights as JSON text: structural mutations first, then truncations and garbling. */
function badWeightsJson(r: () => number): { text: string; what: string } {
  const base = Object.fromEntries(Object.entries(good).map(([k, t]) => [k, toJson(t)])) as Record<string, Record<string, unknown>>;
  const name = pick(r, Object.keys(base));
  const t = base[name]!;
  const kind = int(r, 12);
  switch (kind) {
    case 0:
      t.shape = pick(r, [[16, 8], [8, 16, 1], [1e18], [3000000000, 16], [-4, 16], [0.5], [], new Array(100).fill(1)]);
      return { text: JSON.stringify(base), what: `${name}.shape = ${JSON.stringify(t.shape).slice(0, 40)}` };
    case 1:
      t.dtype = pick(r, ["i32", null, "f64", 7, ""]);
      return { text: JSON.stringify(base), what: `${name}.dtype = ${JSON.stringify(t.dtype)}` };
    case 2: {
      const v = pick(r, ["NaN", "Infinity", "-Infinity", 1e39, "x", null, [1]]);
      (t.data as unknown[])[int(r, (t.data as unknown[]).length)] = v;
      return { text: JSON.stringify(base), what: `${name}.data[?] = ${JSON.stringify(v)}` };
    }
    case 3:
      base["fire.alpha"]!.data = pick(r, [[0, 0.5, 0.5, 0.5], [-1, 1, 1, 1], [0.5, 0.5, 0.5, -0]]);
      return { text: JSON.stringify(base), what: `fire.alpha = ${JSON.stringify(base["fire.alpha"]!.data)}` };
    case 4:
      base[pick(r, ["w", "fire.beta", "blocks.0.W", ""])] = toJson(good.b);
      return { text: JSON.stringify(base), what: "unknown tensor name" };
    case 5:
      t.data = (t.data as unknown[]).slice(1);
      return { text: JSON.stringify(base), what: `${name}.data one short` };
    case 6: {
      const text = JSON.stringify(base);
      const cut = int(r, text.length);
      return { text: text.slice(0, cut), what: `truncated at ${cut}` };
    }
    case 7: {
      const chars = [...JSON.stringify(base)];
      for (let k = 0; k < 3; k++) chars[int(r, chars.length)] = pick(r, ["{", "]", '"', ",", "9", "e", "-", "\u0000"]);
      return { text: chars.join(""), what: "garbled characters" };
    }
    case 8:
      return { text: pick(r, ["", "null", "[]", "3", '"w"', "{}"]), what: "not a tensor map" };
    case 9:
      return { text: `{"W": ${JSON.stringify(base.W)}, "W": ${JSON.stringify(base.W)}}`, what: "a name twice" };
    case 10:
      t.data = `${"[".repeat(20000)}${"]".repeat(20000)}` as unknown as number[];
      return { text: JSON.stringify(base).replace(/"\[\[+\]+\]"/, `${"[".repeat(20000)}${"]".repeat(20000)}`), what: "data nested 20000 deep" };
    default:
      delete t.shape;
      return { text: JSON.stringify(base), what: `${name} without shape` };
  }
}

/** Bad weights as safetensors bytes. */
function badSafetensors(r: () => number): { bytes: Uint8Array; what: string } {
  const bytes = serializeSafetensors(new Map(Object.entries(good)));
  const view = new DataView(bytes.buffer);
  const headerLen = Number(view.getBigUint64(0, true));
  const kind = int(r, 7);
  if (kind === 0) {
    const cut = int(r, bytes.length);
    return { bytes: bytes.slice(0, cut), what: `truncated at ${cut}` };
  }
  if (kind === 1) {
    const b = bytes.slice();
    for (let k = 0; k < 4; k++) b[int(r, 8 + headerLen)] = int(r, 256);
    return { bytes: b, what: "garbled header bytes" };
  }
  if (kind === 2) {
    const b = new Uint8Array(bytes.length + 1 + int(r, 7));
    b.set(bytes);
    return { bytes: b, what: "trailing bytes" };
  }
  if (kind === 3) {
    const b = bytes.slice();
    new DataView(b.buffer).setBigUint64(0, pick(r, [0n, 1n << 62n, BigInt(bytes.length), 100_000_001n]), true);
    return { bytes: b, what: "bad header length" };
  }
  // Rewrite the header: wrong dtype, shape or offsets.
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen))) as Record<string, { dtype: unknown; shape: unknown; data_offsets: number[] }>;
  const name = pick(r, Object.keys(header).filter((k) => k !== "__metadata__"));
  const e = header[name]!;
  if (kind === 4) e.dtype = pick(r, ["I32", null, "F8", "BOOL", "U8"]);
  else if (kind === 5) e.shape = pick(r, [[1e18], [3000000000], [2, -1], [1.5], null]);
  else e.data_offsets = [e.data_offsets[0]! + 4, e.data_offsets[1]! + 4];
  const text = JSON.stringify(header);
  const data = bytes.subarray(8 + headerLen);
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(new TextEncoder().encode(text), 8);
  out.set(data, 8 + text.length);
  return { bytes: out, what: `${name}: ${JSON.stringify(e).slice(0, 60)}` };
}

/** Bad inputs and arguments, with good weights. */
function badInput(r: () => number): { input: string; opts: Partial<RunOptions>; what: string } {
  const kind = int(r, 8);
  const x = toJson(goodInput.x) as Record<string, unknown>;
  if (kind === 0) {
    x.shape = pick(r, [[3, 2, 3, 16], [4, 2, 3, 15], [4, 6, 16], [1e18, 16], [5000, 1, 1, 16]]);
    return { input: JSON.stringify({ x }), opts: {}, what: `x.shape = ${JSON.stringify(x.shape)}` };
  }
  if (kind === 1) return { input: JSON.stringify({ x: toJson(i32([4, 2, 3, 16], new Array(384).fill(1))) }), opts: {}, what: "i32 input for an f32 argument" };
  if (kind === 2) return { input: JSON.stringify({ y: x }), opts: {}, what: "wrong input name" };
  if (kind === 3) {
    const text = JSON.stringify({ x });
    const cut = int(r, text.length);
    return { input: text.slice(0, cut), opts: {}, what: `input truncated at ${cut}` };
  }
  const arg = pick(r, [["inp=16", "out=0.5"], ["inp=16", "out=3000000000"], ["inp=-4", "out=8"], ["inp=16", "out=8", "act=3"], ["inp=1e999", "out=8"], ["inp=16"], ["inp=16", "out=8", "depth=100000"]]);
  const ts = pick(r, [undefined, "0", "1e9", "0.5", "5000", "4"]);
  return { input: JSON.stringify({ x }), opts: { arg, timesteps: ts }, what: `--arg ${arg.join(" ")}${ts ? ` --timesteps ${ts}` : ""}` };
}

describe("fuzz: the CLI on bad weights, inputs and arguments", () => {
  const SEED = 8 + SEED_SHIFT;
  const inputFile = path.join(tmp, "x.json");
  fs.writeFileSync(inputFile, mapJson(goodInput));

  const run = (label: string, extra: Partial<RunOptions>) => {
    const outFile = path.join(tmp, `out-${label.replace(/\W+/g, "_").slice(0, 40)}.json`);
    fs.rmSync(outFile, { force: true });
    const opts: RunOptions = { entry: "SpikeLinear", arg: ["inp=16", "out=8"], input: inputFile, out: outFile, opt: false, ...extra };
    return inProcess(() => runCommand(SPEC, opts)).then((o) => ({ o, outFile }));
  };

  it("the unmutated case runs (exit 0, output written)", async () => {
    const weights = path.join(tmp, "good.json");
    fs.writeFileSync(weights, mapJson(good));
    const { o, outFile } = await run("good", { weights });
    expect(o.err).toBe("");
    expect(o.code).toBe(0);
    expect(JSON.parse(fs.readFileSync(outFile, "utf8")).output.shape).toEqual([4, 2, 3, 8]);
  });

  it("bad JSON weights: exit 0 or 1, no stack trace, no partial output", async () => {
    const r = rng(SEED);
    for (let k = 0; k < 30 * SCALE; k++) {
      const m = badWeightsJson(r);
      const weights = path.join(tmp, `w${k}.json`);
      fs.writeFileSync(weights, m.text);
      const { o, outFile } = await run(`json ${k}`, { weights });
      expectClean(o, outFile, `json weights seed ${SEED} case ${k}: ${m.what}`);
    }
  }, TIMEOUT);

  it("bad safetensors weights: exit 0 or 1, no stack trace, no partial output", async () => {
    const r = rng(SEED + 1);
    for (let k = 0; k < 30 * SCALE; k++) {
      const m = badSafetensors(r);
      const weights = path.join(tmp, `w${k}.safetensors`);
      fs.writeFileSync(weights, m.bytes);
      const { o, outFile } = await run(`st ${k}`, { weights });
      expectClean(o, outFile, `safetensors seed ${SEED + 1} case ${k}: ${m.what}`);
      // Garbling can leave a valid file, but never one whose bytes do not tile the data.
      if (/trailing bytes|bad header length/.test(m.what)) expect(o.code, m.what).toBe(1);
    }
  }, TIMEOUT);

  it("bad inputs and arguments: exit 0 or 1, no stack trace, no partial output", async () => {
    const r = rng(SEED + 2);
    for (let k = 0; k < 30 * SCALE; k++) {
      const m = badInput(r);
      const input = path.join(tmp, `x${k}.json`);
      fs.writeFileSync(input, m.input);
      const { o, outFile } = await run(`in ${k}`, { input, ...m.opts });
      expectClean(o, outFile, `input seed ${SEED + 2} case ${k}: ${m.what}`);
    }
  }, TIMEOUT);

  it("refuses each known bad case with exit 1 and names the problem", async () => {
    const cases: [string, string, RegExp][] = [
      ["amplitude 0", mapJson({ ...good, "fire.alpha": f32([4], [0, 0.5, 0.5, 0.5]) }), /amplitude "fire\.alpha"\[0\] = 0: .*must be > 0/],
      ["negative amplitude", mapJson({ ...good, "fire.alpha": f32([4], [0.5, -1, 0.5, 0.5]) }), /amplitude "fire\.alpha"\[1\] = -1/],
      ["dtype null", mapJson(good).replace('"dtype":"f32"', '"dtype":null'), /"dtype" must be "f32" or "i32", got null/],
      ["i32 weight", mapJson({ ...good, b: i32([8], new Array(8).fill(1)) }), /"b" (must be f32, found i32|is an integer tensor \(i32\) where float32 is expected)/],
      ["huge shape", mapJson(good).replace('"shape":[8,16]', '"shape":[1e18]'), /"shape"\[0\] must be a non-negative integer, got 1000000000000000000/],
    ];
    for (const [what, text, re] of cases) {
      const weights = path.join(tmp, `known-${what.replace(/\W/g, "_")}.json`);
      fs.writeFileSync(weights, text);
      const { o, outFile } = await run(`known ${what}`, { weights });
      expectClean(o, outFile, what);
      expect(o.code, what).toBe(1);
      expect(o.err, what).toMatch(re);
    }
    const input = path.join(tmp, "x-i32.json");
    fs.writeFileSync(input, mapJson({ x: i32([4, 2, 3, 16], new Array(384).fill(1)) }));
    const { o } = await run("known i32 input", { input });
    expect(o.code).toBe(1);
    expect(o.err).toMatch(/input `x` of `SpikeLinear` is declared f32, but the tensor given is i32 \(shape \[4, 2, 3, 16\]\)/);
    // A whole model: each argument that would hang, overflow an allocation or make a
    // fractional axis is refused at a position, before anything runs.
    const tiny = path.join(REPO, "models/tiny/tiny_spikelm.spk");
    const prompt = path.join(REPO, "models/tiny/prompt.json");
    const modelCases: [string[], RegExp][] = [
      [["depth=100000"], /error SPK505: repeat count 100,000 exceeds the limit of 1,024 copies \(MAX_REPEAT\)/],
      [["d=3000000000"], /error SPK505: weight `embed\.table` has shape \[256, 3000000000\], .* elements, more than the limit of 1,073,741,824 \(MAX_TENSOR_ELEMENTS\)/],
      [["heads=0.5"], /error SPK310: `split_heads` here gives a tensor of shape \[.*1\/2.*\]: an axis of length 1\/2 is not a whole number/],
      [["heads=0"], /error SPK50\d/],
      [["d=-4"], /error SPK310/],
    ];
    for (const [arg, re] of modelCases) {
      const outFile = path.join(tmp, "model-out.json");
      const m = await inProcess(() => runCommand(tiny, { entry: "TinySpikeLM", arg, input: prompt, out: outFile, opt: false }));
      expectClean(m, outFile, `TinySpikeLM --arg ${arg.join(" ")}`);
      expect(m.code, arg.join(" ")).toBe(1);
      expect(m.err, arg.join(" ")).toMatch(/\.spk:\d+:\d+: error SPK/);
      expect(m.err, arg.join(" ")).toMatch(re);
    }
    const heads = await inProcess(() => runCommand(SPEC, { entry: "SpikeSelfAttention", arg: ["d=16", "heads=0.5"], input: inputFile, opt: false }));
    expect(heads.code).toBe(1);
    expect(heads.err).toMatch(/tiny_spikelm\.spk:\d+:\d+: error SPK310: `split_heads` here gives a tensor of shape \[4, 2, 1\/2, 3, 32\]/);
  }, 60_000);

  it("check: a directory checks the .spk files in it; one without any is an error", async () => {
    const dir = await inProcess(() => checkCommand([EXAMPLES], {}));
    expect(dir.code).toBe(0);
    expect(dir.err).toMatch(/checked 2 files: no errors/);
    const empty = fs.mkdtempSync(path.join(tmp, "empty-"));
    const none = await inProcess(() => checkCommand([empty], {}));
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/is a directory with no \.spk files in it/);
  });

  it("the real binary: a truncated safetensors file and a fractional --arg exit 1 with a clean message", async () => {
    // Both processes at once: each spends seconds loading TypeScript.
    const bin = (...args: string[]) =>
      new Promise<{ status: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ["--import", "tsx", path.join(REPO, "tools/cli/main.ts"), ...args], { cwd: REPO, stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
        child.on("close", (status) => resolve({ status, stderr }));
      });
    const st = path.join(tmp, "cut.safetensors");
    fs.writeFileSync(st, serializeSafetensors(new Map(Object.entries(good))).slice(0, 100));
    const outA = path.join(tmp, "spawned-a.json");
    const outB = path.join(tmp, "spawned-b.json");
    const [a, b] = await Promise.all([
      bin("run", SPEC, "--entry", "SpikeLinear", "--arg", "inp=16", "--arg", "out=8", "--weights", st, "--input", inputFile, "--out", outA),
      bin("run", SPEC, "--entry", "SpikeSelfAttention", "--arg", "d=16", "--arg", "heads=0.5", "--input", inputFile, "--out", outB),
    ]);
    expect(a.status).toBe(1);
    expect(a.stderr).toMatch(/cut\.safetensors: /);
    expect(a.stderr).not.toMatch(STACK);
    expect(fs.existsSync(outA)).toBe(false);
    expect(b.status).toBe(1);
    expect(b.stderr).toMatch(/error SPK310/);
    expect(b.stderr).not.toMatch(STACK);
    expect(fs.existsSync(outB)).toBe(false);
  }, 60_000);
});
