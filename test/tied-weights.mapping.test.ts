/**
 * BERT's tied masked-LM decoder in the reference naming: a Hugging Face `BertForMaskedLM`
 * state_dict holds `cls.predictions.decoder.weight` (the word embeddings under a second name)
 * and `cls.predictions.decoder.bias` (= `cls.predictions.bias`).
 *
 * - Export writes both names of each tied tensor, with equal data; import accepts them when
 *   equal, refuses them naming both tensors when they differ, and takes the alias alone.
 * - `spikelm grad` on such a checkpoint reports the tied gradient under both names, equal
 *   to the spec path's (the sum of both uses), as PyTorch reports one gradient tensor for
 *   both parameters.
 * - Against PyTorch (skipped without python3-torch): a hand-written HF-style
 *   BertForMaskedLM (depth 0: embeddings, LayerNorm, the prediction head with
 *   `decoder.weight = word_embeddings.weight`) gives the gradients `spikelm grad` gives.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gradients } from "../interpreter/autodiff/index.js";
import { compileEntry } from "../interpreter/compile.js";
import { type Tensor, f32, i32 } from "../interpreter/engine/tensor.js";
import { UserError } from "../interpreter/io/errors.js";
import { readSafetensors, serializeSafetensors } from "../interpreter/io/safetensors.js";
import { ReferenceInterpreter } from "../interpreter/reference/interpreter.js";
import { ParamStore } from "../interpreter/runtime/params.js";
import { weightsFromTensors } from "../models/load-weights.js";
import { MLM_MAPPING, MLM_UNTIED_MAPPING } from "../models/spikelm/mapping.js";
import { exportWeights, importWeights } from "../models/weights-mapping.js";
import { REPO } from "./helpers.js";
import { findTorchPython } from "./torch-python.js";

const SPEC = path.join(REPO, "models/spikelm/spikelm_encoder.spk");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "spikelm-tied-map-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const file = (name: string) => path.join(dir, name);

const WORD = "bert.embeddings.word_embeddings.weight";
const DECODER = "cls.predictions.decoder.weight";

function spikelm(...args: string[]) {
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(REPO, "tools/cli/main.ts"), ...args], { cwd: REPO, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A tiny tied MLM: its inputs, and every parameter (amplitudes calibrated by one run). */
function tinyMlm(depth: number, entry = "SpikeLMForMaskedLM") {
  const args = { vocab: 11, d: 8, heads: 2, depth, ffn: 16, ctx: 8, steps: 2 };
  const ids = [2, 7, 0, 9, 3, 0, 0, 10];
  const inputs = new Map<string, Tensor>([
    ["ids", i32([2, 4], ids)],
    ["types", i32([2, 4], [0, 0, 0, 1, 0, 1, 1, 0])],
    ["mask", i32([2, 4], ids.map((v) => (v === 0 ? 0 : 1)))],
  ]);
  const c = compileEntry({ file: SPEC, entry, args, inputs });
  const params = ParamStore.create(c.graph.params, new Map(), { seed: 5 });
  new ReferenceInterpreter(c.graph, params).run(inputs);
  const weights = new Map<string, Tensor>([...params.entries].map(([k, e]) => [k, e.tensor]));
  return { args, inputs, graph: c.graph, weights };
}

