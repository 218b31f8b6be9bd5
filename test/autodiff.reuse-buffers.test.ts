/**
 * The gradient engine's `reuseBuffers` mode (what training uses): every tensor of the tape
 * and the backward comes from a BufferArena planned by the first run, results are buffers
 * the engine owns. Checked on the causal SpikeLM decoder spec (spiking neurons, attention,
 * LayerNorm, embeddings) over several training-like steps, the parameters updated in place
 * between steps:
 * - gradients, output and loss are the bits of a default engine (fresh arrays) on the same
 *   parameters and inputs (a buffer reused while still live would change them);
 * - after the first step, no step creates a buffer (the arena's count of buffers it made
 *   stays where the first step left it), while the first step made hundreds.
 */
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { GradientEngine } from "../interpreter/autodiff/index.js";
import { compileEntry } from "../interpreter/compile.js";
import { type Tensor, f32, i32 } from "../interpreter/engine/tensor.js";
import { ParamStore } from "../interpreter/runtime/params.js";
import { xorshift32 } from "../interpreter/verify/arbitraries.js";
import { REPO } from "./helpers.js";

const bits = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

describe("gradient engine with reuseBuffers", () => {
  it("gives the default engine's bits step after step, and creates no buffer after the first step", () => {
    const B = 2, L = 8, V = 256;
    const file = path.join(REPO, "models/spikelm/spikelm_decoder.spk");
    const args = { d: 16, heads: 2, depth: 2, ffn: 32, ctx: 8 };
    const { graph } = compileEntry({ file, entry: "SpikeLMDecoder", args, inputs: new Map([["ids", i32([B, L])]]) });
    const reused = ParamStore.create(graph.params, new Map(), { seed: 3 });
    const fresh = ParamStore.create(graph.params, new Map(), { seed: 3 });
    const a = new GradientEngine(graph, reused, { reuseBuffers: true });
    const b = new GradientEngine(graph, fresh);
    const rand = xorshift32(11);
    const probe = f32([B, L, V], Array.from({ length: B * L * V }, () => Math.fround((rand() / 2 ** 32 - 0.5) * 0.1)));
    // L = Σ output · probe: dL/doutput = probe
    const loss = (out: Tensor) => {
      let s = 0;
      for (let i = 0; i < out.data.length; i++) s += out.data[i]! * probe.data[i]!;
      return { loss: s, gradOutput: probe };
    };
    const created: number[] = [];
    for (let step = 0; step < 4; step++) {
      const ids = i32([B, L], Array.from({ length: B * L }, () => rand() % V));
      const inputs = new Map<string, Tensor>([["ids", ids]]);
      const ra = a.run(inputs, loss);
      const rb = b.run(inputs, loss);
      created.push(a.buffersCreated);
      expect(ra.loss).toBe(rb.loss);
      expect(bits(ra.output.data as Float32Array).equals(bits(rb.output.data as Float32Array))).toBe(true);
      expect([...ra.grads.keys()]).toEqual([...rb.grads.keys()]);
      for (const [k, g] of ra.grads) expect(bits(g).equals(bits(rb.grads.get(k)!)), `${k} at step ${step}`).toBe(true);
      // an SGD step on both stores, in place (the executors must read the new weights)
      for (const [k, g] of ra.grads) {
        const wa = reused.get(k).tensor.data;
        const wb = fresh.get(k).tensor.data;
        for (let i = 0; i < g.length; i++) {
          wa[i] = wa[i]! - 0.5 * g[i]!;
          wb[i] = wb[i]! - 0.5 * g[i]!;
        }
      }
    }
    expect(created[0]).toBeGreaterThan(100);
    expect(created).toEqual([created[0], created[0], created[0], created[0]]);
  });
});
