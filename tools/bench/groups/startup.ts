/**
 * One-shot model commands, as a user runs them: whole-command wall time of the installed
 * entry point (`node tools/cli/bin.mjs ...`, what `npx spikelm` runs: the bundled CLI,
 * compiled from V8's code cache, tools/cli/code-cache.mjs), each command a fresh process. The issue's budget is 2 s for `classify --model classifier-base`;
 * `ratio` = 2000 ms / median wall (> 1: within budget). The row name carries the median of
 * each stage from the command's own `--timings` line (start-up, kernels, model, compile,
 * optimize, params, forward); the JSON row has them as `<stage>_ms`.
 *
 * Each row also gives the command's CPU time (all its threads; Linux), which a busy machine
 * hardly changes, and what the command ran, from the same line: values seeded during the
 * compile (on another thread, from the list an earlier run left) and after it on the
 * WebAssembly seeder, neuron steps on the reference path, elements of weight-only values
 * computed (a transposed copy of a weight) and weight elements scanned for non-finite values
 * (`seeded_during_compile`, `seeded_wasm`, `ref_steps`, `weight_only`, `scanned`).
 *
 * Also the start-up alone (`spikelm models`): bundled vs the TypeScript sources through tsx
 * (`ratio` = tsx / bundled). The bundle is brought up to date and each command run once
 * before timing (as any run after an edit does: it writes the command's code cache), so rows
 * time a user's second and later runs. The code cache's own row times classifier-base with
 * and without it (SPIKELM_NO_CODE_CACHE=1), runs alternating (`ratio` = without / with).
 *
 * BERT-sized models ship no vocabulary; the group writes one of 30522 tokens (the small
 * model's 625, then [unusedN]) to a temporary folder, and classifier-base's weights as a
 * 438 MB file there (the weights-file row). Timings depend on the machine's load:
 * the benchmark reports them, it does not fail on them.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBundle } from "../../cli/bundle.mjs";
import { SMALL_VOCAB, findModel, modelParams } from "../../../models/registry.js";
import { ParamStore } from "../../../interpreter/runtime/params.js";
import { writeSafetensors } from "../../../interpreter/io/safetensors.js";
import { type BenchContext, type BenchRow, registerGroup } from "../registry.js";
import { median } from "../stats.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const BIN = path.join(ROOT, "tools/cli/bin.mjs");
const MAIN = path.join(ROOT, "tools/cli/main.ts");
const BUDGET_MS = 2000;
const STAGES = ["startup", "kernels", "model", "compile", "optimize", "params", "forward"] as const;

/** A BERT-sized vocab.txt: the small vocabulary, then [unusedN] up to 30522 tokens. */
function bertSizedVocab(dir: string): string {
  const small = fs.readFileSync(SMALL_VOCAB, "utf8").split("\n").filter((l) => l.length > 0);
  const lines = [...small, ...Array.from({ length: 30522 - small.length }, (_, i) => `[unused${i}]`)];
  const file = path.join(dir, "vocab-30522.txt");
  fs.writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

/**
 * classifier-base's weights as a file (by spec path, 438 MB; its seeded values, amplitudes
 * left to calibrate): what a user's trained BERT-base checkpoint costs to load and run.
 */
function baseWeightsFile(dir: string): string {
  const file = path.join(dir, "classifier-base.safetensors");
  writeSafetensors(file, ParamStore.create(modelParams(findModel("classifier-base")), undefined, { seed: 0 }).snapshot());
  return file;
}

/**
 * CPU time (user + system, ms) of this process's waited-for children so far, from
 * /proc/self/stat (Linux; undefined elsewhere). Unlike wall time it hardly moves with the
 * machine's load, so rows stay comparable on a busy machine; it counts every thread, so it
 * exceeds the wall time where the command uses two cores.
 */
function childrenCpuMs(): number | undefined {
  try {
    const stat = fs.readFileSync("/proc/self/stat", "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state): cutime and cstime are fields 16 and 17, in clock ticks (100 per second on Linux).
    return (Number(fields[13]) + Number(fields[14])) * 10;
  } catch {
    return undefined;
  }
}

/** Counts the `--timings` line reports after the stages: what the forward ran. */
const COUNTS = { seeded_during_compile: /seeded during the compile: (\d+) values/, seeded_wasm: /seeded on wasm: (\d+) values/, ref_steps: /(\d+) reference\b/, weight_only: /weight-only values: (\d+) elements/, scanned: /weight elements scanned: (\d+)/ } as const;
type Count = keyof typeof COUNTS;

interface Timed {
  readonly wallMs: number;
  readonly cpuMs?: number;
  readonly stages: Partial<Record<(typeof STAGES)[number], number>>;
  readonly counts: Partial<Record<Count, number>>;
}

/** Runs `node <argv>` once; its wall time and the stages of its `timings:` line, if any. */
function runOnce(argv: readonly string[], env: Readonly<Record<string, string>> = {}): Timed {
  const cpu0 = childrenCpuMs();
  const t0 = performance.now();
  const r = spawnSync(process.execPath, argv, { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env } });
  const wallMs = performance.now() - t0;
  const cpu1 = childrenCpuMs();
  const cpuMs = cpu0 !== undefined && cpu1 !== undefined ? cpu1 - cpu0 : undefined;
  if (r.status !== 0) throw new Error(`bench startup: \`node ${argv.join(" ")}\` exited ${r.status}: ${r.stderr}`);
  const line = r.stderr.split("\n").find((l) => l.startsWith("timings: ")) ?? "";
  const stages: Timed["stages"] = {};
  for (const s of STAGES) {
    const m = new RegExp(`\\b${s} (\\d+) ms`).exec(line);
    if (m) stages[s] = Number(m[1]);
  }
  const counts: Timed["counts"] = {};
  for (const [k, re] of Object.entries(COUNTS) as [Count, RegExp][]) {
    const m = re.exec(line);
    if (m) counts[k] = Number(m[1]);
  }
  return { wallMs, cpuMs, stages, counts };
}

type Measured = { wall: number; cpu?: number; stages: Partial<Record<(typeof STAGES)[number], number>>; counts: Timed["counts"] };

/** `reps` runs of the command after one untimed run (which writes its code cache), their medians. */
function measure(argv: readonly string[], reps: number, step: () => void): Measured {
  runOnce(argv);
  const runs: Timed[] = [];
  for (let i = 0; i < reps; i++) {
    runs.push(runOnce(argv));
    step();
  }
  return summarize(runs);
}

/** The command with and without its code cache, runs alternating (the same load for both). */
function measureCodeCache(argv: readonly string[], reps: number, step: () => void): { on: Measured; off: Measured } {
  runOnce(argv);
  const on: Timed[] = [];
  const off: Timed[] = [];
  for (let i = 0; i < reps; i++) {
    off.push(runOnce(argv, { SPIKELM_NO_CODE_CACHE: "1" }));
    on.push(runOnce(argv));
    step();
  }
  return { on: summarize(on), off: summarize(off) };
}

function summarize(runs: readonly Timed[]): Measured {
  const stages: Partial<Record<(typeof STAGES)[number], number>> = {};
  for (const s of STAGES) {
    const xs = runs.map((r) => r.stages[s]).filter((x): x is number => x !== undefined);
    if (xs.length > 0) stages[s] = Math.round(median(xs));
  }
  const cpus = runs.map((r) => r.cpuMs).filter((x): x is number => x !== undefined);
  // the counts are the same on every run (the same command, the same forward)
  return { wall: median(runs.map((r) => r.wallMs)), cpu: cpus.length ? median(cpus) : undefined, stages, counts: runs[0]?.counts ?? {} };
}

const round = (x: number) => Math.round(x);

/**
 * `; 86041346 values seeded during the compile, 0 after it on wasm, 0 reference neuron steps,
 * 591360 weight-only elements, 0 weights scanned` (when the command reports them).
 */
function countsNote(c: Timed["counts"]): string {
  if (c.ref_steps === undefined) return "";
  return `; ${c.seeded_during_compile ?? 0} values seeded during the compile, ${c.seeded_wasm ?? 0} after it on wasm, ${c.ref_steps} reference neuron steps, ${c.weight_only} weight-only elements, ${c.scanned} weights scanned`;
}

function commandRow(label: string, m: Measured): BenchRow {
  const parts = STAGES.filter((s) => m.stages[s] !== undefined).map((s) => `${s} ${m.stages[s]}`);
  const extra = Object.fromEntries(STAGES.filter((s) => m.stages[s] !== undefined).map((s) => [`${s}_ms`, m.stages[s]]));
  return {
    name: `${label}, one shot${parts.length ? ` (${parts.join(" + ")} ms)` : ""}${m.cpu !== undefined ? `; cpu ${round(m.cpu)} ms` : ""}${countsNote(m.counts)}`,
    shape: null,
    rate: null,
    vs: "budget-2s",
    ratio: BUDGET_MS / m.wall,
    spike_ms: round(m.wall),
    ...(m.cpu !== undefined ? { cpu_ms: round(m.cpu) } : {}),
    ...extra,
    ...m.counts,
  };
}

registerGroup("startup", async (ctx: BenchContext): Promise<BenchRow[]> => {
  const reps = ctx.quick ? 1 : 3;
  ctx.addSteps(reps * 7 + 2);
  if (!(await ensureBundle())) throw new Error("bench startup: the CLI bundle could not be built (tools/cli/bundle.mjs)");
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-bench-startup-"));
  try {
    const vocab = bertSizedVocab(tmp);
    ctx.step("vocab");
    const bundled = measure([BIN, "models"], reps, () => ctx.step("models (bundled)"));
    const tsx = measure(["--import", "tsx", MAIN, "models"], reps, () => ctx.step("models (tsx)"));
    const classify = measure([BIN, "classify", "--timings", "--model", "classifier-base", "--vocab", vocab, "a fine film"], reps, () => ctx.step("classify classifier-base"));
    const weights = baseWeightsFile(tmp);
    ctx.step("classifier-base weights file");
    const fromFile = measure([BIN, "classify", "--timings", "--model", "classifier-base", "--vocab", vocab, "--weights", weights, "a fine film"], reps, () => ctx.step("classify classifier-base --weights"));
    const fill = measure([BIN, "fill-mask", "--timings", "--model", "mlm-base", "--vocab", vocab, "a fine [MASK]"], reps, () => ctx.step("fill-mask mlm-base"));
    const generate = measure([BIN, "generate", "--model", "decoder-small", "--prompt", "In the beginning", "--max-tokens", "8"], reps, () => ctx.step("generate decoder-small"));
    const cache = measureCodeCache([BIN, "classify", "--timings", "--model", "classifier-base", "--vocab", vocab, "a fine film"], reps, () => ctx.step("classify classifier-base, code cache on / off"));
    ctx.log(`startup: spikelm models ${round(bundled.wall)} ms bundled, ${round(tsx.wall)} ms through tsx`);
    return [
      { name: `spikelm models (start-up only): bundled CLI${bundled.cpu !== undefined && tsx.cpu !== undefined ? `; cpu ${round(bundled.cpu)} vs ${round(tsx.cpu)} ms` : ""}`, shape: null, rate: null, vs: "tsx-sources", ratio: tsx.wall / bundled.wall, spike_ms: round(bundled.wall), base_ms: round(tsx.wall) },
      commandRow("classify --model classifier-base (BERT-base, seeded)", classify),
      commandRow("classify --model classifier-base --weights (a 438 MB file by spec path)", fromFile),
      commandRow("fill-mask --model mlm-base (BERT-base + MLM head, seeded)", fill),
      commandRow("generate decoder-small, 8 tokens", generate),
      {
        name: `classify --model classifier-base: V8 code cache on (${round(cache.on.wall)} ms, startup ${cache.on.stages.startup} + compile ${cache.on.stages.compile} ms${cache.on.cpu !== undefined ? `, cpu ${round(cache.on.cpu)} ms` : ""}) vs off (${round(cache.off.wall)} ms, startup ${cache.off.stages.startup} + compile ${cache.off.stages.compile} ms${cache.off.cpu !== undefined ? `, cpu ${round(cache.off.cpu)} ms` : ""}), alternating`,
        shape: null,
        rate: null,
        vs: "no-code-cache",
        ratio: cache.off.wall / cache.on.wall,
        spike_ms: round(cache.on.wall),
        base_ms: round(cache.off.wall),
        ...(cache.on.cpu !== undefined && cache.off.cpu !== undefined ? { cpu_ms: round(cache.on.cpu), base_cpu_ms: round(cache.off.cpu) } : {}),
      },
    ];
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
