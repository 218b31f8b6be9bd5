/*
 * The elementwise vector machine of wasm-vector-wat.ts in native code (AVX-512, 16 float32
 * lanes), for neuron steps and fused elementwise programs: the same programs, the same bits,
 * read and written in place in the caller's typed arrays (no copy into a kernel memory).
 *
 * Every op is the WebAssembly op it replaces, lane for lane:
 *   add/sub/mul/div/sqrt  IEEE float32 (MXCSR as Node leaves it: no flush to zero)
 *   min/max               NaN if either is NaN, -0 < +0 (x86's minps/maxps are not: fixed
 *                         up with an equality and an unordered compare)
 *   at_least              a > b ? a : b (NaN selects b)
 *   neg/abs               the sign bit
 *   round                 roundscale to nearest, ties to even (keeps -0, NaN, ±Infinity)
 *   sign/heaviside/relu   compare masks (sign(±0) = +0, sign(NaN) = 0, heaviside(NaN) = 0,
 *                         relu(-0) = +0, relu(NaN) = NaN)
 *   splat                 one float of the per-step scalar table
 *   i8                    truncate, saturate, NaN -> -128 (NAN_LEVEL), int8 store
 *   canon                 x + 0
 * A program is straight-line: instruction by instruction over a chunk of elements, step by
 * step (chunk outer, step inner), so an instruction that writes its own operand reads the
 * old values first, as in WebAssembly. Chunks are independent, so threads split them.
 */
#include "napi_args.h"
#include "parallel.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define VEC_X86 1
#else
#define VEC_X86 0
#endif

#define VCH 256       /* elements per chunk: a register's length */
#define VMAX_ARR 64   /* arrays of each kind */

enum { K_NONE = 0, K_REG, K_INPUT, K_STATE, K_PARAM, K_SCALAR, K_LEVELS, K_VALUE };
enum { OP_COPY = 0, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MIN, OP_MAX, OP_AT_LEAST, OP_NEG, OP_ABS, OP_ROUND,
       OP_SIGN, OP_HEAVISIDE, OP_RELU, OP_SQRT, OP_SPLAT, OP_I8, OP_CANON, N_OPS };

/* Instruction: 7 int32 words: op, dKind, dIndex, aKind, aIndex, bKind, bIndex. */
#define VW 7

typedef struct {
  const int32_t* prog; int32_t nIns, regs, scalars;
  float* inputs[VMAX_ARR]; int32_t nInputs;
  float* states[VMAX_ARR]; int32_t nStates;
  float* params[VMAX_ARR]; int32_t nParams;
  const float* table;
  void* levels; int32_t levelsInt8;
  float* value;
  int64_t n, t0, t1;
  int64_t nChunks;
  int threads;
  float* scratch[SPK_MAX_THREADS];
} VecJob;

#if VEC_X86
/* Address of an operand for step t (absolute), chunk starting at element e0. */
static inline float* vaddr(const VecJob* j, int kind, int index, int64_t t, int64_t e0, float* regs) {
  switch (kind) {
    case K_REG: return regs + (int64_t)index * VCH;
    case K_INPUT: return j->inputs[index] + t * j->n + e0;
    case K_STATE: return j->states[index] + e0;
    case K_PARAM: return j->params[index] + e0;
    case K_SCALAR: return (float*)j->table + (t - j->t0) * j->scalars + index;
    case K_LEVELS: return (float*)j->levels + t * j->n + e0;
    case K_VALUE: return j->value + t * j->n + e0;
    default: return NULL;
  }
}

__attribute__((target("avx512f,avx512dq"))) static inline __m512 vmin(__m512 x, __m512 y, __m512 qnan) {
  __m512 r = _mm512_min_ps(x, y);
  r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, y, _CMP_EQ_OQ), r, _mm512_or_ps(x, y));
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, y, _CMP_UNORD_Q), r, qnan);
}

__attribute__((target("avx512f,avx512dq"))) static inline __m512 vmax(__m512 x, __m512 y, __m512 qnan) {
  __m512 r = _mm512_max_ps(x, y);
  r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, y, _CMP_EQ_OQ), r, _mm512_and_ps(x, y));
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, y, _CMP_UNORD_Q), r, qnan);
}

