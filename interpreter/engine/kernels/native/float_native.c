/*
 * spikelm's native float kernels: GELU, softmax and LayerNorm rows, AVX-512 (avx512f only), compiled
 * into the same Node-API addon as spike_native.c (native-backend.ts lists both files;
 * spike_native.c's module init calls spk_register_float).
 *
 * Each kernel is the reference engine's arithmetic, bit for bit (engine/numerics.ts gelu and
 * erf, engine/ops/nn.ts softmax and layernorm), GELU and softmax in the branch-free form of the WebAssembly kernels
 * (wasm-numerics-wat.ts `$exp_v`, `$gelu_v`) on 8 lanes of double instead of 2:
 *
 *  - exp is fdlibm's __ieee754_exp as V8 ships it (Math.exp): every lane computes the
 *    reduced and unreduced forms and keeps its own by mask; valid for |x| < 708 (k >= -1021,
 *    no overflow), which covers every argument it is given here (the callers mask the rest).
 *  - erf is fdlibm's s_erf.c as engine/numerics.ts transcribes it; gelu(x) =
 *    fround((0.5 * x) * (1 + erf(x / SQRT2))) in double, rounded to float32 once. Each of
 *    erf's intervals runs on full vectors of its own lanes (the second and third are set
 *    aside by pass 1 and computed after it); the third interval's coefficient sets are
 *    chosen by lane (the shorter padded with zeros, as the WebAssembly hornerSel).
 *  - GELU and softmax's exps run a fast path first (no divisions; see "fast GELU and exp" below)
 *    that gives these kernels' float32 bits or leaves the lane to them.
 *  - float32 +, -, /, max on float32 operands are the IEEE float32 operations, which is what
 *    Math.fround(a op b) gives in JavaScript; _mm512_cvtpd_ps rounds to nearest even like
 *    Math.fround (MXCSR's default mode, which Node leaves alone).
 *
 * Every double operation is an explicit _mm512_{add,sub,mul,div}_pd in the reference's
 * order; the compile flags forbid contraction and fast-math (platform/node.ts NATIVE_FLAGS).
 * Two rewrites are exact and taken from the WebAssembly port: (x*c)/(2 - c) = -((x*c)/(c - 2))
 * and division by a power of two is multiplication by its inverse.
 *
 * Threads: the element or row range is split into contiguous parts, the caller runs the first
 * and a pthread each of the others. Elements and rows are independent, so the bits never
 * depend on the split.
 */
#include "napi_args.h"
#include "parallel.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define FLT_X86 1
#else
#define FLT_X86 0
#endif

#define LN_ROWS 8 /* LayerNorm rows run side by side */

/*
 * An optional elementwise prologue of GELU's input (the optimized executor's fused
 * `mul, add, gelu` of a spiking layer's output): y[i] = fround(fround(scale[i / stepLen] * x[i])
 * + bias[i % C]), each operation the IEEE float32 one, as the fused program's steps.
 */
typedef struct {
  const float* scale; /* NULL: no prologue, y = x */
  int64_t stepLen;    /* elements per scale entry */
  const float* bias;
  int64_t C;          /* bias length */
} Affine;

/* Lanes of the fast paths left to the exact kernels (floatFastStats): elements and set aside. */
static int64_t gelu_lanes, gelu_aside, exp_lanes, exp_aside;

/*
 * An optional prologue of softmax's rows (the attention scores' elementwise program the
 * executor fuses in, optimized/softmax-prologue.ts): row r's input is
 *   y_i = fround(fround(fround(scale[r / rowsPerScale] * x_i) / divisor) + mask[(r % maskRows) * n + i])
 * each step the IEEE float32 operation of the program.
 */
typedef struct {
  const float* scale; /* NULL: no prologue */
  int64_t rowsPerScale;
  float divisor;
  const float* mask;
  int64_t maskRows;
} SoftmaxPrologue;

#if FLT_X86
#define AVX512 __attribute__((target("avx512f")))
/* the fast paths' helpers take arrays of vectors: inlined, they stay in registers */
#define AVX512_INLINE __attribute__((target("avx512f"), always_inline))

/* ---- constants (the decimals of fdlibm e_exp.c / s_erf.c, as engine/numerics.ts) ----------- */

static const double LN2HI = 6.93147180369123816490e-01, LN2LO = 1.90821492927058770002e-10, INVLN2 = 1.44269504088896338700e+00;
static const double EXP_P[5] = {1.66666666666666019037e-01, -2.77777777770155933842e-03, 6.61375632143793436117e-05, -1.65339022054652515390e-06, 4.13813679705723846039e-08};
static const double EULER = 2.718281828459045;
/* smallest |x| fdlibm's exp reduces (high word > 0x3FD62E42): the double 0x3FD62E43_00000000 */
static const double EXP_REDUCE_MIN = 0.3465735912322998;
static const double EXP_TINY = 3.725290298461914e-9; /* 2^-28 */

static const double ERX = 8.45062911510467529297e-01, EFX = 1.28379167095512586316e-01;
static const double ERF_TINY = 3.725290298461914e-9, ERFC_SPLIT = 2.8571434020996094;
static const double PP[5] = {1.28379167095512558561e-01, -3.25042107247001499370e-01, -2.84817495755985104766e-02, -5.77027029648944159157e-03, -2.37630166566501626084e-05};
static const double QQ[6] = {1, 3.97917223959155352819e-01, 6.50222499887672944485e-02, 5.08130628187576562776e-03, 1.32494738004321644526e-04, -3.96022827877536812320e-06};
static const double PA[7] = {-2.36211856075265944077e-03, 4.14856118683748331666e-01, -3.72207876035701323847e-01, 3.18346619901161753674e-01, -1.10894694282396677476e-01, 3.54783043256182359371e-02, -2.16637559486879084300e-03};
static const double QA[7] = {1, 1.06420880400844228286e-01, 5.40397917702171048937e-01, 7.18286544141962662868e-02, 1.26171219808761642112e-01, 1.36370839120290507362e-02, 1.19844998467991074170e-02};
static const double RA[8] = {-9.86494403484714822705e-03, -6.93858572707181764372e-01, -1.05586262253232909814e+01, -6.23753324503260060396e+01, -1.62396669462573470355e+02, -1.84605092906711035994e+02, -8.12874355063065934246e+01, -9.81432934416914548592e+00};
static const double SA[9] = {1, 1.96512716674392571292e+01, 1.37657754143519042600e+02, 4.34565877475229228821e+02, 6.45387271733267880336e+02, 4.29008140027567833386e+02, 1.08635005541779435134e+02, 6.57024977031928170135e+00, -6.04244152148580987438e-02};
static const double RB[7] = {-9.86494292470009928597e-03, -7.99283237680523006574e-01, -1.77579549177547519889e+01, -1.60636384855821916062e+02, -6.37566443368389627722e+02, -1.02509513161107724954e+03, -4.83519191608651397019e+02};
static const double SB[8] = {1, 3.03380607434824582924e+01, 3.25792512996573918826e+02, 1.53672958608443695994e+03, 3.19985821950859553908e+03, 2.55305040643316442583e+03, 4.74528541206955367215e+02, -2.24409524465858183362e+01};

/* ---- 8-lane double helpers --------------------------------------------------------------- */

#define V(c) _mm512_set1_pd(c)
#define ADD _mm512_add_pd
#define SUB _mm512_sub_pd
#define MUL _mm512_mul_pd
#define DIV _mm512_div_pd
#define LT(a, b) _mm512_cmp_pd_mask((a), (b), _CMP_LT_OQ)
/* where mask m is set a, else b */
#define SEL(a, b, m) _mm512_mask_blend_pd((m), (b), (a))

AVX512 static inline __m512d vabs(__m512d x) {
  return _mm512_castsi512_pd(_mm512_and_si512(_mm512_castpd_si512(x), _mm512_set1_epi64(0x7fffffffffffffffLL)));
}

AVX512 static inline __m512d vneg(__m512d x) {
  return _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(x), _mm512_set1_epi64((long long)0x8000000000000000ULL)));
}

