/**
 * AdamW (Loshchilov & Hutter): decoupled weight decay, bias-corrected moments, float32
 * state (m, v per parameter) updated in place. Arithmetic is in doubles and rounded to
 * float32 when stored, element by element, in a fixed order: the same inputs give the same
 * bits. `globalNorm` / `scaleGrads` implement clipping by the global L2 norm.
 */
export interface AdamWConfig {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
}

const ADAMW_DEFAULTS: AdamWConfig = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

export interface OptimParam {
  readonly path: string;
  readonly data: Float32Array;
  /** Whether weight decay applies (matrices; not biases, LayerNorm, amplitudes). */
  readonly decay: boolean;
}

export class AdamW {
  readonly m: Map<string, Float32Array>;
  readonly v: Map<string, Float32Array>;

  constructor(
    readonly params: readonly OptimParam[],
    readonly config: AdamWConfig = ADAMW_DEFAULTS,
  ) {
    this.m = new Map(params.map((p) => [p.path, new Float32Array(p.data.length)]));
    this.v = new Map(params.map((p) => [p.path, new Float32Array(p.data.length)]));
  }

  /** Update `t` (1-based: the number of updates including this one) at learning rate `lr`. */
  update(grads: ReadonlyMap<string, Float32Array>, lr: number, t: number): void {
    const { beta1, beta2, eps, weightDecay } = this.config;
    const bc1 = 1 - beta1 ** t;
    const bc2 = 1 - beta2 ** t;
    for (const p of this.params) {
      const g = grads.get(p.path);
      if (!g) continue;
      const m = this.m.get(p.path)!;
      const v = this.v.get(p.path)!;
      const w = p.data;
      const decay = p.decay ? 1 - lr * weightDecay : 1;
      for (let i = 0; i < w.length; i++) {
        const gi = g[i]!;
        const mi = beta1 * m[i]! + (1 - beta1) * gi;
        const vi = beta2 * v[i]! + (1 - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i]! * decay - (lr * (m[i]! / bc1)) / (Math.sqrt(v[i]! / bc2) + eps);
      }
    }
  }
}

/** The L2 norm of all gradients together (in a fixed order: the map's). */
export function globalNorm(grads: ReadonlyMap<string, Float32Array>): number {
  let s = 0;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
  return Math.sqrt(s);
}

export function scaleGrads(grads: ReadonlyMap<string, Float32Array>, f: number): void {
  if (f === 1) return;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] = g[i]! * f;
}