describe("tied names in the reference naming", () => {
  const m = tinyMlm(1);
  const ckpt = exportWeights(m.weights, MLM_MAPPING, m.graph.params);

  it("export writes both names of each tied tensor, with equal data, and no decoder matrix of its own", () => {
    expect(Array.from(ckpt.get(DECODER)!.data)).toEqual(Array.from(m.weights.get("embeddings.word.table")!.data));
    expect(Array.from(ckpt.get(WORD)!.data)).toEqual(Array.from(ckpt.get(DECODER)!.data));
    expect(Array.from(ckpt.get("cls.predictions.decoder.bias")!.data)).toEqual(Array.from(m.weights.get("mlm.bias")!.data));
    expect(ckpt.get(DECODER)!.data).not.toBe(ckpt.get(WORD)!.data); // each name its own bytes in a file
  });

  it("import accepts the tied names when equal; the naming is read off the names", () => {
    const r = weightsFromTensors({ params: m.graph.params, entry: "SpikeLMForMaskedLM" }, ckpt, "hf.safetensors");
    expect(r.mappingApplied).toBe("spikelm-mlm");
    for (const [k, w] of m.weights) expect(Array.from(r.weights.get(k)!.data), k).toEqual(Array.from(w.data));
  });

  it("tied names that differ: one error naming both tensors and the first differing element; nothing loaded", () => {
    const bad = new Map(ckpt);
    const data = Float32Array.from(ckpt.get(DECODER)!.data);
    data[13] = data[13]! + 0.25;
    bad.set(DECODER, f32([11, 8], data));
    let msg = "";
    try {
      importWeights(bad, MLM_MAPPING, m.graph.params, { source: "hf.safetensors" });
    } catch (e) {
      expect(e).toBeInstanceOf(UserError);
      msg = (e as Error).message;
    }
    expect(msg).toMatch(/^hf\.safetensors: 1 problem with the weights .*nothing was loaded/);
    expect(msg).toContain(`"${DECODER}" is tied to "${WORD}" (one tensor in this model) but they differ: element 13 is`);
    const shape = new Map(ckpt);
    shape.set(DECODER, f32([11, 4]));
    expect(() => importWeights(shape, MLM_MAPPING, m.graph.params)).toThrow(`"${DECODER}" f32[11, 4] is tied to "${WORD}" f32[11, 8]`);
  });

  it("the alias alone stands for the tensor (save_pretrained keeps one name of a tied pair)", () => {
    const only = new Map(ckpt);
    only.delete(WORD);
    only.delete("cls.predictions.bias");
    const w = importWeights(only, MLM_MAPPING, m.graph.params);
    expect(Array.from(w.get("embeddings.word.table")!.data)).toEqual(Array.from(ckpt.get(DECODER)!.data));
    expect(Array.from(w.get("mlm.bias")!.data)).toEqual(Array.from(ckpt.get("cls.predictions.decoder.bias")!.data));
  });

  it("the untied entry reads the same checkpoint's decoder matrix as its own", () => {
    const u = tinyMlm(1, "SpikeLMForMaskedLMUntied");
    const r = weightsFromTensors({ params: u.graph.params, entry: "SpikeLMForMaskedLMUntied" }, ckpt, "hf.safetensors");
    expect(r.mappingApplied).toBe("spikelm-mlm-untied");
    expect(Array.from(r.weights.get("mlm.decoder.W")!.data)).toEqual(Array.from(ckpt.get(DECODER)!.data));
  });

  it("spikelm grad: the tied gradient under both names, equal to the spec path's (the sum of both uses)", () => {
    fs.writeFileSync(file("hf.safetensors"), serializeSafetensors(ckpt));
    const inputs = Object.fromEntries([...m.inputs].map(([k, t]) => [k, { shape: t.shape, dtype: "i32", data: Array.from(t.data) }]));
    fs.writeFileSync(file("in.json"), JSON.stringify(inputs));
    const probe = f32([2, 4, 11], Float32Array.from({ length: 88 }, (_, i) => Math.fround(Math.sin(i + 1))));
    fs.writeFileSync(file("probe.json"), JSON.stringify({ shape: probe.shape, data: Array.from(probe.data) }));
    const args = Object.entries(m.args).flatMap(([k, v]) => ["--arg", `${k}=${v}`]);
    const out = file("g.safetensors");
    const r = spikelm("grad", SPEC, "--entry", "SpikeLMForMaskedLM", ...args, "--weights", file("hf.safetensors"), "--keep-amplitudes", "--input", file("in.json"), "--probe", file("probe.json"), "--out", out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('through the mapping "spikelm-mlm"');
    const g = readSafetensors(out).tensors;
    expect(Array.from(g.get(DECODER)!.data)).toEqual(Array.from(g.get(WORD)!.data));
    expect(Array.from(g.get("cls.predictions.decoder.bias")!.data)).toEqual(Array.from(g.get("cls.predictions.bias")!.data));
    const spec = gradients(m.graph, ParamStore.create(m.graph.params, m.weights), m.inputs, probe);
    expect(Array.from(g.get(WORD)!.data)).toEqual(Array.from(spec.grads.get("embeddings.word.table")!));
    // the [PAD] row (id 0) gets no gradient from the lookup but does from the decoder
    expect(Array.from(g.get(WORD)!.data.subarray(0, 8)).some((v) => v !== 0)).toBe(true);
  });
});

// ------------------------------------------------------------------ against PyTorch

const PY = findTorchPython();
const SKIP = PY ? "" : " [skipped: no python3 with torch; install Debian's python3-torch (.ci/run does)]";

/** Hugging Face's BertForMaskedLM at depth 0, written out: the decoder's weight IS the embeddings'. */
const HF_STYLE = String.raw`
import json, sys, torch
from torch import nn

class Embeddings(nn.Module):
    def __init__(s, vocab, d, ctx, types, pad, eps):
        super().__init__()
        s.word_embeddings = nn.Embedding(vocab, d, padding_idx=pad)
        s.position_embeddings = nn.Embedding(ctx, d)
        s.token_type_embeddings = nn.Embedding(types, d)
        s.LayerNorm = nn.LayerNorm(d, eps=eps)
    def forward(s, ids, types):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        return s.LayerNorm(s.word_embeddings(ids) + s.token_type_embeddings(types) + s.position_embeddings(pos))

class Transform(nn.Module):
    def __init__(s, d, eps):
        super().__init__()
        s.dense = nn.Linear(d, d)
        s.LayerNorm = nn.LayerNorm(d, eps=eps)
    def forward(s, h):
        return s.LayerNorm(nn.functional.gelu(s.dense(h)))

class Predictions(nn.Module):
    def __init__(s, vocab, d, eps):
        super().__init__()
        s.transform = Transform(d, eps)
        s.decoder = nn.Linear(d, vocab, bias=False)
        s.bias = nn.Parameter(torch.zeros(vocab))
        s.decoder.bias = s.bias          # as HF's BertLMPredictionHead
    def forward(s, h):
        return s.decoder(s.transform(h))

class Bert(nn.Module):
    def __init__(s, vocab, d, ctx, types, pad, eps):
        super().__init__()
        s.embeddings = Embeddings(vocab, d, ctx, types, pad, eps)

class Cls(nn.Module):
    def __init__(s, vocab, d, eps):
        super().__init__()
        s.predictions = Predictions(vocab, d, eps)

class BertForMaskedLM(nn.Module):
    def __init__(s, vocab, d, ctx, types=2, pad=0, eps=1e-12):
        super().__init__()
        s.bert = Bert(vocab, d, ctx, types, pad, eps)
        s.cls = Cls(vocab, d, eps)
        # tie_weights(): the decoder's weight is the word-embedding Parameter itself
        s.cls.predictions.decoder.weight = s.bert.embeddings.word_embeddings.weight
    def forward(s, ids, types):
        return s.cls.predictions(s.bert.embeddings(ids, types))

case = json.load(open(sys.argv[1]))
a = case["args"]
model = BertForMaskedLM(a["vocab"], a["d"], a["ctx"])
sd = {k: torch.tensor(v["data"], dtype=torch.float32).reshape(v["shape"]) for k, v in case["weights"].items()}
missing, unexpected = model.load_state_dict(sd, strict=True)
ids = torch.tensor(case["ids"]["data"]).reshape(case["ids"]["shape"])
types = torch.tensor(case["types"]["data"]).reshape(case["types"]["shape"])
probe = torch.tensor(case["probe"]["data"], dtype=torch.float32).reshape(case["probe"]["shape"])
(model(ids, types) * probe).sum().backward()
dec = model.cls.predictions.decoder.weight
word = model.bert.embeddings.word_embeddings.weight
out = {"same_parameter": dec is word, "same_grad": dec.grad is word.grad}
out["grads"] = {k: p.grad.reshape(-1).tolist() for k, p in model.named_parameters()}
out["grads"]["cls.predictions.decoder.weight"] = dec.grad.reshape(-1).tolist()
out["grads"]["cls.predictions.decoder.bias"] = model.cls.predictions.decoder.bias.grad.reshape(-1).tolist()
print(json.dumps(out))
`;

describe("against PyTorch: a hand-written Hugging Face style BertForMaskedLM", () => {
  it.skipIf(!PY)(`spikelm grad gives PyTorch's gradients, the tied one under both names${SKIP}`, () => {
    const m = tinyMlm(0);
    const ckpt = exportWeights(m.weights, MLM_MAPPING, m.graph.params);
    fs.writeFileSync(file("hf0.safetensors"), serializeSafetensors(ckpt));
    const json = (t: Tensor) => ({ shape: t.shape, data: Array.from(t.data) });
    const probe = f32([2, 4, 11], Float32Array.from({ length: 88 }, (_, i) => Math.fround(Math.cos(3 * i))));
    fs.writeFileSync(file("in0.json"), JSON.stringify(Object.fromEntries([...m.inputs].map(([k, t]) => [k, { ...json(t), dtype: "i32" }]))));
    fs.writeFileSync(file("probe0.json"), JSON.stringify(json(probe)));
    fs.writeFileSync(file("case.json"), JSON.stringify({ args: m.args, weights: Object.fromEntries([...ckpt].map(([k, t]) => [k, json(t)])), ids: json(m.inputs.get("ids")!), types: json(m.inputs.get("types")!), probe: json(probe) }));
    fs.writeFileSync(file("hf.py"), HF_STYLE);
    const py = spawnSync(PY!, [file("hf.py"), file("case.json")], { encoding: "utf8", timeout: 120_000 });
    expect(py.status, py.stderr).toBe(0);
    const torch = JSON.parse(py.stdout) as { same_parameter: boolean; same_grad: boolean; grads: Record<string, number[]> };
    expect(torch.same_parameter && torch.same_grad).toBe(true);

    const args = Object.entries(m.args).flatMap(([k, v]) => ["--arg", `${k}=${v}`]);
    const out = file("g0.safetensors");
    const r = spikelm("grad", SPEC, "--entry", "SpikeLMForMaskedLM", ...args, "--weights", file("hf0.safetensors"), "--input", file("in0.json"), "--probe", file("probe0.json"), "--out", out);
    expect(r.code, r.stderr).toBe(0);
    const mine = readSafetensors(out).tensors;
    // every PyTorch parameter name (plus the two tied aliases), and nothing else
    expect([...mine.keys()].sort()).toEqual(Object.keys(torch.grads).sort());
    for (const [name, want] of Object.entries(torch.grads)) {
      const got = mine.get(name)!.data;
      const scale = Math.max(...want.map(Math.abs));
      const diff = Math.max(...want.map((v, i) => Math.abs(v - got[i]!)));
      expect(diff, `${name}: max |spikelm - torch| ${diff}, max |g| ${scale}`).toBeLessThanOrEqual(1e-5 * scale + 1e-7);
    }
  });
});