/* k[0] + v*(k[1] + v*(... + v*k[n-1])), Horner's rule as written in numerics.ts. */
AVX512 static inline __m512d horner(__m512d v, const double* k, int n) {
  __m512d e = V(k[n - 1]);
#pragma GCC unroll 16
  for (int i = n - 2; i >= 0; i--) e = ADD(V(k[i]), MUL(v, e));
  return e;
}

/*
 * Horner's rule with per-lane coefficients: k1 where m is set, else k2. The shorter list is
 * padded with zeros at the top, which changes no bit where it is used: c + v*0 = c for the
 * finite, non-negative v these polynomials see (as wasm-numerics-wat.ts hornerSel).
 */
AVX512 static inline __m512d horner_sel(__m512d v, const double* k1, int n1, const double* k2, int n2, __mmask8 m) {
  const int n = n1 > n2 ? n1 : n2;
  __m512d e = SEL(V(n - 1 < n1 ? k1[n - 1] : 0), V(n - 1 < n2 ? k2[n - 1] : 0), m);
#pragma GCC unroll 16
  for (int i = n - 2; i >= 0; i--) e = ADD(SEL(V(i < n1 ? k1[i] : 0), V(i < n2 ? k2[i] : 0), m), MUL(v, e));
  return e;
}

/* ---- exp: fdlibm __ieee754_exp (V8's Math.exp), lanes with |x| < 708 ------------------------- */

AVX512 static inline __m512d exp_v(__m512d x) {
  const __m512d ax = vabs(x);
  const __mmask8 red = _mm512_cmp_pd_mask(ax, V(EXP_REDUCE_MIN), _CMP_GE_OQ);
  /* k = (int)(invln2*x + copysign(0.5, x)), 0 where fdlibm does not reduce */
  const __m512d half = _mm512_castsi512_pd(_mm512_or_si512(_mm512_castpd_si512(V(0.5)),
      _mm512_and_si512(_mm512_castpd_si512(x), _mm512_set1_epi64((long long)0x8000000000000000ULL))));
  const __m256i k = _mm512_maskz_cvttpd_epi32(red, ADD(MUL(V(INVLN2), x), half));
  const __m512d kd = _mm512_cvtepi32_pd(k);
  const __m512d hi = SUB(x, MUL(kd, V(LN2HI)));
  const __m512d lo = MUL(kd, V(LN2LO));
  const __m512d xr = SEL(SUB(hi, lo), x, red);
  const __m512d t = MUL(xr, xr);
  const __m512d c = SUB(xr, MUL(t, horner(t, EXP_P, 5)));
  const __m512d q = DIV(MUL(xr, c), SUB(c, V(2)));
  /* 2^k: fdlibm's INSERT_WORDS(twopk, 0x3FF00000 + (k << 20), 0) */
  const __m512d twopk = _mm512_castsi512_pd(_mm512_add_epi64(_mm512_slli_epi64(_mm512_cvtepi32_epi64(k), 52), _mm512_set1_epi64(0x3FF0000000000000LL)));
  __m512d r = SEL(MUL(SUB(V(1), SUB(ADD(lo, q), hi)), twopk), SUB(V(1), SUB(q, xr)), red);
  r = SEL(ADD(V(1), x), r, LT(ax, V(EXP_TINY)));
  return SEL(V(EULER), r, _mm512_cmp_pd_mask(x, V(1), _CMP_EQ_OQ));
}

/* ---- erf and GELU --------------------------------------------------------------------------- */

/*
 * erf(a) for lanes with a < 0.84375 (fdlibm's first interval, a = |u|); other lanes get 1, which
 * is erf's value from 6 up (and for NaN lanes, whose GELU is NaN whatever r is). Lanes of the
 * second and third intervals are computed apart (erf_second_v, erf_mid_v).
 */
AVX512 static inline __m512d erf_first_v(__m512d a) {
  const __m512d z = MUL(a, a);
  const __m512d pq = DIV(horner(z, PP, 5), horner(z, QQ, 6));
  /* a < 2^-28: a + efx*a (a = 0 gives +0 where erf gives x = -0; 1 + r is 1 either way) */
  const __m512d r1 = SEL(ADD(a, MUL(V(EFX), a)), ADD(a, MUL(a, pq)), LT(a, V(ERF_TINY)));
  return SEL(r1, V(1), LT(a, V(0.84375)));
}

/* erf(a) for lanes with 0.84375 <= a < 1.25: erx + P(a - 1)/Q(a - 1). */
AVX512 static inline __m512d erf_second_v(__m512d a) {
  const __m512d s = SUB(a, V(1));
  return ADD(V(ERX), DIV(horner(s, PA, 7), horner(s, QA, 7)));
}

/* erf(a) for lanes with 1.25 <= a < 6: 1 - exp(-z*z - 0.5625) * exp((z - a)*(z + a) + R/S) / a. */
AVX512 static inline __m512d erf_mid_v(__m512d a) {
  const __m512d s = DIV(V(1), MUL(a, a));
  const __mmask8 ma = LT(a, V(ERFC_SPLIT));
  const __m512d R = horner_sel(s, RA, 8, RB, 7, ma);
  const __m512d S = horner_sel(s, SA, 9, SB, 8, ma);
  const __m512d k = SEL(V(1048576), SEL(V(524288), V(262144), LT(a, V(4))), LT(a, V(2)));
  /* z = floor(a*k)/k, k a power of two: the division is the multiplication by 1/k */
  const __m512d z = MUL(_mm512_roundscale_pd(MUL(a, k), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC), DIV(V(1), k));
  const __m512d e1 = exp_v(SUB(MUL(vneg(z), z), V(0.5625)));
  const __m512d e2 = exp_v(ADD(MUL(SUB(z, a), ADD(z, a)), DIV(R, S)));
  return SUB(V(1), DIV(MUL(e1, e2), a));
}

/* gelu = (0.5 * x) * (1 + sign(u) * r), u = x / SQRT2, r = erf(|u|) */
AVX512 static inline __m512d gelu_finish(__m512d x, __m512d u, __m512d r) {
  r = SEL(vneg(r), r, LT(u, V(0)));
  return MUL(MUL(V(0.5), x), ADD(V(1), r));
}

#define GELU_CHUNK 1024

/* y[0, n) = the prologue of x[i0, i0 + n) (segments of one scale and contiguous bias entries). */
AVX512 static void affine_chunk(const Affine* af, const float* x, int64_t i0, int64_t n, float* y) {
  int64_t j = 0;
  while (j < n) {
    const int64_t i = i0 + j;
    const int64_t c = i % af->C;
    int64_t seg = n - j;
    if (af->C - c < seg) seg = af->C - c;
    if (af->stepLen - i % af->stepLen < seg) seg = af->stepLen - i % af->stepLen;
    const __m512 sv = _mm512_set1_ps(af->scale[i / af->stepLen]);
    for (int64_t k = 0; k < seg; k += 16) {
      const __mmask16 live = seg - k >= 16 ? 0xffff : (__mmask16)((1u << (seg - k)) - 1);
      const __m512 prod = _mm512_mul_ps(sv, _mm512_maskz_loadu_ps(live, x + i + k));
      _mm512_mask_storeu_ps(y + j + k, live, _mm512_add_ps(prod, _mm512_maskz_loadu_ps(live, af->bias + c + k)));
    }
    j += seg;
  }
}

/* A chunk's GELU inputs: src itself (off 0) or, with a prologue, its values in ybuf (off c0). */
AVX512 static inline const float* chunk_input(const Affine* af, const float* src, int64_t c0, int64_t c1, float* ybuf, int64_t* off) {
  if (!af->scale) {
    *off = 0;
    return src;
  }
  affine_chunk(af, src, c0, c1 - c0, ybuf);
  *off = c0;
  return ybuf;
}

/* Inputs of lanes set aside for a later pass: the double x and the element's index. */
typedef struct {
  double x[GELU_CHUNK + 8];
  int64_t ix[GELU_CHUNK + 8];
  int n;
} Aside;

AVX512 static inline void set_aside(Aside* q, __mmask8 m, __m512d x, __m512i ix) {
  /* compressed in registers, stored whole (the lists have 8 spare slots) */
  _mm512_storeu_pd(q->x + q->n, _mm512_maskz_compress_pd(m, x));
  _mm512_storeu_si512((void*)(q->ix + q->n), _mm512_maskz_compress_epi64(m, ix));
  q->n += __builtin_popcount(m);
}

