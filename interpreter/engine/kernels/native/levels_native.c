/*
 * Dense float times ternary levels, for attention (probabilities times spiking values,
 * queries times spiking keys): batches of small products
 *
 *   out[i, j] = Σ_{k ascending} A[i, k] * S[k, j]        (float32 partial sums from +0)
 *
 * with S in {-1, 0, +1}, bit for bit the meaning spike-matmul.ts defines. Walked row by row
 * of A with SIMD lanes over j, every k: fma(S[k, j], A[i, k], acc) rounds once, and the
 * product of a finite A with -1, 0 or +1 is exact, so this is f32(acc + f32(A*S)); a zero
 * level adds ±0, which leaves an accumulator that started at +0 unchanged (it is never -0).
 * That needs finite A and no NaN level: the kernel checks both and returns false without a
 * defined output when either fails, and the caller runs its general path (which knows the
 * NaN edges).
 *
 * This dense form beats the event lists of spike_native.c here: the products are small (K =
 * 64 or 128 per head), the rows of A are read in place, S is converted once per product
 * into a float tile that stays in L1, and the output is written row by row.
 */
#include "napi_args.h"
#include "parallel.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define LV_X86 1
#else
#define LV_X86 0
#endif


#define LV_TW 128 /* columns per pass: 8 zmm accumulators */

typedef struct {
  const float* A; int64_t ars, acs, aStride;
  const int8_t* S; int64_t sks, sns, sStride;
  float* out; int64_t ors, ocs, oStride;
  int64_t M, K, N, n;
  int64_t next; /* atomic: next product */
  int bad;      /* atomic: a non-finite A or a NaN level was seen */
  float* scratch[SPK_MAX_THREADS];
  int64_t npad;
} LvJob;

#if LV_X86
/* Whether A's row of K (stride acs) is all finite (fpclass: QNaN, +Inf, -Inf, SNaN). */
__attribute__((target("avx512f,avx512dq")))
static int row_finite(const float* a, int64_t K, int64_t acs) {
  int bad = 0;
  if (acs == 1) {
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) bad |= _mm512_fpclass_ps_mask(_mm512_loadu_ps(a + k), 0x99) != 0;
    for (; k < K; k++) bad |= a[k] - a[k] != 0.0f;
  } else {
    for (int64_t k = 0; k < K; k++) bad |= a[k * acs] - a[k * acs] != 0.0f;
  }
  return !bad;
}

