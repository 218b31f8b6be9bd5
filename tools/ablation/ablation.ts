/**
 * The paper's ablation, measured (`npm run ablation`): the same causal decoder
 * (models/spikelm/spikelm_decoder.spk) trained on the same data with the same budget and
 * seeds, with its neuron switched — {0,1} LIF, bi-directional BiLIF, ElasticBiSpike
 * (amplitude), ElasticBiSpike with a tuned `k` (elastic frequency), SpikeLMReference — and
 * the dense ANN (decoder_dense.spk). Training is the training library's (models/training.ts
 * builds the model, interpreter/train/trainer.ts runs the loop); this module only chooses
 * the runs, runs them (in worker processes when asked) and summarises them.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { initSpikeKernels } from "../../interpreter/engine/kernels/spike-matmul.js";
import type { ArgValue } from "../../interpreter/compile.js";
import { UserError } from "../../interpreter/io/errors.js";
import { TRAIN_DEFAULTS, type TrainConfig, train } from "../../interpreter/train/trainer.js";
import { findModel, modelTokenizer } from "../../models/registry.js";
import { type LmData, SpecTrainModel, loadTextData, splitHeldOut } from "../../models/training.js";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const ROOT = here("../../");
export const ABLATION_SPEC = here("./ablation.spk");
export const DENSE_SPEC = here("../../models/spikelm/decoder_dense.spk");
export const TRAIN_FILE = path.join(ROOT, "models/data/kjv-train.txt");
export const VALID_FILE = path.join(ROOT, "models/data/kjv-valid.txt");

export type VariantId = "lif" | "bilif" | "elastic" | "elastic-k" | "reference" | "dense";

export interface Variant {
  readonly id: VariantId;
  readonly label: string;
  /** The paper's step this variant stands for. */
  readonly claim: string;
  readonly spec: string;
  readonly entry: string;
  /** Whether `k` is an argument (tuned for elastic-k). */
  readonly hasK: boolean;
}

export const VARIANTS: readonly Variant[] = [
  { id: "lif", label: "LIF {0,1}", claim: "{0,1} spikes", spec: ABLATION_SPEC, entry: "DecoderLIF", hasK: false },
  { id: "bilif", label: "BiLIF {-1,0,1}", claim: "bi-directional", spec: ABLATION_SPEC, entry: "DecoderBiLIF", hasK: false },
  { id: "elastic", label: "ElasticBiSpike k=1", claim: "+ amplitude", spec: ABLATION_SPEC, entry: "DecoderElastic", hasK: true },
  { id: "elastic-k", label: "ElasticBiSpike tuned k", claim: "+ frequency", spec: ABLATION_SPEC, entry: "DecoderElastic", hasK: true },
  { id: "reference", label: "SpikeLMReference", claim: "released code", spec: ABLATION_SPEC, entry: "DecoderReference", hasK: true },
  { id: "dense", label: "dense ANN", claim: "ANN", spec: DENSE_SPEC, entry: "DenseDecoder", hasK: false },
];

/** The paper's claimed ordering, worst to best. */
export const PAPER_ORDER: readonly VariantId[] = ["lif", "bilif", "elastic", "elastic-k", "dense"];

export interface Budget {
  readonly steps: number;
  readonly batch: number;
  readonly seq: number;
  readonly d: number;
  readonly depth: number;
  readonly heads: number;
  readonly lr: number;
}

export interface RunSpec extends Budget {
  readonly variant: VariantId;
  readonly seed: number;
  readonly k?: number;
  /** "valid": kjv-valid.txt; "tune": the last 5% of kjv-train.txt (k is tuned there, not on the reported set). */
  readonly evalOn: "valid" | "tune";
  /** Training files (tests may point them elsewhere). */
  readonly trainFile?: string;
  readonly validFile?: string;
}