/* The lanes set aside in q, 8 at a time, with erf(|u|) by `second` (else erf_mid_v). */
AVX512 static inline void run_aside(const Aside* q, float* dst, int second) {
  for (int j = 0; j < q->n; j += 8) {
    const __mmask8 live = q->n - j >= 8 ? 0xff : (__mmask8)((1u << (q->n - j)) - 1);
    const __m512d x = _mm512_maskz_loadu_pd(live, q->x + j);
    const __m512d u = DIV(x, V(1.4142135623730951));
    /* dead lanes (x = 0) compute garbage that is never stored */
    const __m512d a = vabs(u);
    const __m256 r = _mm512_cvtpd_ps(gelu_finish(x, u, second ? erf_second_v(a) : erf_mid_v(a)));
    float out[8];
    _mm256_storeu_ps(out, r);
    for (int l = 0; l < 8 && j + l < q->n; l++) dst[q->ix[j + l]] = out[l];
  }
}

/*
 * dst[i] = gelu(y[i]) for i in [i0, i1), y = src or its prologue (src may be dst). Per chunk,
 * pass 1 computes every lane with erf's first interval (most of a layer's inputs) or its value
 * 1 from 6 up, and sets aside the inputs of lanes in the second interval and in [1.25, 6);
 * passes 2 and 3 compute those 8 at a time, so that each interval's form runs on full vectors
 * and no lane computes another interval's polynomials.
 */
AVX512 static void gelu_exact_range(const float* src, float* dst, int64_t i0, int64_t i1, const Affine* af) {
  Aside second, mid;
  float ybuf[GELU_CHUNK];
  const __m512i lane = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
  for (int64_t c0 = i0; c0 < i1; c0 += GELU_CHUNK) {
    const int64_t c1 = c0 + GELU_CHUNK < i1 ? c0 + GELU_CHUNK : i1;
    int64_t off; /* y[i - off] is the input of element i */
    const float* y = chunk_input(af, src, c0, c1, ybuf, &off);
    second.n = 0;
    mid.n = 0;
    for (int64_t i = c0; i < c1; i += 8) {
      const __mmask8 live = c1 - i >= 8 ? 0xff : (__mmask8)((1u << (c1 - i)) - 1);
      const __m512d x = _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_maskz_loadu_ps(live, y + (i - off))));
      const __m512d u = DIV(x, V(1.4142135623730951));
      const __m512d a = vabs(u);
      const __mmask8 in2 = live & _mm512_cmp_pd_mask(a, V(0.84375), _CMP_GE_OQ) & LT(a, V(1.25));
      const __mmask8 in3 = live & _mm512_cmp_pd_mask(a, V(1.25), _CMP_GE_OQ) & LT(a, V(6));
      const __m256 r = _mm512_cvtpd_ps(gelu_finish(x, u, erf_first_v(a)));
      _mm512_mask_storeu_ps(dst + i, live & (__mmask8) ~(in2 | in3), _mm512_castps256_ps512(r));
      if (in2 | in3) {
        const __m512i ix = _mm512_add_epi64(_mm512_set1_epi64(i), lane);
        set_aside(&second, in2, x, ix);
        set_aside(&mid, in3, x, ix);
      }
    }
    run_aside(&second, dst, 1);
    run_aside(&mid, dst, 0);
  }
}

/* ---- fast GELU and exp: an approximation, a rounding test, the exact kernels for the rest ---- */

/*
 * GELU's input is a float32 and its result a float32 (so are exp's in softmax), so a fast path
 * need not reproduce the exact kernel's double D, only its float32. It computes an
 * approximation A with |A - D| <= FAST_DELTA * A and brackets the result: the final steps
 * (multiplication by a positive or negative number, rounding to double and to float32) are
 * monotone, so when A (1 - FAST_DELTA) and A (1 + FAST_DELTA) give the same float32 bits, so
 * does D. A lane whose bounds round apart (D within about FAST_DELTA of a float32 rounding
 * boundary: 7 of the bench block's 1.6 million GELU inputs, 4 of its 0.8 million exps) or whose input is outside the fast range is
 * computed by the exact kernel above. Every float32 input takes both paths to the same bits
 * (test/engine.native-float-exhaustive.test.ts, all 2^32).
 *
 * GELU: the exact kernel computes W = 1 + erf(x / SQRT2) in double, then fround((0.5*x)*W).
 * The fast W approximates the true 1 + erf(x / sqrt 2) = erfc(-x / sqrt 2) without divisions:
 * for t = |x| < 8.5, E = erfc(t / sqrt 2) = exp(H(t)), H(t) = log(erfc(t / sqrt 2)) (0 down to
 * -38.5, as smooth as log(erfc) minus its t^2/2): a degree-9 polynomial on each of 16 intervals
 * around i * 17/31, its coefficients picked per lane from two registers (vpermt2pd), then
 * exp_fast; W = E for x < 0 and 2 - E for x > 0. The polynomials are within 2^-47.4 of H
 * (tools/gen-gelu-coefs.py --check), exp_fast within 2^-50, and the double evaluation of H adds
 * up to about 38 * 2^-53 = 2^-47.7; the exact kernel's W is within about 2^-46 of the true
 * value (fdlibm's erf is within 1 ulp; rounding u = x / SQRT2 moves erfc(u) by up to 2u^2 2^-53
 * relative). FAST_DELTA = 2^-42 leaves a factor of 8 over their sum; the exhaustive test is
 * the proof that it suffices.
 * Below x = -1.77 (|u| >= 1.25) the exact W is 1 - fl(1 - q) with q = erfc(|u|) (s_erf.c's
 * erf = 1 - q, then 1 + (-erf)): q rounded to a multiple of 2^-53, far coarser than a float32
 * ulp of it where q is tiny. So both bounds go through the same two subtractions,
 * 1 - fl(1 - A (1 -+ FAST_DELTA)), which are monotone as well (and change nothing where A >= 0.5).
 * Below |x| = 2^-56 the exact W is 1 (erf(u) < 2^-54 is lost in 1 + erf); the bounds are within
 * 2^-42 of it, so the result is 0.5 x, except where that is a tie (x subnormal, odd), which the
 * exact kernel computes. From |x| = 8.5 up, gelu_fast_vectors says how.
 */
#define FAST_DELTA 0x1p-42

/* H's coefficients: GELU_H[k][i] is the s^k coefficient on interval i, s = t - i GELU_STEP;
 * and 2^(j/16) (printed by tools/gen-gelu-coefs.py). */
