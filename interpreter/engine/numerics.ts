/**
 * Scalar numerics of the reference engine.
 *
 * Owns: the float32 rounding helpers every op uses, the float32 constants (`F32_LOWEST`,
 * the additive mask value), `roundHalfEven` (PyTorch's `torch.round`), `erf` (double
 * precision, absolute error < 5e-16) and the scalar `gelu` built on it.
 *
 * Rule of the engine: a value is computed in double precision, then rounded to float32
 * exactly once per op with `Math.fround`. For +, -, *, / and sqrt of float32 inputs this
 * equals the IEEE float32 operation bit for bit (double has more than 2*24+2 bits, so the
 * double rounding is innocuous). Everything here is pure and allocation free.
 */

/** Round to the nearest float32 (ties to even). Alias of `Math.fround`. */
export const fround: (x: number) => number = Math.fround;

/** float32 addition: `fround(a + b)`. */
export function addF32(a: number, b: number): number {
  return Math.fround(a + b);
}

/** float32 multiplication: `fround(a * b)`. */
export function mulF32(a: number, b: number): number {
  return Math.fround(a * b);
}

/** float32 fused-free multiply-accumulate as the engine does it: `fround(acc + fround(a * b))`. */
export function macF32(acc: number, a: number, b: number): number {
  return Math.fround(acc + Math.fround(a * b));
}

/** The most negative finite float32, -(2 - 2^-23) * 2^127 = -3.4028234663852886e38 (torch.finfo(float32).min). */
export const F32_LOWEST = -3.4028234663852886e38;

/** The largest finite float32, 3.4028234663852886e38. */
export const F32_MAX = 3.4028234663852886e38;

/** True if `x` is exactly representable as a float32 (NaN counts as representable). */
export function isF32(x: number): boolean {
  return Number.isNaN(x) || Math.fround(x) === x;
}