export interface RunResult {
  readonly variant: VariantId;
  readonly seed: number;
  readonly k?: number;
  readonly loss: number;
  readonly bitsPerByte: number;
  readonly trainLoss: number;
  /** Mean firing rate (fraction of nonzero spikes) over the model's neurons; undefined for the dense ANN. */
  readonly firingRate?: number;
  readonly neurons: number;
  readonly params: number;
  readonly seconds: number;
}

const dataCache = new Map<string, LmData>();
function textData(file: string): LmData {
  let d = dataCache.get(file);
  if (!d) {
    const tok = modelTokenizer(findModel("decoder-small"));
    d = loadTextData("lm", file, tok);
    dataCache.set(file, d);
  }
  return d;
}

function variant(id: string): Variant {
  const v = VARIANTS.find((x) => x.id === id);
  if (!v) throw new UserError(`unknown variant \`${id}\`; one of ${VARIANTS.map((x) => x.id).join(", ")}`);
  return v;
}

/** One training run, in this process: train, then evaluate on the held-out text. */
export function runOne(spec: RunSpec): RunResult {
  const v = variant(spec.variant);
  const base = findModel("decoder-small");
  const args: Record<string, ArgValue> = { vocab: 256, d: spec.d, heads: spec.heads, depth: spec.depth, ffn: 4 * spec.d, ctx: Math.max(spec.seq, 2) };
  if (v.hasK) args.k = spec.k ?? 1;
  const info = { ...base, name: `ablation-${v.id}`, spec: v.spec, entry: v.entry, args, weights: undefined, context: args.ctx as number };
  const tokenizer = modelTokenizer(base);
  const all = textData(spec.trainFile ?? TRAIN_FILE);
  let trainData: LmData = all;
  let evalData: LmData;
  if (spec.evalOn === "tune") {
    const s = splitHeldOut(all, spec.seq + 1);
    trainData = s.train as LmData;
    evalData = s.held as LmData;
  } else evalData = textData(spec.validFile ?? VALID_FILE);
  const model = new SpecTrainModel({ task: "lm", model: { info, tokenizer }, train: trainData, eval: evalData, batch: spec.batch, seq: spec.seq, seed: spec.seed, evalBatch: 32 });
  const config: TrainConfig = { ...TRAIN_DEFAULTS, steps: spec.steps, lr: spec.lr, warmup: Math.floor(spec.steps / 10), seed: spec.seed, evalEvery: 0, saveEvery: 0 };
  const r = train(model, config);
  const e = r.evals.at(-1);
  if (!e) throw new Error("internal: the run ended without an evaluation");
  const rates = Object.values(e.rates ?? {});
  return {
    variant: v.id,
    seed: spec.seed,
    k: v.hasK ? (spec.k ?? 1) : undefined,
    loss: e.loss,
    bitsPerByte: e.bits_per_byte ?? NaN,
    trainLoss: r.lastLoss,
    firingRate: rates.length > 0 ? rates.reduce((a, b) => a + b, 0) / rates.length : undefined,
    neurons: rates.length,
    params: model.params.reduce((a, p) => a + p.data.length, 0),
    seconds: r.seconds,
  };
}

// ---------------------------------------------------------------------------- running many

export interface Runner {
  run(specs: readonly RunSpec[], onDone: (r: RunResult, i: number) => void): Promise<RunResult[]>;
  close(): void;
}

/** Runs in this process, one after another. */
export function inProcessRunner(): Runner {
  return {
    async run(specs, onDone) {
      await initSpikeKernels({ threads: 1 });
      const out: RunResult[] = [];
      for (let i = 0; i < specs.length; i++) {
        const r = runOne(specs[i]!);
        out.push(r);
        onDone(r, i);
      }
      return out;
    },
    close() {},
  };
}