static const double GELU_H[10][16] = {
  {0x1.80622c6f09d4dp-48, -0x1.13e27fc352cdap-1, -0x1.4c9ab957a6f94p+0, -0x1.26cfe7a989101p+1, -0x1.c873a092f1184p+1, -0x1.4648a1da501e7p+2, -0x1.ba0cc62ae39a8p+2, -0x1.1fede9e9d1700p+3, -0x1.6bf9f55890716p+3, -0x1.c1418aa6f1ffap+3, -0x1.0feb089b5394fp+4, -0x1.43e27821d2a74p+4, -0x1.7c8c53bb0d7dbp+4, -0x1.b9ecc855d6763p+4, -0x1.fc073423fc304p+4, -0x1.216f2bb30aee6p+5},
  {-0x1.9884533d43654p-1, -0x1.2d39bd86b5f1bp+0, -0x1.9a69dad557f7cp+0, -0x1.080fa9b2eb88cp+1, -0x1.45d9dd0d5fc33p+1, -0x1.85ad2fbbc92e3p+1, -0x1.c6efac3e2140dp+1, -0x1.049d05548d6fdp+2, -0x1.26230960dd5a6p+2, -0x1.47f1953429becp+2, -0x1.69f7827715b46p+2, -0x1.8c2879ed7343bp+2, -0x1.ae7b6f56de861p+2, -0x1.d0e9a265d28b3p+2, -0x1.f36df44ebf5abp+2, -0x1.0b0239efaeb25p+3},
  {-0x1.45f306dcab7edp-2, -0x1.7a814d284d7a8p-2, -0x1.9fab70215d29ep-2, -0x1.b95112b6478ccp-2, -0x1.cb02aa9bb7cd1p-2, -0x1.d75f2e086b01ap-2, -0x1.e02b84b513e5fp-2, -0x1.e690345513616p-2, -0x1.eb4e819b0d2cap-2, -0x1.eee5763183c53p-2, -0x1.f1a9d09acc6b3p-2, -0x1.f3d518a9abdbfp-2, -0x1.f58f16589cd80p-2, -0x1.f6f3cd4a76708p-2, -0x1.f817513586882p-2, -0x1.f908433413693p-2},
  {-0x1.29a947f9c085ap-5, -0x1.ae8b286f79401p-6, -0x1.2aff45ca952c3p-6, -0x1.9b6d91f446ec0p-7, -0x1.1d55e63e8ff0ap-7, -0x1.9264e497fc244p-8, -0x1.2183aa4dc1e16p-8, -0x1.a96cccd0fa12fp-9, -0x1.3eff37eb89bcep-9, -0x1.e79acca96fb2ep-10, -0x1.7b44137259a93p-10, -0x1.2bc0e63425803p-10, -0x1.e0bd067cd4730p-11, -0x1.86962b4f27aacp-11, -0x1.41209935fbe39p-11, -0x1.0adf47e8f4892p-11},
  {0x1.39668712cd018p-8, 0x1.1392aae5c7d30p-8, 0x1.96e1d32ea6166p-9, 0x1.1711efd820c32p-9, 0x1.752a2a55d5121p-10, 0x1.f26606dc9bd09p-11, 0x1.5089e3cdaaf78p-11, 0x1.ce39120a18e3ap-12, 0x1.43915e4dcbd6cp-12, 0x1.cdfa544922f47p-13, 0x1.50239959989a8p-13, 0x1.f20c62f98b628p-14, 0x1.77380a855495ap-14, 0x1.1f19ab4bda3c1p-14, 0x1.bda9f7357bd72p-15, 0x1.5e75876428fdep-15},
  {0x1.36377806df06ap-15, -0x1.823cd815260d8p-12, -0x1.a0eaf641f39d9p-12, -0x1.41e10b1a48411p-12, -0x1.ba036eeff4bcap-13, -0x1.228a49d11331bp-13, -0x1.79e3789b0871ep-14, -0x1.ee25a04f1c06ep-15, -0x1.4767b04b3cafap-15, -0x1.b942a6a73d902p-16, -0x1.2ed6f6c67f22ep-16, -0x1.a7657b49431b6p-17, -0x1.2d4cb8443bcddp-17, -0x1.b4284543d3fc8p-18, -0x1.40c1281b0087dp-18, -0x1.ded4b2b52aff2p-19},
  {-0x1.bcad1e3ce5489p-13, -0x1.a0c1c841a8985p-15, 0x1.357f8054d4e28p-16, 0x1.06766626c5c02p-15, 0x1.b3b60688a8288p-16, 0x1.2ec699c432f31p-16, 0x1.8a8bfbce82494p-17, 0x1.f796d4697d7f8p-18, 0x1.413ce2f3bb16cp-18, 0x1.9dc529707247cp-19, 0x1.0e5d52208ad0fp-19, 0x1.67445da7b5537p-20, 0x1.e5c92f4423a69p-21, 0x1.4e29774dffae6p-21, 0x1.d37dda638d172p-22, 0x1.4c45d3f480fe0p-22},
  {0x1.b58ee32f27a6ep-15, 0x1.ec669f7fe77a6p-16, 0x1.1a2723c3e2645p-17, -0x1.814a8c234bf51p-24, -0x1.14f518c538147p-19, -0x1.00985c561e125p-19, -0x1.6c9a7fa1aca11p-20, -0x1.d9fc0d3a7e04ep-21, -0x1.2a8a461560259p-21, -0x1.75a7dd37ec4edp-22, -0x1.d6613f31c794fp-23, -0x1.2ba0b8c67dfcdp-23, -0x1.83793828bea30p-24, -0x1.fd47fb753e60ap-25, -0x1.54475dce3e8a2p-25, -0x1.ce332d1dbc46ep-26},
  {-0x1.8156f3c9445a6p-20, -0x1.9a8004054f34dp-18, -0x1.ad7d1455089d2p-19, -0x1.04c3166ebb31ap-20, -0x1.cd865b61831eep-24, 0x1.dfceefd14711ep-24, 0x1.09c1018e7cab5p-23, 0x1.8719bd6946922p-24, 0x1.fe772b4a537c3p-25, 0x1.3edc74cc72417p-25, 0x1.893e53d7deca3p-26, 0x1.e5daae460829fp-27, 0x1.2ef0d54d3cf4cp-27, 0x1.7ec5e6bc060c7p-28, 0x1.eaf059d598e75p-29, 0x1.3fd022a3851c3p-29},
  {-0x1.80aa725dd9e64p-19, 0x1.56ae21a4c9391p-22, 0x1.496680ba73e91p-21, 0x1.36a46826a1054p-22, 0x1.7afe7f6dedc4bp-24, 0x1.f37aa88e5fa5bp-27, -0x1.4c31c924fb547p-28, -0x1.ea3459849d572p-28, -0x1.794bcbaa90ed4p-28, -0x1.f07412fdd4661p-29, -0x1.34945574113bdp-29, -0x1.783a58e764620p-30, -0x1.c9bc808f74f92p-31, -0x1.18512b9a7c477p-31, -0x1.5b3a9e6b07394p-32, -0x1.b40638b9ddd7bp-33},
};
static const double EXP2_16[16] = {0x1.0000000000000p+0, 0x1.0b5586cf9890fp+0, 0x1.172b83c7d517bp+0, 0x1.2387a6e756238p+0, 0x1.306fe0a31b715p+0, 0x1.3dea64c123422p+0, 0x1.4bfdad5362a27p+0, 0x1.5ab07dd485429p+0, 0x1.6a09e667f3bcdp+0, 0x1.7a11473eb0187p+0, 0x1.8ace5422aa0dbp+0, 0x1.9c49182a3f090p+0, 0x1.ae89f995ad3adp+0, 0x1.c199bdd85529cp+0, 0x1.d5818dcfba487p+0, 0x1.ea4afa2a490dap+0};

static const double GELU_STEP = 0x1.18c6318c6318cp-1, GELU_INV_STEP = 0x1.d2d2d2d2d2d2dp+0; /* 17/31, 31/17 */
static const double EXP_MAGIC = 0x1.8p52; /* adding it rounds to an integer, kept in the low mantissa bits */
static const double EXP16_SCALE = 0x1.71547652b82fep+4; /* 16 / ln 2 */
static const double EXP16_HI = 0x1.62e42fefa3800p-5, EXP16_LO = 0x1.ef35793c7673p-49; /* ln 2 / 16 in two parts, n * HI exact */

#define FMA _mm512_fmadd_pd

/* The 16-entry table tab at the low 4 bits of each lane of ix. */
AVX512 static inline __m512d pick16(const double* tab, __m512i ix) {
  return _mm512_permutex2var_pd(_mm512_loadu_pd(tab), ix, _mm512_loadu_pd(tab + 8));
}

/*
 * The fast paths compute FAST_U vectors of 8 lanes side by side, each step for all FAST_U before the
 * next: one vector's chain of dependent operations is long (some 40 operations), and written
 * one after another the processor could not overlap them.
 */
#define FAST_U 8
#define EACH(v) _Pragma("GCC unroll 8") for (int v = 0; v < FAST_U; v++)

/*
 * e[v] = e^t[v] for -128 <= t <= 0, relative error below 2^-50: t = n ln2/16 + r
 * (|r| <= ln2/32), e^t = 2^(n >> 4) 2^((n & 15)/16) e^r, e^r by its Taylor polynomial of
 * degree 6 (Estrin's scheme: a shorter chain than Horner's rule).
 */
