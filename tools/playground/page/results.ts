/**
 * The results of a run: a summary line, the spike-driven proof, the firing rates per neuron
 * (printed as `spikelm run --record` prints them) and per layer, a raster per recorded neuron,
 * the energy table, and the CLI command that reproduces the run with the inputs it used.
 * The report's pieces are tools/report/html.ts's, the same functions `spikelm report --html`
 * uses.
 */
import { formatCell } from "../../cli/table.js";
import { esc, layerTableHtml, rateChartSvg, reportSummaryHtml, spikeDrivenProofHtml } from "../../report/html.js";
import type { RunSuccess, TensorData } from "../protocol.js";
import { drawRaster, MAX_ROWS } from "./raster.js";

const $ = (id: string) => document.getElementById(id)!;

/** The inputs as a tensor JSON file (`--input`): `{name: {shape, dtype, data}}`. */
export function inputsJson(inputs: Readonly<Record<string, TensorData>>): string {
  const out: Record<string, unknown> = {};
  for (const [name, t] of Object.entries(inputs)) out[name] = { shape: t.shape, dtype: t.dtype, data: Array.from(t.data) };
  return JSON.stringify(out);
}

export function renderResults(r: RunSuccess, entry: string): void {
  const out = Object.values(r.outputs)[0];
  const t = r.timings;
  const head = out ? `${esc(entry)}: output ${out.dtype}[${out.shape.join(", ")}], T = ${r.timesteps}` : `${esc(entry)}: T = ${r.timesteps}`;
  const engine = `${t.wasm ? "WebAssembly SIMD" : "JavaScript"} kernels${t.threads > 1 ? `, ${t.threads} threads` : ""}`;
  $("summary").innerHTML = `<b>${head}</b> — compiled in ${t.compileMs.toFixed(0)} ms, ran in ${t.runMs.toFixed(0)} ms on the optimized executor (${engine}).${r.report ? `<br>${reportSummaryHtml(r.report)}` : ""}`;
  $("proof").innerHTML = r.report ? spikeDrivenProofHtml(r.report) : "";

  // Rates per neuron, as `spikelm run --record` prints them; the exact value in data-*.
  const rows = r.rates
    .map(
      (n) =>
        `<tr data-path="${esc(n.path)}" data-rate="${n.rate}" data-rate-pos="${n.ratePos}" data-rate-neg="${n.rateNeg}"><td>${esc(n.path)}</td><td class="layer">${esc(n.layer)}</td><td>${formatCell(n.rate)}</td><td>${formatCell(n.ratePos)}</td><td>${formatCell(n.rateNeg)}</td></tr>`,
    )
    .join("");
  $("rates").innerHTML =
    (r.rates.length ? `<table id="rates-table"><tr><th>neuron</th><th>layer</th><th>rate</th><th>rate +1</th><th>rate −1</th></tr>${rows}</table>` : "<p>No neuron fired in this entry.</p>") +
    (r.report && r.report.neurons.length ? rateChartSvg(r.report) : "");

  const rasters = $("rasters");
  rasters.replaceChildren();
  for (const tap of r.taps) {
    if (tap.kind !== "spikes") continue;
    const fig = document.createElement("figure");
    const cap = document.createElement("figcaption");
    const features = tap.shape[tap.shape.length - 1] ?? 1;
    cap.textContent = `${tap.path} [${tap.shape.join(", ")}]${features > MAX_ROWS ? ` (first ${MAX_ROWS} features)` : ""}`;
    const canvas = document.createElement("canvas");
    canvas.dataset.path = tap.path;
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `spike raster of ${tap.path}`);
    drawRaster(tap, canvas);
    fig.append(cap, canvas);
    rasters.append(fig);
  }
  $("layers").innerHTML = r.report ? layerTableHtml(r.report) : "";
  $("command").textContent = r.command;
  const link = $("inputs-download") as HTMLAnchorElement;
  if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([inputsJson(r.inputs)], { type: "application/json" }));
  $("results").hidden = false;
}