__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))
static void run_chunk(const VecJob* j, int64_t c, float* regs) {
  const int64_t e0 = c * VCH;
  const int64_t len = j->n - e0 < VCH ? j->n - e0 : VCH;
  const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f), mone = _mm512_set1_ps(-1.0f);
  const __m512 qnan = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fc00000));
  const __m512i signbit = _mm512_set1_epi32((int)0x80000000u);
  for (int64_t t = j->t0; t < j->t1; t++) {
    for (int32_t ip = 0; ip < j->nIns; ip++) {
      const int32_t* w = j->prog + (int64_t)ip * VW;
      const int op = w[0];
      float* d = vaddr(j, w[1], w[2], t, e0, regs);
      const float* a = vaddr(j, w[3], w[4], t, e0, regs);
      const float* b = vaddr(j, w[5], w[6], t, e0, regs);
      if (op == OP_SPLAT) {
        const __m512 x = _mm512_set1_ps(*a);
        for (int64_t i = 0; i < len; i += 16) {
          const __mmask16 m = len - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (len - i)) - 1);
          _mm512_mask_storeu_ps(d + i, m, x);
        }
        continue;
      }
      if (op == OP_I8) {
        int8_t* d8 = (int8_t*)j->levels + t * j->n + e0;
        for (int64_t i = 0; i < len; i += 16) {
          const __mmask16 m = len - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (len - i)) - 1);
          const __m512 x = _mm512_maskz_loadu_ps(m, a + i);
          /* truncate toward zero with saturation (cvtt gives INT_MIN for NaN and out of range) */
          const __m512 lo = _mm512_set1_ps(-2147483648.0f), hi = _mm512_set1_ps(2147483520.0f);
          __m512 xc = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
          __m512i q = _mm512_cvttps_epi32(xc);
          const __mmask16 isnan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
          q = _mm512_mask_blend_epi32(isnan, q, _mm512_set1_epi32(-128));
          const __m128i q8 = _mm512_cvtsepi32_epi8(q); /* saturating narrow, as i8x16.narrow */
          _mm_mask_storeu_epi8(d8 + i, m, q8);
        }
        continue;
      }
      /* one loop per op (the op is not re-decided per vector): whole vectors, then a masked tail */
      const int64_t full = len & ~(int64_t)15;
      const __mmask16 tailMask = (__mmask16)((1u << (len - full)) - 1);
#define VLOOP(EXPR)                                                                  \
  {                                                                                  \
    for (int64_t i = 0; i < full; i += 16) {                                         \
      const __m512 x = _mm512_loadu_ps(a + i);                                       \
      const __m512 y = binary ? _mm512_loadu_ps(b + i) : zero;                       \
      (void)y;                                                                       \
      _mm512_storeu_ps(d + i, (EXPR));                                               \
    }                                                                                \
    if (tailMask) {                                                                  \
      const __m512 x = _mm512_maskz_loadu_ps(tailMask, a + full);                    \
      const __m512 y = binary ? _mm512_maskz_loadu_ps(tailMask, b + full) : zero;    \
      (void)y;                                                                       \
      _mm512_mask_storeu_ps(d + full, tailMask, (EXPR));                             \
    }                                                                                \
  }
      const int binary = op >= OP_ADD && op <= OP_AT_LEAST;
      switch (op) {
        case OP_COPY: VLOOP(x) break;
        case OP_ADD: VLOOP(_mm512_add_ps(x, y)) break;
        case OP_SUB: VLOOP(_mm512_sub_ps(x, y)) break;
        case OP_MUL: VLOOP(_mm512_mul_ps(x, y)) break;
        case OP_DIV: VLOOP(_mm512_div_ps(x, y)) break;
        /* equal operands (incl. -0 vs +0): min ORs the bits (-0 wins), max ANDs them (+0 wins); NaN if either is */
        case OP_MIN: VLOOP(vmin(x, y, qnan)) break;
        case OP_MAX: VLOOP(vmax(x, y, qnan)) break;
        case OP_AT_LEAST: VLOOP(_mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, y, _CMP_GT_OQ), y, x)) break;
        case OP_NEG: VLOOP(_mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), signbit))) break;
        case OP_ABS: VLOOP(_mm512_castsi512_ps(_mm512_andnot_si512(signbit, _mm512_castps_si512(x)))) break;
        case OP_ROUND: VLOOP(_mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)) break;
        case OP_SIGN: VLOOP(_mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, zero, _CMP_LT_OQ), _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, zero, _CMP_GT_OQ), zero, one), mone)) break;
        case OP_HEAVISIDE: VLOOP(_mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, zero, _CMP_GE_OQ), zero, one)) break;
        case OP_RELU: VLOOP(_mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, zero, _CMP_LE_OQ), x, zero)) break;
        case OP_SQRT: VLOOP(_mm512_sqrt_ps(x)) break;
        case OP_CANON: VLOOP(_mm512_add_ps(x, zero)) break;
        default: VLOOP(x) break;
      }