/** Runs on `jobs` worker processes (tools/ablation/worker.ts), one run at a time each. */
export async function processRunner(jobs: number): Promise<Runner> {
  const { fork } = await import("node:child_process");
  const worker = here("./worker.ts");
  const children = Array.from({ length: jobs }, () => fork(worker, [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "ignore", "inherit", "ipc"] }));
  return {
    run(specs, onDone) {
      return new Promise((resolve, reject) => {
        const out: RunResult[] = new Array(specs.length);
        let next = 0;
        let done = 0;
        let failed = false;
        const feed = (c: (typeof children)[number]) => {
          if (next >= specs.length || failed) return;
          const i = next++;
          const onMsg = (m: { ok: boolean; result?: RunResult; error?: string }) => {
            c.off("message", onMsg);
            if (!m.ok) {
              failed = true;
              reject(new Error(`run ${specs[i]!.variant} seed ${specs[i]!.seed}: ${m.error}`));
              return;
            }
            out[i] = m.result!;
            onDone(m.result!, i);
            if (++done === specs.length) resolve(out);
            else feed(c);
          };
          c.on("message", onMsg);
          c.send(specs[i]!);
        };
        if (specs.length === 0) resolve(out);
        for (const c of children) {
          c.once("exit", (code) => {
            if (done < specs.length && !failed) {
              failed = true;
              reject(new Error(`an ablation worker exited (code ${code})`));
            }
          });
          feed(c);
        }
      });
    },
    close() {
      for (const c of children) if (c.connected) c.disconnect();
    },
  };
}

// ---------------------------------------------------------------------------- the ablation

export interface AblationOptions extends Budget {
  readonly seeds: number;
  readonly variants: readonly VariantId[];
  /** The k grid for the elastic-frequency variant (tuned with seed 0 on a split of the training text). */
  readonly kGrid: readonly number[];
  readonly trainFile?: string;
  readonly validFile?: string;
}

export const ABLATION_DEFAULTS: AblationOptions = {
  steps: 60,
  batch: 4,
  seq: 32,
  d: 32,
  depth: 1,
  heads: 2,
  lr: 3e-3,
  seeds: 3,
  variants: VARIANTS.map((v) => v.id),
  kGrid: [0.5, 1, 2, 4],
};

export interface Stat {
  readonly mean: number;
  readonly std: number;
}

export interface AblationRow {
  readonly variant: VariantId;
  readonly label: string;
  readonly claim: string;
  readonly k?: number;
  readonly loss: Stat;
  readonly bitsPerByte: Stat;
  readonly trainLoss: Stat;
  readonly firingRate?: Stat;
  readonly params: number;
  readonly runs: readonly RunResult[];
}

export interface AblationResult {
  readonly budget: Budget & { readonly seeds: number; readonly trainFile: string; readonly validFile: string };
  readonly tuning?: { readonly grid: readonly { k: number; loss: number }[]; readonly best: number; readonly seed: number; readonly evalOn: string };
  readonly rows: readonly AblationRow[];
  /** Variants by mean held-out loss, worst (highest) first. */
  readonly measuredOrder: readonly VariantId[];
  /** Whether the measured order of the paper's variants is the paper's. */
  readonly matchesPaper: boolean;
  readonly seconds: number;
}

export function stat(xs: readonly number[]): Stat {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  // Sample standard deviation (0 for one seed).
  const std = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std };
}

export function parseVariants(raw: string | undefined): VariantId[] {
  if (raw === undefined) return VARIANTS.map((v) => v.id);
  const ids = raw.split(",").map((s) => s.trim()).filter(Boolean);
  if (ids.length === 0) throw new UserError("--variants needs at least one variant");
  return [...new Set(ids.map((id) => variant(id).id))];
}

export type Progress = (done: number, total: number, what: string) => void;

