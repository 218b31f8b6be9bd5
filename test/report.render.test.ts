/**
 * Rendering the spike report: the JSON schema (what `--json` writes), the terminal table,
 * and the self-contained HTML page (inline SVG rasters and the firing-rate chart).
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import type { SpikeReport } from "../interpreter/report/counts.js";
import { loadModel, runModel } from "../models/tasks.js";
import { i32 } from "../interpreter/engine/tensor.js";
import { renderReportHtml, renderReportText, reportToJson, writeReport } from "../tools/report/render.js";

const m = loadModel("generate");
const ids = [...new TextEncoder().encode("the spiking model reads")];
const report: SpikeReport = runModel(m, { ids: i32([1, ids.length], ids), types: i32([1, ids.length]), mask: i32([1, ids.length]) }, { report: true }).report!;

type Shape = "number" | "string" | "boolean" | "number|null" | "array" | "object";
function check(obj: Record<string, unknown>, schema: Record<string, Shape>, where: string): void {
  for (const [k, t] of Object.entries(schema)) {
    const v = obj[k];
    const ok =
      t === "number|null" ? v === null || (typeof v === "number" && Number.isFinite(v)) :
      t === "array" ? Array.isArray(v) :
      t === "object" ? typeof v === "object" && v !== null && !Array.isArray(v) :
      t === "number" ? typeof v === "number" && Number.isFinite(v) : typeof v === t;
    expect(ok, `${where}.${k} should be ${t}, is ${JSON.stringify(v)}`).toBe(true);
  }
}

/** The documented JSON schema of a report. */
function checkReportJson(j: Record<string, unknown>): void {
  check(j, { model: "string", timesteps: "number", tokens: "number", costs: "object", layers: "array", neurons: "array", matmuls: "array", non_spike_matmuls: "array", total: "object" }, "report");
  check(j.costs as Record<string, unknown>, { pj_per_ac: "number", pj_per_mac: "number" }, "costs");
  for (const l of j.layers as Record<string, unknown>[])
    check(l, { name: "string", neurons: "array", rate_pos: "number|null", rate_neg: "number|null", spikes_per_token: "number|null", acs: "number", macs: "number", energy_pj: "number", ann_macs: "number", ann_energy_pj: "number", ops: "object" }, "layer");
  for (const n of j.neurons as Record<string, unknown>[])
    check(n, { path: "string", neuron: "string", layer: "string", shape: "array", pos: "number", neg: "number", rate_pos: "number", rate_neg: "number", rate: "number", spikes_per_token: "number", acs: "number" }, "neuron");
  for (const x of j.non_spike_matmuls as Record<string, unknown>[])
    check(x, { layer: "string", origin: "string", shape: "string", macs: "number", share_of_ops: "number", share_of_matmul_ops: "number" }, "non_spike_matmul");
  check(j.total as Record<string, unknown>, { acs: "number", macs: "number", energy_pj: "number", ann_macs: "number", ann_energy_pj: "number", energy_saving: "number", rate_pos: "number", rate_neg: "number", spikes_per_token: "number", spike_matmuls: "number", float_matmuls: "number", spike_driven: "boolean", non_spike_matmul_share: "number", ops: "object" }, "total");
}

describe("report rendering", () => {
  it("JSON: the documented schema, without the rasters", () => {
    const j = JSON.parse(JSON.stringify(reportToJson(report))) as Record<string, unknown>;
    checkReportJson(j);
    expect(j).not.toHaveProperty("rasters");
    expect((j.layers as { name: string }[]).map((l) => l.name)).toContain("blocks.0.attn");
    expect((j.non_spike_matmuls as { layer: string }[]).map((x) => x.layer)).toEqual(["head"]);
  });

  it("terminal: per-layer and per-neuron tables, totals, and the spike-driven verdict", () => {
    const t = renderReportText(report);
    expect(t).toMatch(/^spike and energy report: decoder-small \(T = 4, 23 tokens; 0\.9 pJ\/AC, 4\.6 pJ\/MAC\)/);
    expect(t).toMatch(/\nlayer +rate \+1 +rate -1 +spikes\/token +ACs +MACs +energy +ANN energy\n/);
    expect(t).toMatch(/\nblocks\.1\.down\.fire +SpikeLMReference /);
    expect(t).toMatch(/\ntotal: .* ACs \+ .* MACs = .*; as a dense ANN \(one pass\): .* MACs = /);
    expect(t).toMatch(/spike-driven: no — 1 of 17 matmuls have no spike operand/);
    expect(t).toMatch(/\nhead +spikelm_decoder\.spk:\d+:\d+|\nhead +prelude\.spk:\d+:\d+/);
  });

  it("HTML: one self-contained page, a raster per neuron and the rate chart, no external resources", () => {
    const h = renderReportHtml(report);
    expect(h.startsWith("<!doctype html>")).toBe(true);
    expect((h.match(/<svg /g) ?? []).length).toBe(report.neurons.length + 1);
    expect(h).not.toMatch(/<script|<link|src=|href=/);
    expect(h).toContain("blocks.0.attn.kfire");
    expect(h).toContain("firing rate (blue +1, red -1");
  });

  it("writeReport picks the format by extension and refuses others", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-report-"));
    writeReport(report, path.join(dir, "r.json"));
    writeReport(report, path.join(dir, "r.html"));
    checkReportJson(JSON.parse(fs.readFileSync(path.join(dir, "r.json"), "utf8")));
    expect(fs.readFileSync(path.join(dir, "r.html"), "utf8")).toContain("<svg");
    expect(() => writeReport(report, path.join(dir, "r.txt"))).toThrow(/ends in \.json or \.html/);
  });
});