AVX512_INLINE static inline void exp_fast(const __m512d* t, __m512d* e) {
  __m512d kd[FAST_U], n[FAST_U], r[FAST_U], r2[FAST_U], r4[FAST_U], p[FAST_U];
  EACH(v) kd[v] = FMA(t[v], V(EXP16_SCALE), V(EXP_MAGIC));
  EACH(v) n[v] = SUB(kd[v], V(EXP_MAGIC));
  EACH(v) r[v] = FMA(n[v], V(-EXP16_LO), FMA(n[v], V(-EXP16_HI), t[v]));
  EACH(v) r2[v] = MUL(r[v], r[v]);
  EACH(v) r4[v] = MUL(r2[v], r2[v]);
  EACH(v) {
    const __m512d a = FMA(r[v], V(1), V(1)), b = FMA(r[v], V(1.0 / 6), V(0.5)), c = FMA(r[v], V(1.0 / 120), V(1.0 / 24));
    p[v] = FMA(r4[v], FMA(r2[v], V(1.0 / 720), c), FMA(r2[v], b, a));
  }
  /* vscalefpd multiplies by 2^floor(n / 16) */
  EACH(v) e[v] = _mm512_scalef_pd(MUL(pick16(EXP2_16, _mm512_castpd_si512(kd[v])), p[v]), MUL(n[v], V(1.0 / 16)));
}

/* w[v] = 1 + erf(x / sqrt 2) for |x| < 8.5 (other lanes: anything), t = |x|, as the header above says. */
AVX512_INLINE static inline void gelu_w_fast(const __m512d* x, const __m512d* t, __m512d* w) {
  __m512d kd[FAST_U], s[FAST_U], g[FAST_U];
  /* the interval i = round(t / GELU_STEP), kept in kd's low bits, and s = t - i GELU_STEP (|s| < 0.28) */
  EACH(v) kd[v] = FMA(t[v], V(GELU_INV_STEP), V(EXP_MAGIC));
  EACH(v) s[v] = FMA(SUB(kd[v], V(EXP_MAGIC)), V(-GELU_STEP), t[v]);
  EACH(v) {
    /* H(t) = log(erfc(t / sqrt 2)), by Estrin's scheme */
    const __m512i ix = _mm512_castpd_si512(kd[v]);
#define C(k) pick16(GELU_H[k], ix)
    const __m512d s2 = MUL(s[v], s[v]), s4 = MUL(s2, s2);
    const __m512d p01 = FMA(C(1), s[v], C(0)), p23 = FMA(C(3), s[v], C(2)), p45 = FMA(C(5), s[v], C(4));
    const __m512d p67 = FMA(C(7), s[v], C(6)), p89 = FMA(C(9), s[v], C(8));
#undef C
    g[v] = FMA(FMA(p89, s4, FMA(p67, s2, p45)), s4, FMA(p23, s2, p01));
  }
  exp_fast(g, w);
  EACH(v) w[v] = _mm512_mask_sub_pd(w[v], _mm512_cmp_pd_mask(x[v], V(0), _CMP_GT_OQ), V(2), w[v]);
}

/* The float32 bits of a and b are equal, lane by lane (8 lanes). */
AVX512 static inline __mmask8 same_bits(__m256 a, __m256 b) {
  return (__mmask8)_mm512_cmpeq_epi32_mask(_mm512_castsi256_si512(_mm256_castps_si256(a)), _mm512_castsi256_si512(_mm256_castps_si256(b)));
}

/*
 * out[v] = gelu(x[v]) where ok[v] (on lanes of `live`); elsewhere the fast path is unsure and
 * out is not its value. The header above says how.
 */
AVX512_INLINE static inline void gelu_fast_vectors(const __m512d* x, const __mmask8* live, __m256* out, __mmask8* ok) {
  __m512d t[FAST_U], w[FAST_U];
  /*
   * Lanes from 8.5 up (and NaN) compute W at 8.4999, inside the last interval: W = 2 or 0 there,
   * as the exact kernel's from |u| = 6 up (erfc(6.01) < 2^-54 is lost in 2 - E and in
   * 1 - fl(1 - E)), so the results are x (x(1 -+ 2^-42) rounds to x), -0, and for infinities
   * and NaN the exact kernel's (0.5 x) * W: x, NaN from -inf * 0, x's NaN.
   */
  EACH(v) t[v] = _mm512_min_pd(vabs(x[v]), V(8.4999));
  gelu_w_fast(x, t, w);
  EACH(v) {
    const __m512d hx = MUL(V(0.5), x[v]);
    const __m512d lo = SUB(V(1), SUB(V(1), MUL(w[v], V(1 - FAST_DELTA))));
    const __m512d hi = SUB(V(1), SUB(V(1), MUL(w[v], V(1 + FAST_DELTA))));
    out[v] = _mm512_cvtpd_ps(MUL(hx, lo));
    ok[v] = live[v] & same_bits(out[v], _mm512_cvtpd_ps(MUL(hx, hi)));
  }
}

/*
 * gelu_exact_range's results, fast (the header above): per chunk, lanes whose bounds agree are
 * stored; the others' inputs are set aside and run through gelu_exact_range after the chunk.
 */
AVX512 static void gelu_fast_range(const float* src, float* dst, int64_t i0, int64_t i1, const Affine* af) {
  static const Affine none = {NULL, 1, NULL, 1};
  float ybuf[GELU_CHUNK], ax[GELU_CHUNK + 16], ay[GELU_CHUNK + 16];
  int32_t aix[GELU_CHUNK + 16];
  const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  int64_t aside = 0;
  for (int64_t c0 = i0; c0 < i1; c0 += GELU_CHUNK) {
    const int64_t c1 = c0 + GELU_CHUNK < i1 ? c0 + GELU_CHUNK : i1;
    int64_t off; /* y[i - off] is the input of element i */
    const float* y = chunk_input(af, src, c0, c1, ybuf, &off);
    int na = 0;
    for (int64_t i = c0; i < c1; i += 8 * FAST_U) {
      __m512 xf[FAST_U];
      __m512d x[FAST_U];
      __mmask8 live[FAST_U], ok[FAST_U];
      __m256 out[FAST_U];
      EACH(v) {
        const int64_t left = c1 - i - 8 * v;
        live[v] = left >= 8 ? 0xff : left <= 0 ? 0 : (__mmask8)((1u << left) - 1);
        xf[v] = _mm512_maskz_loadu_ps(live[v], y + (i + 8 * v - off));
        x[v] = _mm512_cvtps_pd(_mm512_castps512_ps256(xf[v]));
      }
      gelu_fast_vectors(x, live, out, ok);
      EACH(v) {
        _mm512_mask_storeu_ps(dst + i + 8 * v, ok[v], _mm512_castps256_ps512(out[v]));
        const __mmask8 unsure = live[v] & (__mmask8)~ok[v];
        if (unsure) {
          _mm512_mask_compressstoreu_ps(ax + na, unsure, xf[v]);
          _mm512_mask_compressstoreu_epi32(aix + na, unsure, _mm512_add_epi32(_mm512_set1_epi32((int)(i + 8 * v - c0)), lane));
          na += __builtin_popcount(unsure);
        }
      }
    }
    if (na) {
      gelu_exact_range(ax, ay, 0, na, &none);
      for (int k = 0; k < na; k++) dst[c0 + aix[k]] = ay[k];
      aside += na;
    }
  }
  __atomic_fetch_add(&gelu_lanes, i1 - i0, __ATOMIC_RELAXED);
  if (aside) __atomic_fetch_add(&gelu_aside, aside, __ATOMIC_RELAXED);
}

/* ---- softmax rows --------------------------------------------------------------------------- */

/*
 * Softmax over rows of n floats (engine/ops/nn.ts softmax):
 *   m = max (Math.max: NaN wins); e_i = fround(exp(fround(x_i - m))); s = fround(s + e_i) in
 *   ascending i from +0; out_i = fround(e_i / s).
 * The maximum is taken 16 lanes at a time with vmaxps, which differs from Math.max in two
 * ways that change no result: it may drop a NaN, but a NaN entry has a NaN w and e, so the
 * sum and every output of its row are NaN whatever m is (as with Math.max's NaN m); and its
 * sign of zero may differ (Math.max prefers +0), but x - (+0) and x - (-0) differ only for
 * x = -0, as +0 vs -0, and exp gives 1 for both.
 * exp's argument w = x_i - m is <= 0 or NaN; the exact kernel's lanes below -708 (where the 8-lane exp is not
 * valid) get 0, which is fdlibm's float32-rounded value there (e^-708 < 2^-150), and NaN lanes
 * get NaN (fdlibm's x + x). The exps take the fast path (exp_f32_fast) with the same bits.
 */