/**
 * Round to the nearest integer, ties to even: PyTorch's `torch.round` / C `nearbyint` in the
 * default rounding mode. Exact for every double (hence every float32).
 *
 * - round(0.5) = 0, round(1.5) = 2, round(2.5) = 2, round(-1.5) = -2, round(-2.5) = -2.
 * - Signed zero is kept as torch keeps it: a negative input that rounds to zero gives -0
 *   (round(-0.5) = -0, round(-0.3) = -0, round(-0) = -0); a positive one gives +0.
 * - NaN -> NaN, ±Infinity -> ±Infinity, |x| >= 2^52 (already an integer) -> x.
 *
 * Method: r = Math.round(x) (ties toward +Infinity, keeps -0 for x in [-0.5, -0]). `r - x` is
 * exact here, and equals 0.5 exactly iff x was a tie; then, if r is odd, step down to r - 1.
 */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x) || Math.abs(x) >= 4503599627370496) return x;
  const r = Math.round(x);
  if (r - x === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

/** 2 / sqrt(pi), correctly rounded double. */
const TWO_OVER_SQRT_PI = 1.1283791670955126;
/** 1 / sqrt(pi), correctly rounded double. */
const ONE_OVER_SQRT_PI = 0.5641895835477563;
/** Veltkamp splitter 2^27 + 1. */
const SPLITTER = 134217729;
/** 2^-60: relative size at which a series term stops being added. */
const SERIES_EPS = 8.673617379884035e-19;
/** Depth of the erfc continued fraction: 200 terms for 1 <= |x| < 2, 60 for 2 <= |x| < 6. */
const ERFC_CF_TERMS_NEAR = 200;
const ERFC_CF_TERMS_FAR = 60;

/**
 * exp(-a*a) with a*a split exactly into hi + lo (Dekker's two-product via Veltkamp
 * splitting), so the rounding of a*a does not cost ~a^2 ulps:
 * exp(-(hi + lo)) = exp(-hi) * (1 - lo)  (|lo| <= ulp(hi)/2, so lo^2 is negligible).
 * Evaluated as: hi = a*a; c = 134217729*a; ah = c - (c - a); al = a - ah;
 * lo = ah*ah - hi + 2*ah*al + al*al; e = Math.exp(-hi); return e - e*lo.
 */
function expNegSquare(a: number): number {
  const hi = a * a;
  const c = SPLITTER * a;
  const ah = c - (c - a);
  const al = a - ah;
  const lo = ah * ah - hi + 2 * ah * al + al * al;
  const e = Math.exp(-hi);
  return e - e * lo;
}

/**
 * The error function in double precision; absolute error below 5e-16 on [0, 7] (tested
 * against mpmath). Odd: erf(-x) = -erf(x), erf(±0) = ±0, erf(±Infinity) = ±1,
 * erf(NaN) = NaN.
 *
 * Algorithm (a = |x|; the result gets the sign of x), evaluated exactly in this order:
 * 1. a < 1: Maclaurin series erf(a) = (2/sqrt(pi)) * sum_{n>=0} p_n / (2n + 1) with
 *    p_0 = a, p_n = -p_{n-1} * (a*a) / n. Terms t_n = p_n / (2n + 1) are added in increasing
 *    n (sum starts at t_0 = a) until |t_n| <= |sum| * 2^-60 (that term is not added);
 *    result = TWO_OVER_SQRT_PI * sum. Little cancellation: terms decay from the start.
 * 2. 1 <= a < 6: erf = 1 - erfc(a), with the classical continued fraction
 *      erfc(a) = exp(-a^2)/sqrt(pi) / (a + (1/2)/(a + (2/2)/(a + (3/2)/(a + ...))))
 *    evaluated bottom-up with K partial numerators k/2, K = 200 if a < 2 else 60:
 *    f = a; for k = K down to 1: f = a + k / 2 / f   (i.e. (k / 2) / f);
 *    erfc = (ONE_OVER_SQRT_PI * expNegSquare(a)) / f.
 * 3. a >= 6 (and +Infinity): erf = 1 (erfc(6) ~ 2.2e-17 is below half an ulp of 1).
 * `Math.exp` is V8's fdlibm port, so results are identical on every platform running V8;
 * a port to another runtime must use the same exp to be bit-exact.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return x;
  const a = Math.abs(x);
  let r: number;
  if (a < 1) {
    if (a === 0) return x; // keeps the sign of zero
    const a2 = a * a;
    let p = a;
    let sum = a;
    for (let n = 1; ; n++) {
      p = (-p * a2) / n;
      const t = p / (2 * n + 1);
      if (Math.abs(t) <= sum * SERIES_EPS) break;
      sum += t;
    }
    r = TWO_OVER_SQRT_PI * sum;
  } else if (a < 6) {
    let f = a;
    for (let k = a < 2 ? ERFC_CF_TERMS_NEAR : ERFC_CF_TERMS_FAR; k >= 1; k--) f = a + k / 2 / f;
    r = 1 - (ONE_OVER_SQRT_PI * expNegSquare(a)) / f;
  } else {
    r = 1;
  }
  return x < 0 ? -r : r;
}

/**
 * GELU, erf form, as a float32 value: `fround((0.5 * x) * (1 + erf(x / Math.SQRT2)))`,
 * evaluated in double in exactly this order, rounded to float32 once. NaN gives NaN,
 * +Infinity gives +Infinity, -Infinity gives NaN (the formula's -Infinity * 0).
 * For x < -8.3744 the double 1 + erf(...) is exactly 0 and the result is -0; between about
 * -8.4 and -5 the result is a tiny value (|gelu| < 2e-6) whose relative accuracy degrades
 * (1 + erf cancels), absolute error below 1e-15. PyTorch's float kernel, which cancels in
 * float32, can differ from this there by about 1e-7 absolute (not verified against torch).
 */
export function gelu(x: number): number {
  return Math.fround(0.5 * x * (1 + erf(x / Math.SQRT2)));
}
