/**
 * The SpikeLM encoder spec against an independent forward written here in plain TypeScript
 * loops (float64) straight from SPIKELM.md's formulas, reading the shipped weights file by
 * the reference code's names (not through the mapping). Small config, a padded batch.
 *
 * Outputs agree within 1e-4 and every neuron fires exactly the same number of +1 and -1
 * spikes. (Float32 vs float64 could in principle flip a spike whose u/alpha lies within
 * ~1e-7 of ±0.5; on this input none does, and the test would show it if one did.)
 */
import { describe, expect, it } from "vitest";
import { type Tensor, i32 } from "../interpreter/engine/tensor.js";
import { readSafetensors } from "../interpreter/io/safetensors.js";
import { ParamStore } from "../interpreter/runtime/params.js";
import { compileEntry } from "../interpreter/compile.js";
import { ReferenceInterpreter } from "../interpreter/reference/interpreter.js";
import { runSpec } from "../interpreter/run.js";
import { SMALL_ENCODER_ARGS, SMALL_ENCODER_WEIGHTS, findModel } from "../models/registry.js";
import { encodeTexts, loadModel } from "../models/tasks.js";

const F32_MIN = -3.4028234663852886e38;
const { d, heads, depth } = SMALL_ENCODER_ARGS;
const T = 4;
const dh = d / heads;
const ref = readSafetensors(SMALL_ENCODER_WEIGHTS).tensors;
const W = (name: string): Tensor => {
  const t = ref.get(name);
  if (!t) throw new Error(`no ${name}`);
  return t;
};
const vec = (name: string) => Array.from(W(name).data);
const scalar = (name: string) => W(name).data[0]!;

type Mat = number[][]; // [rows][features]
const roundHalfEven = (x: number) => {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};
const erf = (x: number) => {
  // Abramowitz–Stegun 7.1.26 is too coarse; use a series / continued fraction good to 1e-15.
  const s = Math.sign(x);
  const a = Math.abs(x);
  if (a < 3) {
    let sum = 0;
    let term = a;
    for (let n = 0; n < 100; n++) {
      sum += term / (2 * n + 1);
      term *= (-a * a) / (n + 1);
    }
    return (s * 2 * sum) / Math.sqrt(Math.PI);
  }
  // erfc continued fraction for large |x|
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (a + f);
  return s * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f));
};
const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));

function layerNorm(x: number[], g: number[], b: number[], eps = 1e-12): number[] {
  const m = x.reduce((s, v) => s + v, 0) / x.length;
  const v = x.reduce((s, y) => s + (y - m) ** 2, 0) / x.length;
  return x.map((y, i) => ((y - m) / Math.sqrt(v + eps)) * g[i]! + b[i]!);
}

/** y = x Wᵀ + b with W [out, in] from the reference file. */
function linear(x: number[], w: Tensor, b: number[]): number[] {
  const [out, inp] = w.shape as [number, number];
  const y = new Array<number>(out);
  for (let o = 0; o < out; o++) {
    let s = b[o]!;
    for (let i = 0; i < inp; i++) s += x[i]! * w.data[o * inp + i]!;
    y[o] = s;
  }
  return y;
}

interface Counts {
  pos: number;
  neg: number;
}

/**
 * The reference neuron over T steps on rows xs[t][r][f]: u_0 = x_0,
 * u_t = 0.25·α_{t-1}·(1 − s_{t-1})·u_{t-1} + x_t, s_t = clamp(round(u_t/α_t), −1, 1); emits α_t·s_t.
 * `alpha` undefined: calibrated per step as 2·mean|u_t| over everything (padding included).
 */
function spikeNeuron(xs: Mat[], alpha: number[] | undefined, counts: Counts, calibrated?: number[]): Mat[] {
  const rows = xs[0]!.length;
  const F = xs[0]![0]!.length;
  let u: Mat = xs[0]!.map((r) => r.map(() => 0));
  let s: Mat = u.map((r) => r.map(() => 0));
  let prevAlpha = 0;
  const out: Mat[] = [];
  for (let t = 0; t < T; t++) {
    u = xs[t]!.map((r, i) => r.map((x, f) => (t === 0 ? x : 0.25 * prevAlpha * (1 - s[i]![f]!) * u[i]![f]! + x)));
    let a = alpha?.[t];
    if (a === undefined) {
      let sum = 0;
      for (const r of u) for (const v of r) sum += Math.abs(v);
      a = (2 * sum) / (rows * F);
      calibrated?.push(a);
    }
    s = u.map((r) => r.map((v) => Math.max(-1, Math.min(1, roundHalfEven(v / a!)))));
    for (const r of s) for (const v of r) (v > 0 ? (counts.pos++, 0) : v < 0 ? (counts.neg++, 0) : 0);
    out.push(s.map((r) => r.map((v) => a! * v)));
    prevAlpha = a;
  }
  return out;
}