#define SM_ROWS 4

/* fround(exp(w)) for 8 lanes of w <= 0 or NaN (float32 values), the exact kernel. */
AVX512 static inline __m256 exp_f32_exact(__m512d w) {
  const __mmask8 ok = _mm512_cmp_pd_mask(w, V(-708), _CMP_GT_OQ);
  const __mmask8 isnan = _mm512_cmp_pd_mask(w, w, _CMP_UNORD_Q);
  /* lanes outside exp_v's range compute exp(0), then take 0 or NaN */
  const __m512d e = exp_v(_mm512_maskz_mov_pd(ok, w));
  return _mm512_cvtpd_ps(_mm512_mask_blend_pd(ok, _mm512_mask_blend_pd(isnan, _mm512_setzero_pd(), ADD(w, w)), e));
}

/*
 * out[v] = exp_f32_exact(w[v]), fast (the fast paths' header above): exp_fast brackets for
 * max(w, -128) (below, e^-128 and fdlibm's value alike round to float32 0; -Infinity too); a
 * vector with a NaN lane or a lane whose bounds round apart is taken from exp_f32_exact whole.
 * *aside counts those lanes.
 */
AVX512_INLINE static inline void exp_f32_fast(const __m512d* w, __m256* out, int64_t* aside) {
  __m512d t[FAST_U], e[FAST_U];
  EACH(v) t[v] = _mm512_max_pd(w[v], V(-128)); /* NaN lanes: -128 (vmaxpd returns the second operand) */
  exp_fast(t, e);
  EACH(v) {
    out[v] = _mm512_cvtpd_ps(MUL(e[v], V(1 - FAST_DELTA)));
    const __m256 hi = _mm512_cvtpd_ps(MUL(e[v], V(1 + FAST_DELTA)));
    const __mmask8 unsure = (__mmask8)~same_bits(out[v], hi) | _mm512_cmp_pd_mask(w[v], w[v], _CMP_UNORD_Q);
    if (unsure) {
      *aside += __builtin_popcount(unsure);
      out[v] = exp_f32_exact(w[v]);
    }
  }
}

/* The live lanes of the FAST_U vectors of 8 from i of a row of n. */
static inline void live_lanes(int64_t n, int64_t i, __mmask8* live) {
  for (int v = 0; v < FAST_U; v++) {
    const int64_t left = n - i - 8 * v;
    live[v] = left >= 8 ? 0xff : left <= 0 ? 0 : (__mmask8)((1u << left) - 1);
  }
}

/* dst[i] = fround(exp(src[i])) for i in [i0, i1), src[i] <= 0 or NaN, fast or exact (tests). */
AVX512 static void exp_range(const float* src, float* dst, int64_t i0, int64_t i1, int fast) {
  int64_t aside = 0;
  for (int64_t i = i0; i < i1; i += 8 * FAST_U) {
    __mmask8 live[FAST_U];
    __m512d w[FAST_U];
    __m256 e[FAST_U];
    live_lanes(i1, i, live);
    EACH(v) w[v] = _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_maskz_loadu_ps(live[v], src + i + 8 * v)));
    if (fast) exp_f32_fast(w, e, &aside);
    else EACH(v) e[v] = exp_f32_exact(w[v]);
    EACH(v) _mm512_mask_storeu_ps(dst + i + 8 * v, live[v], _mm512_castps256_ps512(e[v]));
  }
  if (fast) {
    __atomic_fetch_add(&exp_lanes, i1 - i0, __ATOMIC_RELAXED);
    if (aside) __atomic_fetch_add(&exp_aside, aside, __ATOMIC_RELAXED);
  }
}

/* exps of one row into o (its max m subtracted first), as the header above says; returns the lanes set aside. */
AVX512 static inline int64_t softmax_exps(const float* x, float* o, int64_t n) {
  __m512 mv = _mm512_set1_ps(-__builtin_inff());
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 live = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
    mv = _mm512_max_ps(mv, _mm512_mask_loadu_ps(_mm512_set1_ps(-__builtin_inff()), live, x + i));
  }
  const __m512 mm = _mm512_set1_ps(_mm512_reduce_max_ps(mv));
  int64_t aside = 0;
  for (int64_t i = 0; i < n; i += 8 * FAST_U) {
    __mmask8 live[FAST_U];
    __m512d w[FAST_U];
    __m256 e[FAST_U];
    live_lanes(n, i, live);
    EACH(v) w[v] = _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_sub_ps(_mm512_maskz_loadu_ps(live[v], x + i + 8 * v), mm)));
    exp_f32_fast(w, e, &aside);
    EACH(v) _mm512_mask_storeu_ps(o + i + 8 * v, live[v], _mm512_castps256_ps512(e[v]));
  }
  return aside;
}

/*
 * Rows of SM_ROWS at a time: their exps, then their sums side by side (each row's own sum in
 * ascending order, the rows' chains of float32 additions overlapping), then the divisions.
 */


/* y = the prologue of row r of x (n floats); y may be x. */
AVX512 static void prologue_row(const SoftmaxPrologue* p, const float* x, float* y, int64_t r, int64_t n) {
  const __m512 sc = _mm512_set1_ps(p->scale[r / p->rowsPerScale]);
  const __m512 dv = _mm512_set1_ps(p->divisor);
  const float* m = p->mask + (r % p->maskRows) * n;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 live = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
    const __m512 v = _mm512_div_ps(_mm512_mul_ps(sc, _mm512_maskz_loadu_ps(live, x + i)), dv);
    _mm512_mask_storeu_ps(y + i, live, _mm512_add_ps(v, _mm512_maskz_loadu_ps(live, m + i)));
  }
}

AVX512 static void softmax_range(const float* src, float* dst, int64_t n, int64_t r0, int64_t r1, const SoftmaxPrologue* pro) {
  int64_t aside = 0;
  for (int64_t r = r0; r < r1; r += SM_ROWS) {
    const int nr = r1 - r < SM_ROWS ? (int)(r1 - r) : SM_ROWS;
    float* o[SM_ROWS];
    for (int j = 0; j < SM_ROWS; j++) o[j] = dst + (r + (j < nr ? j : 0)) * n; /* past the end: row 0 again, not stored */
    for (int j = 0; j < nr; j++) {
      const float* row = src + (r + j) * n;
      if (pro->scale) {
        /* into the output row (which may be this very row: read before written, element by element) */
        prologue_row(pro, row, o[j], r + j, n);
        row = o[j];
      }
      aside += softmax_exps(row, o[j], n);
    }
    float s[SM_ROWS];
    for (int j = 0; j < SM_ROWS; j++) s[j] = 0.0f;
    for (int64_t i = 0; i < n; i++)
      for (int j = 0; j < SM_ROWS; j++) s[j] = s[j] + o[j][i];
    for (int j = 0; j < nr; j++) {
      const __m512 sv = _mm512_set1_ps(s[j]);
      for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 live = n - i >= 16 ? 0xffff : (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(o[j] + i, live, _mm512_div_ps(_mm512_maskz_loadu_ps(live, o[j] + i), sv));
      }
    }
  }
  __atomic_fetch_add(&exp_lanes, (r1 - r0) * n, __ATOMIC_RELAXED);
  if (aside) __atomic_fetch_add(&exp_aside, aside, __ATOMIC_RELAXED);
}

/* ---- LayerNorm rows ------------------------------------------------------------------------ */

/*
 * Rows [r0, r1) of d floats (engine/ops/nn.ts layernorm):
 *   mean = fround(seqsum(x_i) / d)     seqsum: acc = +0; acc = fround(acc + v), ascending i
 *   d_i  = fround(x_i - mean)
 *   var  = fround(seqsum(fround(d_i * d_i)) / d)
 *   inv  = fround(1 / sqrt(fround(var + eps)))   (eps, sqrt and 1/ in double)
 *   out_i = fround(fround(fround(d_i * inv) * gamma_i) + beta_i)
 * The sums are sequential per row; LN_ROWS rows run side by side so that their chains of
 * float32 additions overlap (each row's own order is untouched). Division by d is the float32
 * division: d < 2^24 is a float32, and fround of the double quotient of two float32 values is
 * their IEEE float32 quotient.
 */