#undef VLOOP
    }
  }
}

/* A contiguous range of chunks per thread (the work per chunk is uniform; interleaved
   chunks defeated the prefetchers and were slower on two threads than on one). */
static void vec_work(VecJob* j, int t) {
  const int64_t c0 = j->nChunks * t / j->threads, c1 = j->nChunks * (t + 1) / j->threads;
  for (int64_t c = c0; c < c1; c++) run_chunk(j, c, j->scratch[t]);
}
#endif

/* spk_parallel's part t */
static void vec_part(void* j, int t) {
#if VEC_X86
  vec_work((VecJob*)j, t);
#else
  (void)j;
  (void)t;
#endif
}

static __thread float* vtl_buf = NULL;
static __thread size_t vtl_cap = 0;

/* A JS array of Float32Arrays, each at least `need` long. */
static int v_list(napi_env env, napi_value list, float** out, int32_t* count, int64_t need) {
  bool is;
  if (napi_is_array(env, list, &is) != napi_ok || !is) return 0;
  uint32_t len;
  napi_get_array_length(env, list, &len);
  if (len > VMAX_ARR) return 0;
  for (uint32_t i = 0; i < len; i++) {
    napi_value e;
    void* p;
    size_t l;
    if (napi_get_element(env, list, i, &e) != napi_ok || !spk_typed(env, e, napi_float32_array, &p, &l) || (int64_t)l < need) return 0;
    out[i] = (float*)p;
  }
  *count = (int32_t)len;
  return 1;
}

/*
 * vecRun(prog Int32Array, nIns, regs, scalars, inputs[], states[], params[], table,
 *        levels (Int8Array | Float32Array | null), value (Float32Array | null), n, t0, t1, threads)
 * Inputs, levels and value are [T, n] with steps t0..t1-1 used; states and params [n];
 * table [(t1 - t0) * scalars].
 */