__attribute__((target("avx512f,avx512dq")))
static void lv_product(LvJob* j, int64_t b, float* Sf) {
  const int8_t* S = j->S + b * j->sStride;
  const float* A = j->A + b * j->aStride;
  float* out = j->out + b * j->oStride;
  const int64_t K = j->K, N = j->N, npad = j->npad;
  /* S as floats [K, npad], zero-padded; a NaN level (-128) stops the product */
  for (int64_t k = 0; k < K; k++) {
    float* row = Sf + k * npad;
    const int8_t* s = S + k * j->sks;
    int bad = 0;
    for (int64_t c = 0; c < N; c++) {
      const int8_t v = s[c * j->sns];
      bad |= v == -128;
      row[c] = (float)v;
    }
    for (int64_t c = N; c < npad; c++) row[c] = 0.0f;
    if (bad) { __atomic_store_n(&j->bad, 1, __ATOMIC_RELAXED); return; }
  }
  for (int64_t i = 0; i < j->M; i++) {
    const float* a = A + i * j->ars;
    if (!row_finite(a, K, j->acs)) { __atomic_store_n(&j->bad, 1, __ATOMIC_RELAXED); return; }
    float* o = out + i * j->ors;
    /* 64 columns (attention's values, one head): two rows of A at a time, so that 8
       accumulator chains hide the FMA latency that 4 would expose */
    if (N == 64 && j->ocs == 1 && i + 1 < j->M) {
      const float* a2 = a + j->ars;
      if (!row_finite(a2, K, j->acs)) { __atomic_store_n(&j->bad, 1, __ATOMIC_RELAXED); return; }
      __m512 p0 = _mm512_setzero_ps(), p1 = p0, p2 = p0, p3 = p0, q0 = p0, q1 = p0, q2 = p0, q3 = p0;
      for (int64_t k = 0; k < K; k++) {
        const __m512 x = _mm512_set1_ps(a[k * j->acs]), y = _mm512_set1_ps(a2[k * j->acs]);
        const float* r = Sf + k * npad;
        const __m512 s0 = _mm512_loadu_ps(r), s1 = _mm512_loadu_ps(r + 16), s2 = _mm512_loadu_ps(r + 32), s3 = _mm512_loadu_ps(r + 48);
        p0 = _mm512_fmadd_ps(s0, x, p0); p1 = _mm512_fmadd_ps(s1, x, p1); p2 = _mm512_fmadd_ps(s2, x, p2); p3 = _mm512_fmadd_ps(s3, x, p3);
        q0 = _mm512_fmadd_ps(s0, y, q0); q1 = _mm512_fmadd_ps(s1, y, q1); q2 = _mm512_fmadd_ps(s2, y, q2); q3 = _mm512_fmadd_ps(s3, y, q3);
      }
      float* o2 = o + j->ors;
      _mm512_storeu_ps(o, p0); _mm512_storeu_ps(o + 16, p1); _mm512_storeu_ps(o + 32, p2); _mm512_storeu_ps(o + 48, p3);
      _mm512_storeu_ps(o2, q0); _mm512_storeu_ps(o2 + 16, q1); _mm512_storeu_ps(o2 + 32, q2); _mm512_storeu_ps(o2 + 48, q3);
      i++;
      continue;
    }
    for (int64_t c0 = 0; c0 < N; c0 += LV_TW) {
      const int64_t w = N - c0 < LV_TW ? N - c0 : LV_TW;
      const int nv = (int)((w + 15) / 16);
      __m512 acc[8];
#pragma GCC unroll 8
      for (int u = 0; u < 8; u++) acc[u] = _mm512_setzero_ps();
      const float* sf = Sf + c0;
      if (nv == 8) {
        for (int64_t k = 0; k < K; k++) {
          const __m512 x = _mm512_set1_ps(a[k * j->acs]);
          const float* r = sf + k * npad;
#pragma GCC unroll 8
          for (int u = 0; u < 8; u++) acc[u] = _mm512_fmadd_ps(_mm512_loadu_ps(r + 16 * u), x, acc[u]);
        }
      } else if (nv == 4) {
        for (int64_t k = 0; k < K; k++) {
          const __m512 x = _mm512_set1_ps(a[k * j->acs]);
          const float* r = sf + k * npad;
#pragma GCC unroll 4
          for (int u = 0; u < 4; u++) acc[u] = _mm512_fmadd_ps(_mm512_loadu_ps(r + 16 * u), x, acc[u]);
        }
      } else {
        for (int64_t k = 0; k < K; k++) {
          const __m512 x = _mm512_set1_ps(a[k * j->acs]);
          const float* r = sf + k * npad;
          for (int u = 0; u < nv; u++) acc[u] = _mm512_fmadd_ps(_mm512_loadu_ps(r + 16 * u), x, acc[u]);
        }
      }
      if (j->ocs == 1) {
        for (int u = 0; u < nv; u++) {
          const int64_t lanes = w - 16 * u;
          const __mmask16 m = lanes >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << lanes) - 1);
          _mm512_mask_storeu_ps(o + c0 + 16 * u, m, acc[u]);
        }
      } else {
        float tmp[LV_TW];
        for (int u = 0; u < nv; u++) _mm512_storeu_ps(tmp + 16 * u, acc[u]);
        for (int64_t c = 0; c < w; c++) o[(c0 + c) * j->ocs] = tmp[c];
      }
    }
  }
}

static void lv_work(LvJob* j, int t) {
  for (;;) {
    if (__atomic_load_n(&j->bad, __ATOMIC_RELAXED)) return;
    const int64_t b = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
    if (b >= j->n) return;
    lv_product(j, b, j->scratch[t]);
  }
}
#endif

/* spk_parallel's part t */
static void lv_part(void* j, int t) {
#if LV_X86
  lv_work((LvJob*)j, t);
#else
  (void)j;
  (void)t;
#endif
}

static __thread float* lv_buf = NULL;
static __thread size_t lv_cap = 0;

/* Largest index of n strided 2-D views (rows x cols, rs, cs, views `stride` apart), with
   overflow checks; -1 when empty, -2 when it overflows. */
static int64_t lv_last(int64_t n, int64_t rows, int64_t cols, int64_t rs, int64_t cs, int64_t stride) {
  if (n <= 0 || rows <= 0 || cols <= 0) return -1;
  int64_t x, y, z, s;
  if (__builtin_mul_overflow(rows - 1, rs, &x) || __builtin_mul_overflow(cols - 1, cs, &y) || __builtin_mul_overflow(n - 1, stride, &z)) return -2;
  if (__builtin_add_overflow(x, y, &s) || __builtin_add_overflow(s, z, &s)) return -2;
  return s;
}