AVX512 static void layernorm_range(const float* src, const float* gamma, const float* beta, double eps, float* dst, int64_t d, int64_t r0, int64_t r1) {
  const float df = (float)d;
  for (int64_t r = r0; r < r1; r += LN_ROWS) {
    const int nr = r1 - r < LN_ROWS ? (int)(r1 - r) : LN_ROWS;
    const float* x[LN_ROWS];
    /* rows past the end repeat the first (their results are not stored) */
    for (int j = 0; j < LN_ROWS; j++) x[j] = src + (r + (j < nr ? j : 0)) * d;
    float acc[LN_ROWS], mean[LN_ROWS], sq[LN_ROWS], inv[LN_ROWS];
    for (int j = 0; j < LN_ROWS; j++) acc[j] = 0.0f;
    for (int64_t i = 0; i < d; i++)
      for (int j = 0; j < LN_ROWS; j++) acc[j] = acc[j] + x[j][i];
    for (int j = 0; j < LN_ROWS; j++) {
      mean[j] = acc[j] / df;
      sq[j] = 0.0f;
    }
    for (int64_t i = 0; i < d; i++)
      for (int j = 0; j < LN_ROWS; j++) {
        const float di = x[j][i] - mean[j];
        sq[j] = sq[j] + di * di;
      }
    for (int j = 0; j < LN_ROWS; j++) {
      const float v = (float)((double)(sq[j] / df) + eps);
      inv[j] = (float)(1.0 / _mm_cvtsd_f64(_mm_sqrt_sd(_mm_setzero_pd(), _mm_set_sd((double)v))));
    }
    for (int j = 0; j < nr; j++) {
      const __m512 mv = _mm512_set1_ps(mean[j]), iv = _mm512_set1_ps(inv[j]);
      float* o = dst + (r + j) * d;
      for (int64_t i = 0; i < d; i += 16) {
        const __mmask16 live = d - i >= 16 ? 0xffff : (__mmask16)((1u << (d - i)) - 1);
        const __m512 di = _mm512_sub_ps(_mm512_maskz_loadu_ps(live, x[j] + i), mv);
        const __m512 t = _mm512_mul_ps(_mm512_mul_ps(di, iv), _mm512_maskz_loadu_ps(live, gamma + i));
        _mm512_mask_storeu_ps(o + i, live, _mm512_add_ps(t, _mm512_maskz_loadu_ps(live, beta + i)));
      }
    }
  }
}
#endif

/* ---- threads ------------------------------------------------------------------------------ */

typedef struct {
  int kind; /* 0 gelu, 1 softmax, 2 layernorm, 3 gelu's exact kernel, 4 exp fast, 5 exp exact (tests) */
  const float* src;
  float* dst;
  int64_t n;      /* softmax, layernorm: row length */
  int64_t lo, hi; /* elements (gelu) or rows (softmax, layernorm) */
  Affine af;      /* gelu: its input's prologue (af.scale NULL: none) */
  const float *gamma, *beta; /* layernorm */
  double eps;
  SoftmaxPrologue pro;        /* softmax */
} FloatPart;

static void run_part(const FloatPart* p) {
#if FLT_X86
  if (p->kind == 0) gelu_fast_range(p->src, p->dst, p->lo, p->hi, &p->af);
  else if (p->kind == 1) softmax_range(p->src, p->dst, p->n, p->lo, p->hi, &p->pro);
  else if (p->kind == 2) layernorm_range(p->src, p->gamma, p->beta, p->eps, p->dst, p->n, p->lo, p->hi);
  else if (p->kind == 3) gelu_exact_range(p->src, p->dst, p->lo, p->hi, &p->af);
  else exp_range(p->src, p->dst, p->lo, p->hi, p->kind == 4);
#else
  (void)p;
#endif
}

/* spk_parallel's part t of the parts array */
static void part_of(void* parts, int t) {
  run_part((const FloatPart*)parts + t);
}

/* Splits [0, units) into `threads` contiguous parts (multiples of `align`): the caller runs the first. */
static void run_split(FloatPart base, int64_t units, int64_t threads, int64_t align) {
  if (units <= 0) return;
  if (threads < 1) threads = 1;
  if (threads > SPK_MAX_THREADS) threads = SPK_MAX_THREADS;
  if (threads > (units + align - 1) / align) threads = (units + align - 1) / align;
  FloatPart parts[SPK_MAX_THREADS];
  for (int64_t t = 0; t < threads; t++) {
    int64_t a = units * t / threads, b = units * (t + 1) / threads;
    a = t == 0 ? 0 : a / align * align;
    b = t == threads - 1 ? units : b / align * align;
    parts[t] = base;
    parts[t].lo = a;
    parts[t].hi = b;
  }
  spk_parallel((int)threads, part_of, parts);
}

/* ---- Node-API glue ------------------------------------------------------------------------ */

static int float_array(napi_env env, napi_value v, float** data, size_t* length) {
  void* d;
  if (!spk_typed(env, v, napi_float32_array, &d, length)) return 0;
  *data = (float*)d;
  return 1;
}

/* out and x are the same elements, or do not overlap (a part reads only what it writes). */
static int alias_ok(const float* x, size_t xl, const float* o, size_t ol) {
  return x == o || x + xl <= o || o + ol <= x;
}

static int float_cpu_ok(void) {
#if FLT_X86
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
#else
  return 0;
#endif
}

/*
 * gelu(x, out, threads, scale?, bias?): out[i] = gelu(x[i]) for i < x.length; out may be x.
 * With scale (length S, x.length a multiple of it) and bias (length C, x.length a multiple of
 * it), GELU's input is fround(fround(scale[i / (x.length / S)] * x[i]) + bias[i % C]).
 */
static napi_value gelu_napi(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value a[5];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  float *x, *o, *sc = NULL, *bi = NULL;
  size_t xl, ol, sl = 0, bl = 0;
  int64_t threads;
  if ((argc != 3 && argc != 5) || !float_array(env, a[0], &x, &xl) || !float_array(env, a[1], &o, &ol) || !spk_count(env, a[2], &threads))
    return spk_throw(env, "gelu: (x: Float32Array, out: Float32Array, threads[, scale: Float32Array, bias: Float32Array]) expected");
  if (argc == 5 && (!float_array(env, a[3], &sc, &sl) || !float_array(env, a[4], &bi, &bl)))
    return spk_throw(env, "gelu: scale and bias must be Float32Arrays");
  if (ol < xl) return spk_throw(env, "gelu: out is shorter than x");
  if (!alias_ok(x, xl, o, xl)) return spk_throw(env, "gelu: x and out overlap without being the same elements");
  if (sc && (sl == 0 || bl == 0 || xl % sl != 0 || xl % bl != 0)) return spk_throw(env, "gelu: x's length is not a multiple of scale's and bias's");
  if (!float_cpu_ok()) return spk_throw(env, "gelu: this CPU has no AVX-512");
  if (xl == 0) return NULL;
  FloatPart p = {.kind = 0, .src = x, .dst = o, .af = {sc, sc ? (int64_t)(xl / sl) : 1, bi, bi ? (int64_t)bl : 1}};
  run_split(p, (int64_t)xl, threads, 64);
  return NULL;
}

/* softmax(x, n, out, threads): softmax over each row of n (x.length a multiple of n); out may be x. */
static napi_value softmax_napi(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value a[4];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  float *x, *o;
  size_t xl, ol;
  int64_t n, threads;
  if (argc != 4 || !float_array(env, a[0], &x, &xl) || !spk_count(env, a[1], &n) || !float_array(env, a[2], &o, &ol) || !spk_count(env, a[3], &threads))
    return spk_throw(env, "softmax: (x: Float32Array, n, out: Float32Array, threads) expected");
  if (n == 0 || xl == 0) return NULL;
  if (xl % (size_t)n != 0) return spk_throw(env, "softmax: x's length is not a multiple of the row length");
  if (ol < xl) return spk_throw(env, "softmax: out is shorter than x");
  if (!alias_ok(x, xl, o, xl)) return spk_throw(env, "softmax: x and out overlap without being the same elements");
  if (!float_cpu_ok()) return spk_throw(env, "softmax: this CPU has no AVX-512");
  FloatPart p = {.kind = 1, .src = x, .dst = o, .n = n, .af = {NULL, 1, NULL, 1}};
  run_split(p, (int64_t)(xl / (size_t)n), threads, 1);
  return NULL;
}