export async function runAblation(opts: AblationOptions, runner: Runner, progress: Progress = () => {}): Promise<AblationResult> {
  const t0 = performance.now();
  const budget: Budget = { steps: opts.steps, batch: opts.batch, seq: opts.seq, d: opts.d, depth: opts.depth, heads: opts.heads, lr: opts.lr };
  const files = { trainFile: opts.trainFile, validFile: opts.validFile };
  const tune = opts.variants.includes("elastic-k") && opts.kGrid.length > 0;
  const tuneSpecs: RunSpec[] = tune ? opts.kGrid.map((k) => ({ ...budget, ...files, variant: "elastic-k", seed: 0, k, evalOn: "tune" })) : [];
  const mainCount = opts.variants.length * opts.seeds;
  const total = tuneSpecs.length + mainCount;
  let done = 0;
  const tick = (r: RunResult) => progress(++done, total, `${r.variant}${r.k !== undefined ? ` k=${r.k}` : ""} seed ${r.seed}`);
  progress(0, total, "starting");

  let tuning: AblationResult["tuning"];
  let bestK = 1;
  if (tune) {
    const rs = await runner.run(tuneSpecs, tick);
    const grid = rs.map((r) => ({ k: r.k!, loss: r.loss }));
    const best = grid.reduce((a, b) => (b.loss < a.loss ? b : a));
    bestK = best.k;
    tuning = { grid, best: best.k, seed: 0, evalOn: "last 5% of the training text (not the reported held-out set)" };
  }
  const specs: RunSpec[] = [];
  for (const id of opts.variants)
    for (let s = 0; s < opts.seeds; s++) specs.push({ ...budget, ...files, variant: id, seed: s, k: id === "elastic-k" ? bestK : variant(id).hasK ? 1 : undefined, evalOn: "valid" });
  const results = await runner.run(specs, tick);

  const rows: AblationRow[] = opts.variants.map((id) => {
    const v = variant(id);
    const runs = results.filter((r) => r.variant === id);
    const rates = runs.map((r) => r.firingRate).filter((x): x is number => x !== undefined);
    return {
      variant: id,
      label: v.label,
      claim: v.claim,
      k: runs[0]?.k,
      loss: stat(runs.map((r) => r.loss)),
      bitsPerByte: stat(runs.map((r) => r.bitsPerByte)),
      trainLoss: stat(runs.map((r) => r.trainLoss)),
      firingRate: rates.length > 0 ? stat(rates) : undefined,
      params: runs[0]?.params ?? 0,
      runs,
    };
  });
  const measuredOrder = [...rows].sort((a, b) => b.loss.mean - a.loss.mean).map((r) => r.variant);
  const paperPresent = PAPER_ORDER.filter((id) => opts.variants.includes(id));
  const measuredPaper = measuredOrder.filter((id) => (PAPER_ORDER as readonly string[]).includes(id));
  return {
    budget: { ...budget, seeds: opts.seeds, trainFile: path.relative(ROOT, opts.trainFile ?? TRAIN_FILE), validFile: path.relative(ROOT, opts.validFile ?? VALID_FILE) },
    tuning,
    rows,
    measuredOrder,
    matchesPaper: paperPresent.join(",") === measuredPaper.join(","),
    seconds: (performance.now() - t0) / 1000,
  };
}

// ---------------------------------------------------------------------------- output

const pm = (s: Stat, digits: number) => `${s.mean.toFixed(digits)} ± ${s.std.toFixed(digits)}`;