/*
 * denseTimesLevels(A, M, K, ars, acs, aStride, S, N, sks, sns, sStride, out, ors, ocs, oStride, n, threads)
 *   -> true when every product ran (A finite, no NaN level), false otherwise (out undefined).
 */
static napi_value dense_times_levels(napi_env env, napi_callback_info info) {
  size_t argc = 17;
  napi_value a[17];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  if (argc != 17) return spk_throw(env, "denseTimesLevels: 17 arguments expected");
  void *A, *S, *O;
  size_t aLen, sLen, oLen;
  if (!spk_typed(env, a[0], napi_float32_array, &A, &aLen)) return spk_throw(env, "denseTimesLevels: A must be a Float32Array");
  if (!spk_typed(env, a[6], napi_int8_array, &S, &sLen)) return spk_throw(env, "denseTimesLevels: S must be an Int8Array");
  if (!spk_typed(env, a[11], napi_float32_array, &O, &oLen)) return spk_throw(env, "denseTimesLevels: out must be a Float32Array");
  const int idx[14] = {1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 13, 14, 15, 16};
  int64_t v[14];
  for (int i = 0; i < 14; i++)
    if (!spk_count(env, a[idx[i]], &v[i])) return spk_throw(env, "denseTimesLevels: sizes and strides must be safe integers >= 0");
  LvJob j;
  memset(&j, 0, sizeof j);
  j.M = v[0]; j.K = v[1]; j.ars = v[2]; j.acs = v[3]; j.aStride = v[4];
  j.N = v[5]; j.sks = v[6]; j.sns = v[7]; j.sStride = v[8];
  j.ors = v[9]; j.ocs = v[10]; j.oStride = v[11]; j.n = v[12];
  int64_t threads = v[13];
  napi_value yes;
  napi_get_boolean(env, true, &yes);
  if (j.M == 0 || j.N == 0 || j.n == 0) return yes;
  if (j.K > (1 << 20) || j.N > (1 << 20)) return spk_throw(env, "denseTimesLevels: K or N too large for the native kernel");
  const int64_t aLast = lv_last(j.n, j.M, j.K, j.ars, j.acs, j.aStride), sLast = lv_last(j.n, j.K, j.N, j.sks, j.sns, j.sStride);
  const int64_t oLast = lv_last(j.n, j.M, j.N, j.ors, j.ocs, j.oStride);
  if (aLast == -2 || sLast == -2 || oLast == -2 || aLast >= (int64_t)aLen || sLast >= (int64_t)sLen || oLast >= (int64_t)oLen)
    return spk_throw(env, "denseTimesLevels: a strided view reaches past its array");
#if LV_X86
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512dq")) return spk_throw(env, "denseTimesLevels: this CPU has no AVX-512");
  if (j.K == 0) {
    for (int64_t b = 0; b < j.n; b++)
      for (int64_t i = 0; i < j.M; i++)
        for (int64_t c = 0; c < j.N; c++) ((float*)O)[b * j.oStride + i * j.ors + c * j.ocs] = 0.0f;
    return yes;
  }
  j.A = (const float*)A; j.S = (const int8_t*)S; j.out = (float*)O;
  j.npad = (j.N + 15) / 16 * 16;
  if (threads < 1) threads = 1;
  if (threads > SPK_MAX_THREADS) threads = SPK_MAX_THREADS;
  if (threads > j.n) threads = j.n;
  const size_t per = (size_t)(j.K * j.npad) * sizeof(float);
  if (per * (size_t)threads > lv_cap) {
    free(lv_buf);
    lv_buf = (float*)aligned_alloc(64, (per * (size_t)threads + 63) & ~(size_t)63);
    lv_cap = lv_buf ? per * (size_t)threads : 0;
    if (!lv_buf) return spk_throw(env, "denseTimesLevels: out of memory for its scratch");
  }
  for (int t = 0; t < threads; t++) j.scratch[t] = lv_buf + (size_t)t * (per / sizeof(float));
  spk_parallel((int)threads, lv_part, &j);
  napi_value r;
  napi_get_boolean(env, !j.bad, &r);
  return r;
#else
  (void)threads;
  return spk_throw(env, "denseTimesLevels: no native kernel on this architecture");
#endif
}

void spk_register_levels(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
    {"denseTimesLevels", NULL, dense_times_levels, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
}
