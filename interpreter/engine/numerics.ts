/**
 * Scalar numerics of the reference engine.
 *
 * Owns: the float32 rounding helpers every op uses, the float32 constants (`F32_LOWEST`,
 * the additive mask value), `roundHalfEven` (PyTorch's `torch.round`), `erf` (fdlibm's double
 * precision algorithm, error < 1 ulp) and the scalar `gelu` built on it.
 *
 * Rule of the engine: a value is computed in double precision, then rounded to float32
 * exactly once per op with `Math.fround`. For +, -, *, / and sqrt of float32 inputs this
 * equals the IEEE float32 operation bit for bit (double has more than 2*24+2 bits, so the
 * double rounding is innocuous). Everything here is pure and allocation free.
 */

/** float32 fused-free multiply-accumulate as the engine does it: `fround(acc + fround(a * b))`. */
export function macF32(acc: number, a: number, b: number): number {
  return Math.fround(acc + Math.fround(a * b));
}

/** The most negative finite float32, -(2 - 2^-23) * 2^127 = -3.4028234663852886e38 (torch.finfo(float32).min). */
export const F32_LOWEST = -3.4028234663852886e38;

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
 * Method: for |x| < 2^51, (x + 1.5·2^52) - 1.5·2^52 rounds to an integer in the IEEE
 * default mode, ties to even (the sum lies in [2^52, 2^53), where the spacing is 1, and
 * 1.5·2^52 is even); a zero result takes x's sign (x * 0). That is several times faster than
 * Math.round plus a parity test, which remains for 2^51 <= |x| < 2^52: there r = Math.round(x)
 * (ties up), `r - x` is exact and equals 0.5 iff x was a tie; then an odd r steps down.
 */