static napi_value vec_run(napi_env env, napi_callback_info info) {
  size_t argc = 14;
  napi_value a[14];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  if (argc != 14) return spk_throw(env, "vecRun: 14 arguments expected");
  VecJob j;
  memset(&j, 0, sizeof j);
  void* p;
  size_t len;
  int64_t nIns, regs, scalars, n, t0, t1, threads;
  if (!spk_typed(env, a[0], napi_int32_array, &p, &len)) return spk_throw(env, "vecRun: prog must be an Int32Array");
  j.prog = (const int32_t*)p;
  if (!spk_int(env, a[1], &nIns) || !spk_int(env, a[2], &regs) || !spk_int(env, a[3], &scalars) || !spk_int(env, a[10], &n) ||
      !spk_int(env, a[11], &t0) || !spk_int(env, a[12], &t1) || !spk_int(env, a[13], &threads))
    return spk_throw(env, "vecRun: counts must be safe integers");
  if (nIns < 0 || regs < 0 || regs > 4096 || scalars < 0 || n < 0 || t0 < 0 || t1 < t0 || (int64_t)len < nIns * VW)
    return spk_throw(env, "vecRun: bad counts");
  if (n == 0 || t1 == t0) return NULL;
  const int64_t rows = t1 * n; /* [T, n] arrays must hold steps up to t1 */
  if (!v_list(env, a[4], j.inputs, &j.nInputs, rows)) return spk_throw(env, "vecRun: inputs must be Float32Arrays of [T, n]");
  if (!v_list(env, a[5], j.states, &j.nStates, n)) return spk_throw(env, "vecRun: states must be Float32Arrays of [n]");
  if (!v_list(env, a[6], j.params, &j.nParams, n)) return spk_throw(env, "vecRun: params must be Float32Arrays of [n]");
  if (!spk_typed(env, a[7], napi_float32_array, &p, &len) || (int64_t)len < (t1 - t0) * scalars) return spk_throw(env, "vecRun: table too short");
  j.table = (const float*)p;
  napi_valuetype vt;
  napi_typeof(env, a[8], &vt);
  if (vt != napi_null && vt != napi_undefined) {
    if (spk_typed(env, a[8], napi_int8_array, &p, &len)) j.levelsInt8 = 1;
    else if (spk_typed(env, a[8], napi_float32_array, &p, &len)) j.levelsInt8 = 0;
    else return spk_throw(env, "vecRun: levels must be an Int8Array or a Float32Array");
    if ((int64_t)len < rows) return spk_throw(env, "vecRun: levels shorter than [T, n]");
    j.levels = p;
  }
  napi_typeof(env, a[9], &vt);
  if (vt != napi_null && vt != napi_undefined) {
    if (!spk_typed(env, a[9], napi_float32_array, &p, &len) || (int64_t)len < rows) return spk_throw(env, "vecRun: value must be a Float32Array of [T, n]");
    j.value = (float*)p;
  }
  /* every operand names something that exists, with the right element type */
  for (int64_t ip = 0; ip < nIns; ip++) {
    const int32_t* w = j.prog + ip * VW;
    if (w[0] < 0 || w[0] >= N_OPS) return spk_throw(env, "vecRun: unknown op");
    for (int s = 0; s < 3; s++) {
      const int kind = w[1 + 2 * s], index = w[2 + 2 * s];
      const int used = s == 0 || s == 1 || (w[0] >= OP_ADD && w[0] <= OP_AT_LEAST);
      if (!used) continue;
      int ok;
      switch (kind) {
        case K_REG: ok = index >= 0 && index < regs; break;
        case K_INPUT: ok = index >= 0 && index < j.nInputs; break;
        case K_STATE: ok = index >= 0 && index < j.nStates; break;
        case K_PARAM: ok = index >= 0 && index < j.nParams; break;
        case K_SCALAR: ok = s == 1 && w[0] == OP_SPLAT && index >= 0 && index < scalars; break;
        case K_LEVELS: ok = s == 0 && j.levels != NULL && (w[0] == OP_I8) == (j.levelsInt8 == 1); break;
        case K_VALUE: ok = s == 0 && j.value != NULL; break;
        default: ok = 0;
      }
      if (s == 0 && (kind == K_INPUT || kind == K_PARAM || kind == K_SCALAR)) ok = 0;
      if (s == 1 && w[0] == OP_SPLAT && kind != K_SCALAR) ok = 0;
      if (s == 0 && w[0] == OP_I8 && kind != K_LEVELS) ok = 0;
      if (!ok) return spk_throw(env, "vecRun: an operand names nothing valid");
    }
  }
#if VEC_X86
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") || !__builtin_cpu_supports("avx512dq") || !__builtin_cpu_supports("avx512vl"))
    return spk_throw(env, "vecRun: this CPU has no AVX-512");
  j.nIns = (int32_t)nIns; j.regs = (int32_t)regs; j.scalars = (int32_t)scalars;
  j.n = n; j.t0 = t0; j.t1 = t1;
  j.nChunks = (n + VCH - 1) / VCH;
  if (threads < 1) threads = 1;
  if (threads > SPK_MAX_THREADS) threads = SPK_MAX_THREADS;
  if (threads > j.nChunks) threads = j.nChunks;
  j.threads = (int)threads;
  const size_t per = (size_t)(regs > 0 ? regs : 1) * VCH * sizeof(float);
  const size_t need = per * (size_t)threads;
  if (need > vtl_cap) {
    free(vtl_buf);
    vtl_buf = (float*)aligned_alloc(64, (need + 63) & ~(size_t)63);
    vtl_cap = vtl_buf ? need : 0;
    if (!vtl_buf) return spk_throw(env, "vecRun: out of memory for registers");
  }
  for (int t = 0; t < threads; t++) j.scratch[t] = vtl_buf + (size_t)t * (per / sizeof(float));
  spk_parallel((int)threads, vec_part, &j);
#else
  (void)threads;
  return spk_throw(env, "vecRun: no native vector machine on this architecture");
#endif
  return NULL;
}

void spk_register_vec(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
    {"vecRun", NULL, vec_run, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
}