/** The stateless K/V re-quantiser: α_t·clamp(round(x/α_t), −1, 1). */
function quant(xs: Mat[], alpha: number[] | undefined, counts: Counts, calibrated?: number[]): Mat[] {
  return xs.map((x, t) => {
    let a = alpha?.[t];
    if (a === undefined) {
      let sum = 0;
      for (const r of x) for (const v of r) sum += Math.abs(v);
      a = (2 * sum) / (x.length * x[0]!.length);
      calibrated?.push(a);
    }
    return x.map((r) =>
      r.map((v) => {
        const s = Math.max(-1, Math.min(1, roundHalfEven(v / a!)));
        if (s > 0) counts.pos++;
        else if (s < 0) counts.neg++;
        return a! * s;
      }),
    );
  });
}

interface Independent {
  hidden: number[][][]; // [B][L][d]
  counts: Map<string, Counts>;
  alphas: Map<string, number[]>;
}

/** The whole encoder; `useAlphas` false calibrates every amplitude on this call. */
function independentEncoder(ids: number[][], mask: number[][], useAlphas: boolean): Independent {
  const B = ids.length;
  const L = ids[0]!.length;
  const counts = new Map<string, Counts>();
  const alphas = new Map<string, number[]>();
  const cnt = (k: string) => {
    const c = { pos: 0, neg: 0 };
    counts.set(k, c);
    return c;
  };
  const alphaOf = (name: string, key: string): number[] | undefined => {
    if (useAlphas) return Array.from({ length: T }, (_, t) => scalar(`${name}.${t}`));
    const a: number[] = [];
    alphas.set(key, a);
    return undefined;
  };
  const word = W("bert.embeddings.word_embeddings.weight");
  const pos = W("bert.embeddings.position_embeddings.weight");
  const typ = W("bert.embeddings.token_type_embeddings.weight");
  const row = (t: Tensor, i: number) => Array.from(t.data.subarray(i * d, (i + 1) * d));
  // rows r = b * L + l
  const emb: Mat = [];
  for (let b = 0; b < B; b++)
    for (let l = 0; l < L; l++) {
      const w = row(word, ids[b]![l]!);
      const ty = row(typ, 0);
      const p = row(pos, l);
      emb.push(layerNorm(w.map((v, i) => v + ty[i]! + p[i]!), vec("bert.embeddings.LayerNorm.weight"), vec("bert.embeddings.LayerNorm.bias")));
    }
  let x: Mat[] = Array.from({ length: T }, () => emb.map((r) => [...r]));
  const spikeLinear = (xs: Mat[], name: string, key: string): Mat[] => {
    const a = alphaOf(`${name}.act_clip_val`, `${key}.fire.alpha`);
    const s = spikeNeuron(xs, a, cnt(`${key}.fire`), alphas.get(`${key}.fire.alpha`));
    const w = W(`${name}.weight`);
    const bias = vec(`${name}.bias`);
    return s.map((m) => m.map((r) => linear(r, w, bias)));
  };
  for (let i = 0; i < depth; i++) {
    const P = `bert.encoder.layer.${i}`;
    const K = `blocks.${i}`;
    const q = spikeLinear(x, `${P}.attention.self.query`, `${K}.attn.q`);
    const k = quant(spikeLinear(x, `${P}.attention.self.key`, `${K}.attn.k`), alphaOf(`${P}.attention.self.clip_key`, `${K}.attn.kfire.alpha`), cnt(`${K}.attn.kfire`), alphas.get(`${K}.attn.kfire.alpha`));
    const v = quant(spikeLinear(x, `${P}.attention.self.value`, `${K}.attn.v`), alphaOf(`${P}.attention.self.clip_value`, `${K}.attn.vfire.alpha`), cnt(`${K}.attn.vfire`), alphas.get(`${K}.attn.vfire.alpha`));
    const ctx: Mat[] = [];
    for (let t = 0; t < T; t++) {
      const c: Mat = Array.from({ length: B * L }, () => new Array<number>(d).fill(0));
      for (let b = 0; b < B; b++)
        for (let h = 0; h < heads; h++)
          for (let l = 0; l < L; l++) {
            const scores = new Array<number>(L);
            for (let m = 0; m < L; m++) {
              let s = 0;
              for (let e = 0; e < dh; e++) s += q[t]![b * L + l]![h * dh + e]! * k[t]![b * L + m]![h * dh + e]!;
              scores[m] = s / Math.sqrt(dh) + (1 - mask[b]![m]!) * F32_MIN;
            }
            const mx = Math.max(...scores);
            const ex = scores.map((s) => Math.exp(s - mx));
            const z = ex.reduce((a, b2) => a + b2, 0);
            for (let m = 0; m < L; m++) for (let e = 0; e < dh; e++) c[b * L + l]![h * dh + e]! += (ex[m]! / z) * v[t]![b * L + m]![h * dh + e]!;
          }
      ctx.push(c);
    }
    const attnOut = spikeLinear(ctx, `${P}.attention.output.dense`, `${K}.proj`);
    const h = x.map((m, t) => m.map((r, j) => layerNorm(r.map((vv, f) => vv + attnOut[t]![j]![f]!), vec(`${P}.attention.output.LayerNorm.weight`), vec(`${P}.attention.output.LayerNorm.bias`))));
    const inter = spikeLinear(h, `${P}.intermediate.dense`, `${K}.up`).map((m) => m.map((r) => r.map(gelu)));
    const out = spikeLinear(inter, `${P}.output.dense`, `${K}.down`);
    x = h.map((m, t) => m.map((r, j) => layerNorm(r.map((vv, f) => vv + out[t]![j]![f]!), vec(`${P}.output.LayerNorm.weight`), vec(`${P}.output.LayerNorm.bias`))));
  }
  const hidden: number[][][] = [];
  for (let b = 0; b < B; b++) {
    hidden.push([]);
    for (let l = 0; l < L; l++) hidden[b]!.push(Array.from({ length: d }, (_, f) => x.reduce((s, m) => s + m[b * L + l]![f]!, 0) / T));
  }
  return { hidden, counts, alphas };
}