const ROUND_MAGIC = 6755399441055744;
export function roundHalfEven(x: number): number {
  if (Math.abs(x) < 2251799813685248) {
    const r = x + ROUND_MAGIC - ROUND_MAGIC;
    return r === 0 ? x * 0 : r;
  }
  if (!Number.isFinite(x) || Math.abs(x) >= 4503599627370496) return x;
  const r = Math.round(x);
  if (r - x === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

/*
 * erf below is a transcription of FreeBSD msun's lib/msun/src/s_erf.c (fdlibm), which carries:
 *   Copyright (C) 1993 by Sun Microsystems, Inc. All rights reserved.
 *   Developed at SunPro, a Sun Microsystems, Inc. business.
 *   Permission to use, copy, modify, and distribute this software is freely granted,
 *   provided that this notice is preserved.
 * The coefficients are fdlibm's, copied as the 21-significant-digit decimals of s_erf.c; each
 * parses to the double whose IEEE-754 bit pattern (high_low words) is given next to it.
 */

/** erx = (float)0.84506291151, the value of erf(1) rounded to 24 bits. 0x3FEB0AC1_60000000. */
const ERX = 8.45062911510467529297e-1;
/** efx = 2/sqrt(pi) - 1. 0x3FC06EBA_8214DB69. */
const EFX = 1.28379167095512586316e-1;
/** efx8 = 8 * efx. 0x3FF06EBA_8214DB69. */
const EFX8 = 1.02703333676410069053;

// erf(a) = a + a*R(a^2) on [0, 0.84375): R = (pp0 + z pp1 + ... + z^4 pp4) / (1 + z qq1 + ... + z^5 qq5).
const PP0 = 1.28379167095512558561e-1; //  0x3FC06EBA_8214DB68
const PP1 = -3.25042107247001499370e-1; // 0xBFD4CD7D_691CB913
const PP2 = -2.84817495755985104766e-2; // 0xBF9D2A51_DBD7194F
const PP3 = -5.77027029648944159157e-3; // 0xBF77A291_236668E4
const PP4 = -2.37630166566501626084e-5; // 0xBEF8EAD6_120016AC
const QQ1 = 3.97917223959155352819e-1; //  0x3FD97779_CDDADC09
const QQ2 = 6.50222499887672944485e-2; //  0x3FB0A54C_5536CEBA
const QQ3 = 5.08130628187576562776e-3; //  0x3F74D022_C4D36B0F
const QQ4 = 1.32494738004321644526e-4; //  0x3F215DC9_221C1A10
const QQ5 = -3.96022827877536812320e-6; // 0xBED09C43_42A26120

// erf(1 + s) - erx = P1(s)/Q1(s) on [0.84375, 1.25), s = a - 1.
const PA0 = -2.36211856075265944077e-3; // 0xBF6359B8_BEF77538
const PA1 = 4.14856118683748331666e-1; //  0x3FDA8D00_AD92B34D
const PA2 = -3.72207876035701323847e-1; // 0xBFD7D240_FBB8C3F1
const PA3 = 3.18346619901161753674e-1; //  0x3FD45FCA_805120E4
const PA4 = -1.10894694282396677476e-1; // 0xBFBC6398_3D3E28EC
const PA5 = 3.54783043256182359371e-2; //  0x3FA22A36_599795EB
const PA6 = -2.16637559486879084300e-3; // 0xBF61BF38_0A96073F
const QA1 = 1.06420880400844228286e-1; //  0x3FBB3E66_18EEE323
const QA2 = 5.40397917702171048937e-1; //  0x3FE14AF0_92EB6F33
const QA3 = 7.18286544141962662868e-2; //  0x3FB2635C_D99FE9A7
const QA4 = 1.26171219808761642112e-1; //  0x3FC02660_E763351F
const QA5 = 1.36370839120290507362e-2; //  0x3F8BEDC2_6B51DD1C
const QA6 = 1.19844998467991074170e-2; //  0x3F888B54_5735151D

// log(a*erfc(a)) + a^2 + 0.5625 = R1(s)/S1(s) on [1.25, ERFC_SPLIT), s = 1/a^2.
const RA0 = -9.86494403484714822705e-3; // 0xBF843412_600D6435
const RA1 = -6.93858572707181764372e-1; // 0xBFE63416_E4BA7360
const RA2 = -1.05586262253232909814e1; //  0xC0251E04_41B0E726
const RA3 = -6.23753324503260060396e1; //  0xC04F300A_E4CBA38D
const RA4 = -1.62396669462573470355e2; //  0xC0644CB1_84282266
const RA5 = -1.84605092906711035994e2; //  0xC067135C_EBCCABB2
const RA6 = -8.12874355063065934246e1; //  0xC0545265_57E4D2F2
const RA7 = -9.81432934416914548592; //    0xC023A0EF_C69AC25C
const SA1 = 1.96512716674392571292e1; //   0x4033A6B9_BD707687
const SA2 = 1.37657754143519042600e2; //   0x4061350C_526AE721
const SA3 = 4.34565877475229228821e2; //   0x407B290D_D58A1A71
const SA4 = 6.45387271733267880336e2; //   0x40842B19_21EC2868
const SA5 = 4.29008140027567833386e2; //   0x407AD021_57700314
const SA6 = 1.08635005541779435134e2; //   0x405B28A3_EE48AE2C
const SA7 = 6.57024977031928170135; //     0x401A47EF_8E484A93
const SA8 = -6.04244152148580987438e-2; // 0xBFAEEFF2_EE749A62

// Same function, R2(s)/S2(s) on [ERFC_SPLIT, 6), s = 1/a^2.
const RB0 = -9.86494292470009928597e-3; // 0xBF843412_39E86F4A
const RB1 = -7.99283237680523006574e-1; // 0xBFE993BA_70C285DE
const RB2 = -1.77579549177547519889e1; //  0xC031C209_555F995A
const RB3 = -1.60636384855821916062e2; //  0xC064145D_43C5ED98
const RB4 = -6.37566443368389627722e2; //  0xC083EC88_1375F228
const RB5 = -1.02509513161107724954e3; //  0xC0900461_6A2E5992
const RB6 = -4.83519191608651397019e2; //  0xC07E384E_9BDC383F
const SB1 = 3.03380607434824582924e1; //   0x403E568B_261D5190
const SB2 = 3.25792512996573918826e2; //   0x40745CAE_221B9F0A
const SB3 = 1.53672958608443695994e3; //   0x409802EB_189D5118
const SB4 = 3.19985821950859553908e3; //   0x40A8FFB7_688C246A
const SB5 = 2.55305040643316442583e3; //   0x40A3F219_CEDF3BE6
const SB6 = 4.74528541206955367215e2; //   0x407DA874_E79FE763
const SB7 = -2.24409524465858183362e1; //  0xC03670E2_42712D62

/** 2^-28: below it erf(a) = a + efx*a (the next series term is < 2^-84 relative). */
const ERF_TINY = 3.725290298461914e-9;
/** 2^-1015 (fdlibm's high word < 0x00800000): below it, scale by 8 to avoid underflow in efx*a. */
const ERF_SUBNORMAL = 2.8480945388892178e-306;
/**
 * Split between the two erfc rational forms: 0x4006DB6E_00000000 = 2.8571434020996094, the
 * smallest double with fdlibm's threshold high word (about 1/0.35).
 */
const ERFC_SPLIT = 2.8571434020996094;

/**
 * The coefficients and thresholds of `erf` by name, for ports of the same algorithm that must
 * give the same bits (the WebAssembly kernels of engine/kernels/wasm-numerics-wat.ts).
 */
export const ERF_CONSTANTS = Object.freeze({
  ERX, EFX, EFX8, PP0, PP1, PP2, PP3, PP4, QQ1, QQ2, QQ3, QQ4, QQ5,
  PA0, PA1, PA2, PA3, PA4, PA5, PA6, QA1, QA2, QA3, QA4, QA5, QA6,
  RA0, RA1, RA2, RA3, RA4, RA5, RA6, RA7, SA1, SA2, SA3, SA4, SA5, SA6, SA7, SA8,
  RB0, RB1, RB2, RB3, RB4, RB5, RB6, SB1, SB2, SB3, SB4, SB5, SB6, SB7,
  ERF_TINY, ERF_SUBNORMAL, ERFC_SPLIT,
});

/**
 * The error function in double precision: fdlibm's `erf` (FreeBSD msun s_erf.c, Sun
 * Microsystems 1993), error below 1 ulp: measured against mpmath on 220k doubles in [0, 7.5]
 * (uniform, float32, log-spaced down to 1e-17, and around every interval end), max error
 * 0.88 ulp, 8.7e-17 absolute. Odd: erf(-x) = -erf(x) exactly, erf(±0) = ±0,
 * erf(±Infinity) = ±1, erf(NaN) = NaN. Costs at most two Math.exp and three divisions.
 *
 * Algorithm (a = |x|; NaN returns x; the result r gets the sign of x: x < 0 ? -r : r). Every
 * polynomial below is evaluated by Horner's rule exactly as written, in double, no FMA:
 * 1. a < 0.84375:
 *    - a < 2^-28: r = a < 2^-1015 ? (8*a + EFX8*a) / 8 : a + EFX*a  (a = 0 gives x, keeping -0).
 *    - else z = a*a;
 *      p = PP0 + z*(PP1 + z*(PP2 + z*(PP3 + z*PP4)));
 *      q = 1 + z*(QQ1 + z*(QQ2 + z*(QQ3 + z*(QQ4 + z*QQ5))));
 *      r = a + a*(p/q).
 * 2. 0.84375 <= a < 1.25: s = a - 1;
 *      p = PA0 + s*(PA1 + s*(PA2 + s*(PA3 + s*(PA4 + s*(PA5 + s*PA6)))));
 *      q = 1 + s*(QA1 + s*(QA2 + s*(QA3 + s*(QA4 + s*(QA5 + s*QA6)))));
 *      r = ERX + p/q.
 * 3. 1.25 <= a < 6: s = 1 / (a*a);
 *    - a < ERFC_SPLIT (2.8571434020996094):
 *      R = RA0 + s*(RA1 + s*(RA2 + s*(RA3 + s*(RA4 + s*(RA5 + s*(RA6 + s*RA7))))));
 *      S = 1 + s*(SA1 + s*(SA2 + s*(SA3 + s*(SA4 + s*(SA5 + s*(SA6 + s*(SA7 + s*SA8)))))));
 *    - else:
 *      R = RB0 + s*(RB1 + s*(RB2 + s*(RB3 + s*(RB4 + s*(RB5 + s*RB6)))));
 *      S = 1 + s*(SB1 + s*(SB2 + s*(SB3 + s*(SB4 + s*(SB5 + s*(SB6 + s*SB7))))));
 *    z = a with the low 32 bits of its IEEE-754 encoding cleared (a truncated to 21
 *    significant bits), computed here as z = Math.floor(a * k) / k with k = 2^20 for a < 2,
 *    2^19 for a < 4, 2^18 otherwise (all steps exact). Then, so that the rounding of a*a
 *    costs nothing (z*z + 0.5625 and (z - a)*(z + a) are exact):
 *      e = Math.exp(-z*z - 0.5625) * Math.exp((z - a)*(z + a) + R/S);   // = a*erfc(a)
 *      r = 1 - e/a.
 * 4. a >= 6 (and +Infinity): r = 1 (fdlibm's 1 - tiny; erfc(6) ~ 2.2e-17 < ulp(1)/2).
 * `Math.exp` is V8's fdlibm port (__ieee754_exp), so on V8 this is bit-identical to FreeBSD's
 * libm erf; a port to another runtime must use fdlibm's exp (or a correctly rounded exp that
 * agrees with it) to be bit-exact.
 */
export function erf(x: number): number {
  const a = Math.abs(x);
  let r: number;
  if (a < 0.84375) {
    if (a < ERF_TINY) {
      if (a === 0) return x; // keeps the sign of zero
      r = a < ERF_SUBNORMAL ? (8 * a + EFX8 * a) / 8 : a + EFX * a;
    } else {
      const z = a * a;
      const p = PP0 + z * (PP1 + z * (PP2 + z * (PP3 + z * PP4)));
      const q = 1 + z * (QQ1 + z * (QQ2 + z * (QQ3 + z * (QQ4 + z * QQ5))));
      r = a + a * (p / q);
    }
  } else if (a < 1.25) {
    const s = a - 1;
    const p = PA0 + s * (PA1 + s * (PA2 + s * (PA3 + s * (PA4 + s * (PA5 + s * PA6)))));
    const q = 1 + s * (QA1 + s * (QA2 + s * (QA3 + s * (QA4 + s * (QA5 + s * QA6)))));
    r = ERX + p / q;
  } else if (a < 6) {
    const s = 1 / (a * a);
    let R: number;
    let S: number;
    if (a < ERFC_SPLIT) {
      R = RA0 + s * (RA1 + s * (RA2 + s * (RA3 + s * (RA4 + s * (RA5 + s * (RA6 + s * RA7))))));
      S = 1 + s * (SA1 + s * (SA2 + s * (SA3 + s * (SA4 + s * (SA5 + s * (SA6 + s * (SA7 + s * SA8)))))));
    } else {
      R = RB0 + s * (RB1 + s * (RB2 + s * (RB3 + s * (RB4 + s * (RB5 + s * RB6)))));
      S = 1 + s * (SB1 + s * (SB2 + s * (SB3 + s * (SB4 + s * (SB5 + s * (SB6 + s * SB7))))));
    }
    const k = a < 2 ? 1048576 : a < 4 ? 524288 : 262144;
    const z = Math.floor(a * k) / k;
    r = 1 - (Math.exp(-z * z - 0.5625) * Math.exp((z - a) * (z + a) + R / S)) / a;
  } else if (a >= 6) {
    r = 1;
  } else {
    return x; // NaN
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
 * With the fdlibm erf this gives the same float32 as the previous series / continued-fraction
 * erf (absolute error <= 5.8e-16) for every float32 with 2^-12 <= |x| <= 10 (checked
 * exhaustively) and for millions of random float32 outside that range.
 */
export function gelu(x: number): number {
  return Math.fround(0.5 * x * (1 + erf(x / Math.SQRT2)));
}