/** The result as a Markdown table (it reads as plain text too), plus the ordering. */
export function formatTable(r: AblationResult): string {
  const head = ["variant", "paper's step", "held-out loss (nats)", "bits/byte", "final train loss", "firing rate", "params"];
  const body = r.rows.map((x) => [
    x.label + (x.variant === "elastic-k" && x.k !== undefined ? ` (k=${x.k})` : ""),
    x.claim,
    pm(x.loss, 4),
    pm(x.bitsPerByte, 3),
    pm(x.trainLoss, 3),
    x.firingRate ? `${(100 * x.firingRate.mean).toFixed(1)}% ± ${(100 * x.firingRate.std).toFixed(1)}` : "— (dense)",
    x.params.toLocaleString("en"),
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]) => `| ${cells.map((c, i) => c.padEnd(w[i]!)).join(" | ")} |`;
  const b = r.budget;
  const out = [
    `ablation: ${b.seeds} seed(s) each; d ${b.d}, depth ${b.depth}, heads ${b.heads}, batch ${b.batch} × seq ${b.seq}, ${b.steps} steps, lr ${b.lr}; train ${b.trainFile}, held out ${b.validFile}`,
    ...(r.tuning ? [`elastic-frequency k tuned on {${r.tuning.grid.map((g) => `${g.k}: ${g.loss.toFixed(4)}`).join(", ")}} (seed ${r.tuning.seed}, ${r.tuning.evalOn}): k = ${r.tuning.best}`] : []),
    "",
    line(head),
    `|${w.map((n) => "-".repeat(n + 2)).join("|")}|`,
    ...body.map(line),
    "",
    `measured order (worst → best held-out loss): ${r.measuredOrder.join(" < ")}`,
    `paper's order: ${PAPER_ORDER.join(" < ")} — ${r.matchesPaper ? "matches" : "differs"}`,
    `mean ± sample std over seeds; firing rate = fraction of nonzero spikes over all neurons on the first held-out batch; ${r.seconds.toFixed(0)} s`,
  ];
  return out.join("\n");
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** A standalone page: the table and an inline-SVG bar chart of bits per byte (± std). */
export function renderHtml(r: AblationResult): string {
  const W = 640;
  const rowH = 28;
  const left = 200;
  const H = r.rows.length * rowH + 40;
  const max = Math.max(...r.rows.map((x) => x.bitsPerByte.mean + x.bitsPerByte.std)) * 1.05;
  const min = Math.max(0, Math.min(...r.rows.map((x) => x.bitsPerByte.mean - x.bitsPerByte.std)) * 0.9);
  const sx = (v: number) => left + ((v - min) / Math.max(1e-9, max - min)) * (W - left - 60);
  const bars = r.rows
    .map((x, i) => {
      const y = 10 + i * rowH;
      const m = x.bitsPerByte.mean;
      const lo = sx(m - x.bitsPerByte.std);
      const hi = sx(m + x.bitsPerByte.std);
      const color = x.variant === "dense" ? "#888" : "#3b6fb6";
      return [
        `<text x="${left - 8}" y="${y + 15}" text-anchor="end" font-size="12">${esc(x.label)}</text>`,
        `<rect x="${left}" y="${y + 3}" width="${(sx(m) - left).toFixed(1)}" height="${rowH - 8}" fill="${color}"/>`,
        `<line x1="${lo.toFixed(1)}" x2="${hi.toFixed(1)}" y1="${y + 13}" y2="${y + 13}" stroke="#000"/>`,
        `<text x="${(hi + 4).toFixed(1)}" y="${y + 17}" font-size="11">${m.toFixed(3)}</text>`,
      ].join("");
    })
    .join("\n");
  const axis = `<text x="${left}" y="${H - 8}" font-size="11">bits/byte (held out), axis from ${min.toFixed(2)}; whiskers ± std over seeds — lower is better</text>`;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" role="img" aria-label="held-out bits per byte by variant">\n${bars}\n${axis}\n</svg>`;
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>spikelm ablation</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;max-width:60em}pre{background:#f6f6f6;padding:1em;overflow-x:auto}</style>
</head><body>
<h1>SpikeLM ablation: the neuron, measured</h1>
${svg}
<pre>${esc(formatTable(r))}</pre>
</body></html>
`;
}

export function writeOutputs(r: AblationResult, json?: string, html?: string): void {
  if (json) fs.writeFileSync(json, `${JSON.stringify(r, null, 2)}\n`);
  if (html) fs.writeFileSync(html, renderHtml(r));
}