/*
 * softmaxPrologue(x, n, out, threads, scale, rowsPerScale, divisor, mask, maskRows): softmax
 * over rows of n of the prologue of x (SoftmaxPrologue above); out may be x, but neither the
 * scale nor the mask may overlap out.
 */
static napi_value softmax_prologue_napi(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value a[9];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  float *x, *o, *sc, *m;
  size_t xl, ol, scl, ml;
  int64_t n, threads, rowsPerScale, maskRows;
  double divisor;
  if (argc != 9 || !float_array(env, a[0], &x, &xl) || !spk_count(env, a[1], &n) || !float_array(env, a[2], &o, &ol) || !spk_count(env, a[3], &threads) ||
      !float_array(env, a[4], &sc, &scl) || !spk_count(env, a[5], &rowsPerScale) || napi_get_value_double(env, a[6], &divisor) != napi_ok ||
      !float_array(env, a[7], &m, &ml) || !spk_count(env, a[8], &maskRows))
    return spk_throw(env, "softmaxPrologue: (x, n, out, threads, scale, rowsPerScale, divisor, mask, maskRows) expected");
  if (n == 0 || xl == 0) return NULL;
  if (xl % (size_t)n != 0) return spk_throw(env, "softmaxPrologue: x's length is not a multiple of the row length");
  if (ol < xl) return spk_throw(env, "softmaxPrologue: out is shorter than x");
  if (!alias_ok(x, xl, o, xl)) return spk_throw(env, "softmaxPrologue: x and out overlap without being the same elements");
  const int64_t rows = (int64_t)(xl / (size_t)n);
  if (rowsPerScale < 1 || (uint64_t)((rows + rowsPerScale - 1) / rowsPerScale) > (uint64_t)scl) return spk_throw(env, "softmaxPrologue: scale too short for the rows");
  if (maskRows < 1 || maskRows > rows || (uint64_t)maskRows > (uint64_t)ml / (uint64_t)n) return spk_throw(env, "softmaxPrologue: mask shorter than maskRows rows");
  if (!(o + xl <= sc || sc + scl <= o) || !(o + xl <= m || m + ml <= o)) return spk_throw(env, "softmaxPrologue: scale or mask overlaps out");
  if (!float_cpu_ok()) return spk_throw(env, "softmaxPrologue: this CPU has no AVX-512");
  FloatPart p = {.kind = 1, .src = x, .dst = o, .n = n, .af = {NULL, 1, NULL, 1}, .pro = {sc, rowsPerScale, (float)divisor, m, maskRows}};
  run_split(p, rows, threads, 1);
  return NULL;
}

/* layernorm(x, gamma, beta, eps, d, out, threads): LayerNorm over each row of d (x.length a multiple of d); out may be x. */
static napi_value layernorm_napi(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value a[7];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  float *x, *g, *b, *o;
  size_t xl, gl, bl, ol;
  int64_t d, threads;
  double eps;
  if (argc != 7 || !float_array(env, a[0], &x, &xl) || !float_array(env, a[1], &g, &gl) || !float_array(env, a[2], &b, &bl) ||
      napi_get_value_double(env, a[3], &eps) != napi_ok || !spk_count(env, a[4], &d) || !float_array(env, a[5], &o, &ol) || !spk_count(env, a[6], &threads))
    return spk_throw(env, "layernorm: (x, gamma, beta: Float32Array, eps: number, d, out: Float32Array, threads) expected");
  if (d == 0 || xl == 0) return NULL;
  if (d >= (1 << 24)) return spk_throw(env, "layernorm: rows longer than 2^24");
  if (xl % (size_t)d != 0) return spk_throw(env, "layernorm: x's length is not a multiple of the row length");
  if (gl < (size_t)d || bl < (size_t)d) return spk_throw(env, "layernorm: gamma or beta shorter than the row");
  if (ol < xl) return spk_throw(env, "layernorm: out is shorter than x");
  if (!alias_ok(x, xl, o, xl)) return spk_throw(env, "layernorm: x and out overlap without being the same elements");
  if (!float_cpu_ok()) return spk_throw(env, "layernorm: this CPU has no AVX-512");
  FloatPart p = {.kind = 2, .src = x, .dst = o, .n = d, .af = {NULL, 1, NULL, 1}, .gamma = g, .beta = b, .eps = eps};
  run_split(p, (int64_t)(xl / (size_t)d), threads, LN_ROWS);
  return NULL;
}

/*
 * floatMap(kind, x, out, threads): out[i] = f(x[i]) with f one of the kernels' elementwise
 * functions, for tests that compare the fast paths with the exact kernels on every float32:
 * "gelu" (the fast path with its fallback, as gelu()), "geluExact", "exp" and "expExact"
 * (softmax's fround(exp(w)), defined for w <= 0 and NaN).
 */
static napi_value float_map_napi(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value a[4];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  char name[16] = {0};
  size_t nl = 0;
  float *x, *o;
  size_t xl, ol;
  int64_t threads;
  if (argc != 4 || napi_get_value_string_utf8(env, a[0], name, sizeof name, &nl) != napi_ok || !float_array(env, a[1], &x, &xl) || !float_array(env, a[2], &o, &ol) || !spk_count(env, a[3], &threads))
    return spk_throw(env, "floatMap: (kind: string, x: Float32Array, out: Float32Array, threads) expected");
  const int kind = !strcmp(name, "gelu") ? 0 : !strcmp(name, "geluExact") ? 3 : !strcmp(name, "exp") ? 4 : !strcmp(name, "expExact") ? 5 : -1;
  if (kind < 0) return spk_throw(env, "floatMap: kind is one of gelu, geluExact, exp, expExact");
  if (ol < xl) return spk_throw(env, "floatMap: out is shorter than x");
  if (!alias_ok(x, xl, o, xl)) return spk_throw(env, "floatMap: x and out overlap without being the same elements");
  if (!float_cpu_ok()) return spk_throw(env, "floatMap: this CPU has no AVX-512");
  FloatPart p = {.kind = kind, .src = x, .dst = o, .af = {NULL, 1, NULL, 1}};
  run_split(p, (int64_t)xl, threads, 64);
  return NULL;
}

/* floatFastStats(): [GELU elements, of them set aside, softmax exps, of them set aside] since the addon loaded. */
static napi_value float_stats_napi(napi_env env, napi_callback_info info) {
  (void)info;
  const int64_t v[4] = {__atomic_load_n(&gelu_lanes, __ATOMIC_RELAXED), __atomic_load_n(&gelu_aside, __ATOMIC_RELAXED),
                        __atomic_load_n(&exp_lanes, __ATOMIC_RELAXED), __atomic_load_n(&exp_aside, __ATOMIC_RELAXED)};
  napi_value arr, e;
  napi_create_array_with_length(env, 4, &arr);
  for (uint32_t i = 0; i < 4; i++) {
    napi_create_double(env, (double)v[i], &e);
    napi_set_element(env, arr, i, e);
  }
  return arr;
}

void spk_register_float(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
    {"floatMap", NULL, float_map_napi, NULL, NULL, NULL, napi_default, NULL},
    {"floatFastStats", NULL, float_stats_napi, NULL, NULL, NULL, napi_default, NULL},
    {"gelu", NULL, gelu_napi, NULL, NULL, NULL, napi_default, NULL},
    {"softmax", NULL, softmax_napi, NULL, NULL, NULL, napi_default, NULL},
    {"softmaxPrologue", NULL, softmax_prologue_napi, NULL, NULL, NULL, napi_default, NULL},
    {"layernorm", NULL, layernorm_napi, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
}
