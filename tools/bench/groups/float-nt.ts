/**
 * `x @ transpose(W)` on a float operand, the shape of a tied masked-LM decoder (BERT-base:
 * 5 tokens x 768 against the 30522-row embedding table). Contenders, one thread each but ort:
 *  - nt: engine/fast/matmul-nt.ts on W as stored (what the executor runs since the head was
 *    tied; read-through-transposes.ts);
 *  - transpose+nn: the blocked transpose of W into a fresh [K, N] copy, then the ikj kernel
 *    (what the executor ran before: the copy was a weight-only value of the first call);
 *  - ort: onnxruntime-node's MatMul on a constant [K, N] B, 2 intra-op threads.
 * Every row checks nt against transpose+nn bit for bit.
 */
import * as ort from "onnxruntime-node";
import { registerGroup, type BenchRow } from "../registry.js";
import { matmulModel } from "../onnx-model.js";
import { median, randomF32, rng, timeMs } from "../stats.js";
import { matmulInto } from "../../../interpreter/engine/fast/matmul.js";
import { matmulNtInto } from "../../../interpreter/engine/fast/matmul-nt.js";
import { permuteInto } from "../../../interpreter/engine/fast/permute.js";

const SHAPES: [number, number, number][] = [
  [5, 768, 30522],
  [32, 768, 30522],
];

registerGroup("float-nt", async (ctx) => {
  const rounds = ctx.quick ? 2 : 5;
  ctx.addSteps(SHAPES.length * (rounds + 1));
  const rows: BenchRow[] = [];
  for (const [M, K, N] of SHAPES) {
    const rand = rng(M * 7919 + N);
    const x = randomF32(M * K, rand);
    const w = randomF32(N * K, rand); // [N, K], as declared
    const wKN = new Float32Array(K * N);
    permuteInto(w, [N, K], [1, 0], wKN);
    const sess = await ort.InferenceSession.create(matmulModel(M, K, N, wKN), {
      intraOpNumThreads: 2,
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
      extra: { session: { intra_op: { allow_spinning: "0" } } },
    } as ort.InferenceSession.SessionOptions);
    const feeds = { A: new ort.Tensor("float32", x, [M, K]) };
    const nt = new Float32Array(M * N);
    const nn = new Float32Array(M * N);
    const runs: Record<string, () => unknown> = {
      nt: () => matmulNtInto(x, 0, w, 0, M, K, N, nt, 0),
      "transpose+nn": () => {
        const copy = new Float32Array(K * N);
        permuteInto(w, [N, K], [1, 0], copy);
        matmulInto(x, 0, copy, 0, M, K, N, nn, 0);
      },
      ort: () => sess.run(feeds),
    };
    for (const r of Object.values(runs)) await r(); // warm-up: JIT, ort session
    ctx.step(`${M}x${K}x${N} warm-up`);
    const bitExact = nt.every((v, i) => Object.is(v, nn[i]));
    if (!bitExact) ctx.log(`MISMATCH: nt vs transpose+nn bits differ at ${M}x${K}x${N}`);
    const times: Record<string, number[]> = { nt: [], "transpose+nn": [], ort: [] };
    const keys = Object.keys(runs);
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < keys.length; i++) {
        const k = keys[(i + round) % keys.length]!;
        times[k]!.push(await timeMs(runs[k]!));
      }
      ctx.step(`${M}x${K}x${N} round ${round + 1}/${rounds}`);
    }
    await sess.release();
    const s = median(times.nt!);
    for (const base of ["transpose+nn", "ort"]) {
      const b = median(times[base]!);
      rows.push({ name: "float x @ transpose(W): nt on W as stored", shape: [M, K, N], rate: null, vs: base, ratio: b / s, spike_ms: s, base_ms: b, bit_exact_vs_transpose_nn: bitExact });
    }
  }
  return rows;
});
