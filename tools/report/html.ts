/**
 * A SpikeReport (interpreter/report/counts.ts) as HTML with inline SVG: spike rasters, the
 * firing-rate chart, the layer table, the spike-driven proof, and the whole self-contained page
 * `spikelm report --html` writes. No Node imports: the playground page renders with the same
 * functions.
 */
import type { Raster, SpikeReport } from "../../interpreter/report/counts.js";

/** Numbers as the report prints them: 3 significant digits or exponent, percentages, energies. */
export const sci = (x: number) => (x === 0 ? "0" : Math.abs(x) >= 1e4 || Math.abs(x) < 1e-2 ? x.toExponential(2) : Number(x.toPrecision(4)).toString());
export const pct = (x: number | null) => (x === null ? "-" : `${(100 * x).toFixed(1)}%`);
export const energy = (pj: number) => (pj >= 1e6 ? `${(pj / 1e6).toPrecision(4)} µJ` : pj >= 1e3 ? `${(pj / 1e3).toPrecision(4)} nJ` : `${pj.toPrecision(4)} pJ`);

/** The colours of +1 and -1 spikes in every raster and rate chart (the playground's too). */
export const SPIKE_COLOURS = { pos: "#1f5fbf", neg: "#c0392b" } as const;

export const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export function rasterSvg(r: Raster): string {
  const cell = 4;
  const cols = r.tokens * r.T;
  const w = cols * cell + 2;
  const h = r.features.length * cell + 2;
  // One path per colour keeps the page small: a square per nonzero spike.
  const pos: string[] = [];
  const neg: string[] = [];
  r.levels.forEach((row, f) =>
    row.forEach((v, c) => {
      if (v !== 0) (v > 0 ? pos : neg).push(`M${1 + c * cell} ${1 + f * cell}h${cell}v${cell}h-${cell}z`);
    }),
  );
  const rects = [`<path fill="${SPIKE_COLOURS.pos}" d="${pos.join("")}"/>`, `<path fill="${SPIKE_COLOURS.neg}" d="${neg.join("")}"/>`];
  const seps: string[] = [];
  for (let l = 1; l < r.tokens; l++) seps.push(`<line x1="${1 + l * r.T * cell}" y1="0" x2="${1 + l * r.T * cell}" y2="${h}" stroke="#ddd" stroke-width="0.5"/>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}"><rect width="${w}" height="${h}" fill="#fafafa" stroke="#ccc"/>${seps.join("")}${rects.join("")}</svg>`;
}

export function rateChartSvg(r: SpikeReport): string {
  const rows = r.neurons;
  const barH = 14;
  const labelW = 260;
  const plotW = 360;
  const h = rows.length * barH + 30;
  const w = labelW + plotW + 80;
  const max = Math.max(0.05, ...rows.map((n) => n.rate));
  const parts: string[] = [];
  rows.forEach((n, i) => {
    const y = 20 + i * barH;
    const wp = (n.rate_pos / max) * plotW;
    const wn = (n.rate_neg / max) * plotW;
    parts.push(`<text x="${labelW - 6}" y="${y + barH - 4}" text-anchor="end" font-size="11">${esc(n.path)}</text>`);
    parts.push(`<rect x="${labelW}" y="${y + 2}" width="${wp.toFixed(2)}" height="${barH - 4}" fill="${SPIKE_COLOURS.pos}"><title>+1: ${pct(n.rate_pos)}</title></rect>`);
    parts.push(`<rect x="${(labelW + wp).toFixed(2)}" y="${y + 2}" width="${wn.toFixed(2)}" height="${barH - 4}" fill="${SPIKE_COLOURS.neg}"><title>-1: ${pct(n.rate_neg)}</title></rect>`);
    parts.push(`<text x="${(labelW + wp + wn + 4).toFixed(2)}" y="${y + barH - 4}" font-size="10">${pct(n.rate)}</text>`);
  });
  parts.push(`<text x="${labelW}" y="12" font-size="11">firing rate (blue +1, red -1; full width = ${pct(max)})</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">${parts.join("")}</svg>`;
}

const row = (cells: (string | number)[]) => `<tr>${cells.map((c) => `<td>${esc(String(c))}</td>`).join("")}</tr>`;
const head = (cells: string[]) => `<tr>${cells.map((c) => `<th>${esc(c)}</th>`).join("")}</tr>`;

/** T, tokens, the energy of the run against a dense ANN, the firing split (one paragraph's content). */
export function reportSummaryHtml(r: SpikeReport): string {
  const t = r.total;
  return `T = ${r.timesteps}, ${r.tokens} tokens. ${sci(t.acs)} ACs × ${r.costs.pj_per_ac} pJ + ${sci(t.macs)} MACs × ${r.costs.pj_per_mac} pJ = <b>${energy(t.energy_pj)}</b>; the same model as a dense ANN (one pass): ${sci(t.ann_macs)} MACs = <b>${energy(t.ann_energy_pj)}</b> (${t.energy_saving.toFixed(2)}×). Firing: ${pct(t.rate_pos)} +1, ${pct(t.rate_neg)} −1.`;
}

/** The spike-driven proof: every matmul has a spike operand, or the table of those that have none. */
export function spikeDrivenProofHtml(r: SpikeReport): string {
  const t = r.total;
  return t.spike_driven
    ? `<p class="ok">Spike-driven: every one of the ${t.spike_matmuls} matmuls has a spike operand.</p>`
    : `<p class="no">Not fully spike-driven: ${t.float_matmuls} of ${t.spike_matmuls + t.float_matmuls} matmuls have no spike operand (${pct(t.non_spike_matmul_share)} of matmul operations).</p><table>${head(["layer", "at", "shape", "MACs", "share of ops", "share of matmul ops"])}${r.non_spike_matmuls.map((m) => row([m.layer, m.origin, m.shape, sci(m.macs), pct(m.share_of_ops), pct(m.share_of_matmul_ops)])).join("")}</table>`;
}

/** Rates, spikes per token, operations and energy per layer. */
export function layerTableHtml(r: SpikeReport): string {
  const layers = r.layers.map((l) => row([l.name, pct(l.rate_pos), pct(l.rate_neg), l.spikes_per_token === null ? "-" : sci(l.spikes_per_token), sci(l.acs), sci(l.macs), energy(l.energy_pj), energy(l.ann_energy_pj)])).join("");
  return `<table>${head(["layer", "rate +1", "rate −1", "spikes/token", "ACs", "MACs", "energy", "ANN energy"])}${layers}</table>`;
}

/** A self-contained HTML page: totals, tables, the rate chart and a raster per neuron. */
export function renderReportHtml(r: SpikeReport): string {
  const rasters = r.rasters
    .map((x) => `<figure><figcaption>${esc(x.path)} — ${x.features.length} features × ${x.tokens} tokens × T = ${x.T} (first sequence)</figcaption>${rasterSvg(x)}</figure>`)
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>spike report: ${esc(r.model)}</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:right}td:first-child,th:first-child{text-align:left}figure{display:inline-block;margin:8px 16px 8px 0;vertical-align:top}figcaption{font-size:12px;color:#555}.ok{color:#1a7f37}.no{color:#b35900}</style>
</head><body>
<h1>Spike and energy report: ${esc(r.model)}</h1>
<p>${reportSummaryHtml(r)}</p>
${spikeDrivenProofHtml(r)}
<h2>Layers</h2>
${layerTableHtml(r)}
<h2>Firing rates</h2>
${rateChartSvg(r)}
<h2>Spike rasters (sampled; blue +1, red −1; columns are tokens × time steps)</h2>
${rasters}
</body></html>
`;
}