const texts = ["the cat sat on the mat.", "a dog ran home!", "i loved this wonderful film, but the music was too long"];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function specCounts(record: ReadonlyMap<string, { levels: { data: Float32Array } }>): Map<string, Counts> {
  const out = new Map<string, Counts>();
  for (const [k, r] of record) {
    const c = { pos: 0, neg: 0 };
    for (const v of r.levels.data) if (v > 0) c.pos++;
    else if (v < 0) c.neg++;
    out.set(k, c);
  }
  return out;
}

describe("SpikeLM encoder == an independent forward from SPIKELM.md (small config, padding mask)", () => {
  // The seeded shipped file (models/spikelm/make-weights.ts), which `ref` above reads.
  const model = loadModel("encode", { weights: SMALL_ENCODER_WEIGHTS });
  const batch = encodeTexts(model, texts);
  const ids = Array.from({ length: texts.length }, (_, b) => Array.from(batch.ids.data.subarray(b * batch.ids.shape[1]!, (b + 1) * batch.ids.shape[1]!)));
  const mask = Array.from({ length: texts.length }, (_, b) => Array.from(batch.mask.data.subarray(b * batch.mask.shape[1]!, (b + 1) * batch.mask.shape[1]!)));
  const inputs = new Map<string, Tensor>([["ids", batch.ids], ["types", batch.types], ["mask", batch.mask]]);

  it("the batch really has padding", () => {
    expect(mask.flat().filter((m) => m === 0).length).toBeGreaterThan(10);
  });

  it("with the checkpoint's amplitudes: hidden states within 1e-4, identical spike counts per neuron", () => {
    const ind = independentEncoder(ids, mask, true);
    const r = runSpec({ file: model.info.spec, entry: model.info.entry, args: model.info.args, inputs, params: storeFor(model.weights!, inputs), record: true });
    expect(r.output.shape).toEqual([texts.length, ids[0]!.length, d]);
    expect(maxAbsDiff(r.output.data, ind.hidden.flat(2))).toBeLessThan(1e-4);
    const got = specCounts(r.record);
    expect(got.size).toBe(ind.counts.size);
    for (const [k, c] of ind.counts) expect(got.get(k), k).toEqual(c);
  });

  it("padding does not leak into real tokens: other ids at padded positions change nothing there, bit for bit", () => {
    const L = ids[0]!.length;
    const ids2 = ids.map((r2, b) => r2.map((v, l) => (mask[b]![l] ? v : 7)));
    expect(ids2.flat().filter((v, i) => v !== ids.flat()[i]).length).toBeGreaterThan(10);
    const inputs2 = new Map<string, Tensor>([...inputs, ["ids", i32(batch.ids.shape, ids2.flat())]]);
    const run = (inp: ReadonlyMap<string, Tensor>) => runSpec({ file: model.info.spec, entry: model.info.entry, args: model.info.args, inputs: inp, params: storeFor(model.weights!, inp) }).output;
    const a = run(inputs);
    const b = run(inputs2);
    // the spec on the changed ids still matches the independent forward on them
    expect(maxAbsDiff(b.data, independentEncoder(ids2, mask, true).hidden.flat(2))).toBeLessThan(1e-4);
    let paddedChanged = false;
    for (let bi = 0; bi < ids.length; bi++)
      for (let l = 0; l < L; l++) {
        const at = (t: Tensor) => t.data.subarray((bi * L + l) * d, (bi * L + l + 1) * d);
        if (mask[bi]![l]) expect(maxAbsDiff(at(a), at(b)), `row ${bi},${l}`).toBe(0);
        else if (maxAbsDiff(at(a), at(b)) > 0) paddedChanged = true;
      }
    // the padded rows themselves did change (the edit reached the model)
    expect(paddedChanged).toBe(true);
  });

  it("without amplitudes: first-call calibration over all positions (padding included) matches", () => {
    const noAlpha = new Map([...model.weights!].filter(([k]) => !k.endsWith(".alpha")));
    const ind = independentEncoder(ids, mask, false);
    const r = runSpec({ file: model.info.spec, entry: model.info.entry, args: model.info.args, inputs, params: storeFor(noAlpha, inputs), record: true });
    expect(maxAbsDiff(r.output.data, ind.hidden.flat(2))).toBeLessThan(1e-4);
    for (const [k, a] of ind.alphas) {
      const got = Array.from(r.params.get(k).tensor.data);
      a.forEach((v, t) => expect(Math.abs(got[t]! - v) / v, `${k}[${t}]`).toBeLessThan(1e-5));
    }
    const got = specCounts(r.record);
    for (const [k, c] of ind.counts) expect(got.get(k), k).toEqual(c);
  });

  it("the masked-LM and classification heads apply BERT's float heads to the mean over T", () => {
    const ind = independentEncoder(ids, mask, true);
    const mlm = loadModel("fill-mask", { weights: SMALL_ENCODER_WEIGHTS });
    const r = runSpec({ file: mlm.info.spec, entry: mlm.info.entry, args: mlm.info.args, inputs, params: storeFor(mlm.weights!, inputs, mlm.info.spec, mlm.info.entry, mlm.info.args) });
    const V = SMALL_ENCODER_ARGS.vocab;
    const want: number[] = [];
    for (const row of ind.hidden.flat(1)) {
      const t = layerNorm(linear(row, W("cls.predictions.transform.dense.weight"), vec("cls.predictions.transform.dense.bias")).map(gelu), vec("cls.predictions.transform.LayerNorm.weight"), vec("cls.predictions.transform.LayerNorm.bias"));
      want.push(...linear(t, W("cls.predictions.decoder.weight"), vec("cls.predictions.bias")));
    }
    expect(r.output.shape).toEqual([texts.length, ids[0]!.length, V]);
    expect(maxAbsDiff(r.output.data, want)).toBeLessThan(1e-4);

    const cls = loadModel("classify", { weights: SMALL_ENCODER_WEIGHTS });
    const rc = runSpec({ file: cls.info.spec, entry: cls.info.entry, args: cls.info.args, inputs, params: storeFor(cls.weights!, inputs, cls.info.spec, cls.info.entry, cls.info.args) });
    const wantC = ind.hidden.flatMap((seq) => linear(linear(seq[0]!, W("bert.pooler.dense.weight"), vec("bert.pooler.dense.bias")).map(Math.tanh), W("classifier.weight"), vec("classifier.bias")));
    expect(rc.output.shape).toEqual([texts.length, 2]);
    expect(maxAbsDiff(rc.output.data, wantC)).toBeLessThan(1e-4);
  });

  it("the optimized executor and the reference interpreter agree bit for bit on the encoder", () => {
    const params = storeFor(model.weights!, inputs);
    const compiled = compileEntry({ file: model.info.spec, entry: model.info.entry, args: model.info.args, inputs });
    const a = new ReferenceInterpreter(compiled.graph, params.clone()).run(inputs).output;
    const b = runSpec({ file: model.info.spec, entry: model.info.entry, args: model.info.args, inputs, params: params.clone() }).output;
    expect(Buffer.from(a.data.buffer).equals(Buffer.from(b.data.buffer))).toBe(true);
  });

  it("the encoder checked here is the registry's spec and entry, with the seeded weights", () => {
    expect(model.weightsSource).toBe(SMALL_ENCODER_WEIGHTS);
    expect(findModel("encoder-small").spec).toBe(model.info.spec);
    expect(findModel("encoder-small").entry).toBe(model.info.entry);
  });
});

function storeFor(weights: ReadonlyMap<string, Tensor>, inputs: ReadonlyMap<string, Tensor>, spec = findModel("encoder-small").spec, entry = "SpikeLMEncoder", args: Readonly<Record<string, number | boolean>> = SMALL_ENCODER_ARGS) {
  const compiled = compileEntry({ file: spec, entry, args, inputs });
  return ParamStore.create(compiled.graph.params, weights);
}
