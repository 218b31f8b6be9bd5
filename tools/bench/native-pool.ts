/**
 * The native addon's threads (native/parallel.c spk_parallel) on small kernels, the calls the
 * block makes dozens of per forward:
 *   node --import tsx tools/bench/native-pool.ts [reps=400] [addon.node]
 * times GELU and LayerNorm over [128, 768] and a spike accumulate [128, 768] x [768, 768]
 * on 1 and 2 threads, back to back and with a gap of JavaScript work between calls (as in
 * the executor, where the pool's workers may have gone to sleep), and prints per call the
 * median wall time of the call and the process CPU time (every thread, over the whole loop
 * less the gap's own JavaScript time: the kernel's work, its threads' start and what waiting
 * workers spin). With a
 * path, that built addon is loaded instead of the project's (to compare two builds of the
 * same sources in one session, alternating runs; the cache keeps each build under its hash).
 */
import * as os from "node:os";
import { nativeAddon, startNative } from "../../interpreter/engine/kernels/native-backend.js";
import { streamFor } from "../../interpreter/engine/random.js";

interface Kernels {
  gelu(x: Float32Array, out: Float32Array, threads: number): void;
  layernorm(x: Float32Array, gamma: Float32Array, beta: Float32Array, eps: number, d: number, out: Float32Array, threads: number): void;
  spikeOp(...args: unknown[]): boolean;
  pack(W: Float32Array, K: number, C: number, wrs: number, wcs: number, dst: Float32Array): void;
  readonly tileWidth: number;
}

const reps = Number(process.argv[2] ?? 400);
const file = process.argv[3];
let a: Kernels;
if (file) {
  const m = { exports: {} as unknown };
  process.dlopen(m, file, os.constants.dlopen.RTLD_NOW);
  a = m.exports as Kernels;
} else {
  if (!startNative()) throw new Error("no native addon here");
  a = nativeAddon() as unknown as Kernels;
}

const R = 128, d = 768;
const rng = streamFor(1, "bench-native-pool");
const rnd = () => rng.uniform();
const x = Float32Array.from({ length: R * d }, () => rnd() * 8 - 4);
const out = new Float32Array(R * d);
const gamma = Float32Array.from({ length: d }, () => rnd() + 0.5);
const beta = Float32Array.from({ length: d }, () => rnd() - 0.5);
const S = Int8Array.from({ length: R * d }, () => (rnd() < 0.2 ? (rnd() < 0.5 ? -1 : 1) : 0));
const W = Float32Array.from({ length: d * d }, () => rnd() - 0.5);
const packed = new Float32Array(Math.ceil(d / a.tileWidth) * d * a.tileWidth);
a.pack(W, d, d, d, 1, packed);

const kernels: [string, (threads: number) => void][] = [
  ["gelu [128x768]", (t) => a.gelu(x, out, t)],
  ["layernorm [128x768]", (t) => a.layernorm(x, gamma, beta, 1e-5, d, out, t)],
  ["spikeOp [128x768]x[768x768]", (t) => a.spikeOp(S, R, d, d, 1, packed, d, 0, 0, out, d, 1, null, t, 1, 0, 0, 0, true)],
];

/** Busy JavaScript work for about `us` microseconds (the executor's own work between kernels). */
function jsWork(us: number): void {
  const end = performance.now() + us / 1000;
  while (performance.now() < end);
}

console.log(`${reps} calls each, median wall of a call and mean process CPU per call less the gap (us); gap = us of JS work between calls`);
console.log("kernel                          threads   gap    wall     cpu");
for (const [name, run] of kernels) {
  for (const gap of [0, 200]) {
    for (const threads of [1, 2]) {
      for (let i = 0; i < 20; i++) run(threads);
      const ts: number[] = [];
      let gaps = 0;
      const c0 = process.cpuUsage();
      for (let i = 0; i < reps; i++) {
        const g0 = performance.now();
        if (gap) jsWork(gap);
        const t0 = performance.now();
        run(threads);
        ts.push(performance.now() - t0);
        gaps += t0 - g0;
      }
      const c = process.cpuUsage(c0);
      ts.sort((p, q) => p - q);
      const wall = ts[Math.floor(ts.length / 2)]! * 1000;
      const cpu = (c.user + c.system - gaps * 1000) / reps;
      console.log(`${name.padEnd(32)}${String(threads).padStart(7)}${String(gap).padStart(6)}${wall.toFixed(0).padStart(8)}${cpu.toFixed(0).padStart(8)}`);
    }
  }
}
