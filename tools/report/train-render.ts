/**
 * The `spikelm train --html` page: training loss (raw and smoothed), evaluation loss (and
 * bits per byte or accuracy), the learning rate, and firing rates per layer over training
 * (measured at each evaluation), as inline SVG line charts in the report page's style.
 */
import type { EvalRecord, StepRecord } from "../../interpreter/train/trainer.js";

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const COLORS = ["#1f5fbf", "#c0392b", "#1a7f37", "#b35900", "#7d3c98", "#117a8b", "#555", "#d4a017", "#e84393", "#2d3436"];

interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
  readonly dashed?: boolean;
}

const fmt = (v: number) => (Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(1) : Number(v.toPrecision(3)).toString());

/** A line chart: x = step, one polyline per series, axes with min/max ticks and a legend. */
function lineChartSvg(title: string, series: readonly Series[], opts: { w?: number; h?: number; yLabel?: string } = {}): string {
  const w = opts.w ?? 560;
  const h = opts.h ?? 240;
  const m = { l: 56, r: 150, t: 24, b: 30 };
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (pts.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="40"><text x="4" y="20" font-size="12">${esc(title)}: no data</text></svg>`;
  let [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const pw = w - m.l - m.r;
  const ph = h - m.t - m.b;
  const X = (x: number) => m.l + ((x - x0) / (x1 - x0)) * pw;
  const Y = (y: number) => m.t + ph - ((y - y0) / (y1 - y0)) * ph;
  const parts: string[] = [];
  parts.push(`<text x="${m.l}" y="14" font-size="12" font-weight="bold">${esc(title)}</text>`);
  parts.push(`<rect x="${m.l}" y="${m.t}" width="${pw}" height="${ph}" fill="#fafafa" stroke="#ccc"/>`);
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    const y = y0 + f * (y1 - y0);
    parts.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${Y(y).toFixed(1)}" y2="${Y(y).toFixed(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${m.l - 4}" y="${(Y(y) + 4).toFixed(1)}" font-size="10" text-anchor="end">${fmt(y)}</text>`);
  }
  parts.push(`<text x="${m.l}" y="${h - 8}" font-size="10">${fmt(x0)}</text><text x="${m.l + pw}" y="${h - 8}" font-size="10" text-anchor="end">${fmt(x1)}</text><text x="${m.l + pw / 2}" y="${h - 8}" font-size="10" text-anchor="middle">step</text>`);
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length]!;
    const ok = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (ok.length === 0) return;
    const d = ok.map(([x, y], j) => `${j === 0 ? "M" : "L"}${X(x).toFixed(1)} ${Y(y).toFixed(1)}`).join("");
    parts.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="1.5"${s.dashed ? ' stroke-dasharray="4 3"' : ""}/>`);
    if (ok.length <= 40) for (const [x, y] of ok) parts.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="2" fill="${c}"><title>step ${x}: ${fmt(y)}</title></circle>`);
    parts.push(`<line x1="${m.l + pw + 10}" x2="${m.l + pw + 26}" y1="${m.t + 8 + i * 14}" y2="${m.t + 8 + i * 14}" stroke="${c}" stroke-width="2"/><text x="${m.l + pw + 30}" y="${m.t + 12 + i * 14}" font-size="10">${esc(s.name)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">${parts.join("")}</svg>`;
}

/** Exponential moving average (bias-corrected), for a readable training-loss curve. */
function smooth(points: readonly (readonly [number, number])[], beta = 0.95): [number, number][] {
  let s = 0;
  return points.map(([x, y], i) => {
    s = beta * s + (1 - beta) * y;
    return [x, s / (1 - beta ** (i + 1))];
  });
}

/** Neuron paths grouped by layer (`blocks.3.attn.q.fire` → `blocks.3`), mean rate per group. */
export function ratesByLayer(rates: Readonly<Record<string, number>>): Map<string, number> {
  const sum = new Map<string, [number, number]>();
  for (const [p, r] of Object.entries(rates)) {
    const m = /^(.*?\b(?:blocks|layers|layer)\.\d+)\./.exec(p);
    const key = m ? m[1]! : p.split(".")[0]!;
    const cur = sum.get(key) ?? [0, 0];
    sum.set(key, [cur[0] + r, cur[1] + 1]);
  }
  return new Map([...sum].map(([k, [s, n]]) => [k, s / n]));
}

export interface TrainPageInfo {
  readonly title: string;
  readonly summary: readonly string[];
}

export function renderTrainingHtml(info: TrainPageInfo, steps: readonly StepRecord[], evals: readonly EvalRecord[]): string {
  const loss = steps.map((s) => [s.step, s.loss] as const);
  const charts: string[] = [];
  charts.push(lineChartSvg("training loss (nats per target)", [{ name: "loss", points: loss }, { name: "smoothed", points: smooth(loss) }, { name: "eval loss", points: evals.map((e) => [e.step, e.loss] as const), dashed: true }]));
  if (evals.some((e) => e.bits_per_byte !== undefined)) charts.push(lineChartSvg("held-out bits per byte", [{ name: "bits/byte", points: evals.map((e) => [e.step, e.bits_per_byte ?? NaN] as const) }]));
  if (evals.some((e) => e.accuracy !== undefined) || steps.some((s) => s.accuracy !== undefined))
    charts.push(lineChartSvg("accuracy", [{ name: "train (batch)", points: smooth(steps.map((s) => [s.step, s.accuracy ?? NaN] as const)) }, { name: "held-out", points: evals.map((e) => [e.step, e.accuracy ?? NaN] as const) }]));
  charts.push(lineChartSvg("learning rate", [{ name: "lr", points: steps.map((s) => [s.step, s.lr] as const) }]));
  charts.push(lineChartSvg("gradient norm (before clipping)", [{ name: "‖g‖", points: steps.map((s) => [s.step, s.grad_norm] as const) }]));
  const withRates = evals.filter((e) => e.rates && Object.keys(e.rates).length > 0);
  if (withRates.length > 0) {
    const layers = new Map<string, [number, number][]>();
    for (const e of withRates) for (const [l, r] of ratesByLayer(e.rates!)) (layers.get(l) ?? layers.set(l, []).get(l)!).push([e.step, r]);
    charts.push(lineChartSvg("firing rate per layer (fraction of nonzero spikes, held-out batch)", [...layers].map(([name, points]) => ({ name, points }))));
    const last = withRates[withRates.length - 1]!;
    const neurons = Object.keys(last.rates!);
    charts.push(lineChartSvg("firing rate per neuron", neurons.map((n) => ({ name: n, points: withRates.map((e) => [e.step, e.rates![n] ?? NaN] as const) })), { h: 320, w: 760 }));
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(info.title)}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}figure{display:inline-block;margin:8px 16px 8px 0;vertical-align:top}ul{padding-left:18px}</style>
</head><body>
<h1>${esc(info.title)}</h1>
<ul>${info.summary.map((s) => `<li>${esc(s)}</li>`).join("")}</ul>
${charts.map((c) => `<figure>${c}</figure>`).join("\n")}
</body></html>
`;
}
