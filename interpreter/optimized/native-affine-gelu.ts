/**
 * Recognizes the fused elementwise program a spiking layer's GELU becomes,
 * `gelu(fround(fround(scale * acc) + bias))` (scale one value or one per time step, acc the
 * spike-accumulate of the output's shape, bias along the last axis), so that the executor can
 * run it as one native pass (engine/kernels/native-float.ts nativeGeluAffineInto) instead of
 * the program without its GELU and then GELU over its output.
 */
import type { FusedStep } from "../passes/fuse-elementwise.js";

/** Which of the node's inputs is the accumulate, the scale and the bias. */
export interface AffineGelu {
  readonly x: number;
  readonly scale: number;
  readonly bias: number;
  /** Elements of the output, of the scale, of the bias. */
  readonly n: number;
  readonly S: number;
  readonly C: number;
}

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/**
 * The operands of `program` if it is mul(x, scale) or mul(scale, x), then add of that and a
 * bias (either order), then gelu; `shapes` are the inputs' shapes and `out` the output's
 * (aligned here by leading 1s; whole-time shapes lead with the time axis). IEEE multiplication and addition
 * are commutative, so either order gives the kernel's bits.
 */
export function matchAffineGelu(program: readonly FusedStep[], shapes: readonly (readonly number[])[], out: readonly number[]): AffineGelu | undefined {
  if (program.length !== 3) return undefined;
  const [mul, add, gelu] = program as [FusedStep, FusedStep, FusedStep];
  if (mul.op !== "mul" || add.op !== "add" || gelu.op !== "gelu") return undefined;
  const g = gelu.args[0];
  if (gelu.args.length !== 1 || !g || !("tmp" in g) || g.tmp !== 1) return undefined;
  const [m0, m1] = mul.args;
  const [a0, a1] = add.args;
  if (!m0 || !m1 || !("in" in m0) || !("in" in m1) || !a0 || !a1) return undefined;
  const biasRef = "tmp" in a0 && a0.tmp === 0 ? a1 : "tmp" in a1 && a1.tmp === 0 ? a0 : undefined;
  if (!biasRef || !("in" in biasRef)) return undefined;
  const R = Math.max(out.length, ...shapes.map((s) => s.length));
  const pad = (s: readonly number[]) => [...new Array<number>(R - s.length).fill(1), ...s];
  const o = pad(out);
  const [sx, ss, sb] = [pad(shapes[m0.in]!), pad(shapes[m1.in]!), pad(shapes[biasRef.in]!)];
  const same = (s: readonly number[]) => s.every((v, i) => v === o[i]);
  // one value, or one per index of the leading axis (time, when whole-time): scale[i / (n / S)]
  const isScale = (s: readonly number[]) => numel(s) === 1 || (R > 1 && s[0] === o[0] && numel(s) === s[0]);
  // along the last axis only: bias[i % C]
  const isBias = (s: readonly number[]) => R > 0 && s[R - 1] === o[R - 1] && numel(s) === o[R - 1];
  const [xi, si] = same(sx) && isScale(ss) ? [m0.in, m1.in] : same(ss) && isScale(sx) ? [m1.in, m0.in] : [-1, -1];
  if (xi < 0 || !isBias(sb)) return undefined;
  return { x: xi, scale: si, bias: biasRef.in, n: numel(o), S: numel(xi === m0.in ? ss : sx), C: o[R - 1]! };
}
