/**
 * Renders a SpikeReport (interpreter/report/counts.ts): a terminal table, a JSON document,
 * or a self-contained HTML page with inline SVG (spike rasters and a firing-rate chart).
 * `writeReport` picks the format from the file extension (.json or .html).
 */
import type { LayerStats, SpikeReport } from "../../interpreter/report/counts.js";
import { UserError } from "../../interpreter/io/errors.js";
import { writeFileAtomic } from "../../interpreter/io/files.js";
import { renderTable } from "../cli/table.js";
import { energy, pct, renderReportHtml, sci } from "./html.js";

export { renderReportHtml };

/** The report for the terminal: per layer, per neuron, totals, and the spike-driven proof. */
export function renderReportText(r: SpikeReport): string {
  const out: string[] = [];
  out.push(`spike and energy report: ${r.model} (T = ${r.timesteps}, ${r.tokens} token${r.tokens === 1 ? "" : "s"}; ${r.costs.pj_per_ac} pJ/AC, ${r.costs.pj_per_mac} pJ/MAC)`);
  out.push("");
  out.push(
    renderTable(
      ["layer", "rate +1", "rate -1", "spikes/token", "ACs", "MACs", "energy", "ANN energy"],
      r.layers.map((l) => [l.name, pct(l.rate_pos), pct(l.rate_neg), l.spikes_per_token === null ? "-" : sci(l.spikes_per_token), sci(l.acs), sci(l.macs), energy(l.energy_pj), energy(l.ann_energy_pj)]),
    ),
  );
  out.push("");
  out.push(
    renderTable(
      ["neuron", "kind", "rate", "rate +1", "rate -1", "spikes/token", "ACs"],
      r.neurons.map((n) => [n.path, n.neuron, pct(n.rate), pct(n.rate_pos), pct(n.rate_neg), sci(n.spikes_per_token), sci(n.acs)]),
    ),
  );
  const t = r.total;
  out.push("");
  out.push(`total: ${sci(t.acs)} ACs + ${sci(t.macs)} MACs = ${energy(t.energy_pj)}; as a dense ANN (one pass): ${sci(t.ann_macs)} MACs = ${energy(t.ann_energy_pj)} (${t.energy_saving.toFixed(2)}x the spiking energy)`);
  out.push(`firing: ${pct(t.rate_pos)} +1, ${pct(t.rate_neg)} -1; ${sci(t.spikes_per_token)} spikes per token`);
  if (t.spike_driven) out.push(`spike-driven: yes — all ${t.spike_matmuls} matmuls have a spike operand (additions only, then one scale)`);
  else {
    out.push(`spike-driven: no — ${t.float_matmuls} of ${t.spike_matmuls + t.float_matmuls} matmuls have no spike operand, carrying ${pct(t.non_spike_matmul_share)} of the matmul operations:`);
    out.push(
      renderTable(
        ["layer", "at", "shape", "MACs", "share of ops", "share of matmul ops"],
        r.non_spike_matmuls.map((m) => [m.layer, m.origin, m.shape, sci(m.macs), pct(m.share_of_ops), pct(m.share_of_matmul_ops)]),
      ),
    );
  }
  return out.join("\n");
}

/** The JSON document (without the rasters). */
export function reportToJson(r: SpikeReport): Record<string, unknown> {
  const layer = (l: LayerStats) => ({ ...l });
  return {
    model: r.model,
    timesteps: r.timesteps,
    tokens: r.tokens,
    costs: r.costs,
    layers: r.layers.map(layer),
    neurons: r.neurons,
    matmuls: r.matmuls,
    non_spike_matmuls: r.non_spike_matmuls,
    total: r.total,
  };
}

/** Writes the report as .json or .html, by extension. */
export function writeReport(r: SpikeReport, file: string): void {
  const lower = file.toLowerCase();
  if (lower.endsWith(".json")) writeFileAtomic(file, `${JSON.stringify(reportToJson(r), null, 2)}\n`);
  else if (lower.endsWith(".html") || lower.endsWith(".htm")) writeFileAtomic(file, renderReportHtml(r));
  else throw new UserError(`${file}: a report file ends in .json or .html`);
}
