/**
 * Comparing two runs of one graph bit for bit: the output, every neuron's spike levels and
 * amplitudes, every tap, and gradients. "Bit for bit" is `Object.is` per element: -0 differs
 * from +0, NaN equals NaN (payloads are not part of the semantics).
 */
import type { Tensor } from "../engine/tensor.js";
import type { RunResult } from "../reference/interpreter.js";

/** Where two runs first differ. */
export interface Difference {
  /** `output`, `spikes of PATH`, `amplitudes of PATH`, `tap PATH`, `gradient of PATH`, `gradient of input NAME`. */
  readonly what: string;
  /** Flat element index (-1 when the shapes or the sets of keys differ). */
  readonly index: number;
  readonly expected?: number;
  readonly actual?: number;
  /** The shape of the tensor holding the element, or a sentence when something else differs. */
  readonly shape?: readonly number[];
  readonly note?: string;
}

/** The first index where a and b differ (`Object.is`; with `signedZero: false`, -0 equals +0), or -1. */
export function firstDiffIndex(a: ArrayLike<number>, b: ArrayLike<number>, signedZero = true): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (Object.is(x, y) || (!signedZero && x === y)) continue;
    return i;
  }
  return a.length === b.length ? -1 : n;
}

function tensorDifference(what: string, expected: Tensor, actual: Tensor): Difference | undefined {
  if (expected.shape.join() !== actual.shape.join() || expected.dtype !== actual.dtype)
    return { what, index: -1, note: `shape ${fmtShape(expected.shape)} (${expected.dtype}) expected, ${fmtShape(actual.shape)} (${actual.dtype}) found` };
  return arrayDifference(what, expected.data, actual.data, expected.shape);
}

function arrayDifference(what: string, expected: ArrayLike<number>, actual: ArrayLike<number>, shape: readonly number[]): Difference | undefined {
  const i = firstDiffIndex(expected, actual);
  if (i < 0) return undefined;
  if (expected.length !== actual.length) return { what, index: -1, note: `${expected.length} elements expected, ${actual.length} found` };
  return { what, index: i, expected: expected[i], actual: actual[i], shape };
}

const fmtShape = (s: readonly number[]) => `[${s.join(", ")}]`;

/** The first difference between two forward runs, checking output, spikes, amplitudes and taps in that order. */
export function runDifference(expected: RunResult, actual: RunResult): Difference | undefined {
  const out = tensorDifference("output", expected.output, actual.output);
  if (out) return out;
  const keys = (m: ReadonlyMap<string, unknown> | undefined) => [...(m?.keys() ?? [])].join(", ");
  if (keys(expected.record) !== keys(actual.record)) return { what: "recorded neurons", index: -1, note: `neurons ${keys(expected.record)} expected, ${keys(actual.record)} found` };
  for (const [path, r] of expected.record) {
    const o = actual.record.get(path)!;
    const d = tensorDifference(`spikes of ${path}`, r.levels, o.levels) ?? arrayDifference(`amplitudes of ${path}`, r.scale ?? [], o.scale ?? [], [r.scale?.length ?? 0]);
    if (d) return d;
  }
  if (keys(expected.taps) !== keys(actual.taps)) return { what: "taps", index: -1, note: `taps ${keys(expected.taps)} expected, ${keys(actual.taps)} found` };
  for (const [path, t] of expected.taps ?? []) {
    const d = tensorDifference(`tap ${path}`, t, actual.taps!.get(path)!);
    if (d) return d;
  }
  return undefined;
}

export interface GradientValues {
  readonly grads: ReadonlyMap<string, Float32Array>;
  readonly inputGrads: ReadonlyMap<string, Float32Array>;
}

/** The first difference between two gradient results (parameters in the expected order, then inputs). */
export function gradientDifference(expected: GradientValues, actual: GradientValues): Difference | undefined {
  for (const [kind, a, b] of [
    ["", expected.grads, actual.grads],
    ["input ", expected.inputGrads, actual.inputGrads],
  ] as const) {
    for (const [name, g] of a) {
      const h = b.get(name);
      if (!h) return { what: `gradient of ${kind}${name}`, index: -1, note: "missing" };
      const d = arrayDifference(`gradient of ${kind}${name}`, g, h, [g.length]);
      if (d) return d;
    }
    for (const name of b.keys()) if (!a.has(name)) return { what: `gradient of ${kind}${name}`, index: -1, note: "not expected" };
  }
  return undefined;
}

/** A float32 value as a user reads it: exact decimal, -0, NaN, Infinity, and the bits. */
export function describeValue(v: number | undefined): string {
  if (v === undefined) return "-";
  const bits = new Uint32Array(new Float32Array([v]).buffer)[0]!.toString(16).padStart(8, "0");
  const text = Object.is(v, -0) ? "-0" : Number.isNaN(v) ? "NaN" : String(v);
  return `${text} (0x${bits})`;
}
