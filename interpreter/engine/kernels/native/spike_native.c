/*
 * spikelm's native spike-accumulate kernel: a Node-API addon, AVX-512, for x86-64 CPUs that
 * have it (native-backend.ts compiles this file with the system's C compiler on first use and
 * falls back to the WebAssembly kernels where it cannot).
 *
 * It computes the generic strided spike contraction of wasm-backend.ts (`SpikeOp`), bit for
 * bit the meaning spike-matmul.ts defines:
 *
 *   out[r*ors + c*ocs] = Σ_{k ascending} spike[r*srs + k*scs] * weight[k*wrs + c*wcs]
 *
 * with every partial sum rounded to float32, starting from +0, then (optionally) one float32
 * multiplication by scale[r]. Levels are -1, 0 or +1 (NaN levels are removed by the caller).
 * A term s*W with s = ±1 is exact, so fma(W, s, acc) rounds once, exactly as the reference's
 * f32(acc + f32(s*W)); zero levels are skipped (adding ±0 to an accumulator that started at
 * +0 is the identity). Lanes run over output columns and k is never reordered: blocking k
 * only parks the accumulators in memory between blocks, so every element still sees its
 * terms in ascending k. The compile flags forbid contraction and fast-math (native-backend.ts).
 *
 * Work: event lists per spike row (k*TW with the sign in bit 31), built by the threads over
 * chunks of rows and packed back to back within a chunk; then (contraction, column tile of
 * 128, row chunk) items taken from an atomic counter. Each item walks k in blocks of 64 or
 * 128 rows (by the firing rate the listing counted), 8 zmm accumulators per row, parked in
 * memory between blocks.
 */
#include "napi_args.h"
#include "parallel.h"
#include <stdint.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define SPK_X86 1
#else
#define SPK_X86 0
#endif

#define TW 128          /* columns per tile: 8 zmm accumulators */
#define KBR 64          /* k rows per sub-block: event bounds are recorded every KBR rows of k */
/* Below this firing rate an item walks k in blocks of two sub-blocks (64 KB of a tile's
 * weights): a row then has enough events per block to pay for loading and storing its
 * accumulators; above it, one sub-block (32 KB, held in L1) is faster. Measured on the
 * block's shapes (K 768 and 3072, 128-column tiles) at rates 0.1-0.4. */
#define WIDE_BLOCK_RATE 0.3
/* Most events or packed weights one call may need (4 TB each): far past any real layer, and
 * small enough that no scratch size computed from them can wrap. */
#define MAX_SCRATCH_ELEMS ((int64_t)1 << 40)

typedef struct {
  const int8_t* S; int64_t srs, scs;
  const float* W;                     /* tile-packed, see pack_tiles */
  float* out; int64_t ors, ocs;
  const float* scale;                 /* per row, or NULL */
  const float* bias;                  /* spikeOpAffine: per column, or NULL */
  const float* res;                   /* spikeOpAffine: the residual, laid out as out, or NULL */
  int64_t R, K, C;
  int64_t n, sStride, oStride;      /* batch of n contractions (weights: nT*K*TW apart) */
} Job;

typedef struct {
  const Job* job;
  uint32_t* events;      /* per (b, r): its events from rowStart[b*R + r], rows of one listing chunk packed back to back */
  int64_t* rowStart;
  int32_t* bounds;       /* per (b, r): nKB + 1 event indices, where each k sub-block's events start (the last: the count) */
  int64_t nKB;           /* k sub-blocks of KBR rows */
  int64_t eventCount;    /* atomic: events listed so far */
  int64_t nRC, rowsPerChunk, nT, items;
  int threads;
  int64_t next_list, listed, next_item; /* atomics: rows claimed, rows listed, items claimed */
  int nanLevel;                          /* atomic: a NaN level (-128) was seen: no items run */
  float* acc[SPK_MAX_THREADS];
} Shared;

#if SPK_X86
__attribute__((target("avx512f,avx512bw")))
static void list_rows(Shared* sh, int64_t first, int64_t last) {
  const Job* j = sh->job;
  /* the chunk's rows share its region of (last - first) * K slots, packed back to back so
     that the events an item reads are dense in cache (the down projection's K = 3072 rows
     each own 12 KB of slots but fill about 2 KB) */
  int64_t at = first * j->K;
  for (int64_t q = first; q < last; q++) {
    const int64_t b = q / j->R, r = q % j->R;
    const int8_t* s = j->S + b * j->sStride + r * j->srs;
    uint32_t* ev = sh->events + at;
    sh->rowStart[q] = at;
    int32_t* bnd = sh->bounds + q * (sh->nKB + 1);
    int32_t n = 0;
    int nan = 0;
    if (j->scs == 1) {
      int64_t k = 0;
      const __m512i nanLevel = _mm512_set1_epi8(-128);
      const __m512i signBit = _mm512_set1_epi32((int)0x80000000u);
      /* lane i of a quarter: (k + i) * TW */
      const __m512i laneOff = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), _mm512_set1_epi32(TW));
      for (; k + 64 <= j->K; k += 64) {
        bnd[k / KBR] = n; /* a chunk of 64 is one k block */
        __m512i v = _mm512_loadu_si512((const void*)(s + k));
        nan |= _mm512_cmpeq_epi8_mask(v, nanLevel) != 0;
        const uint64_t nz = _mm512_test_epi8_mask(v, v);
        const uint64_t neg = _mm512_movepi8_mask(v);
        /* 16 levels at a time, without a branch per event (the sign's was unpredictable):
           every lane's event formed, the nonzero ones compressed to the front and stored */
        for (int qd = 0; qd < 4; qd++) {
          const __mmask16 m = (__mmask16)(nz >> (16 * qd));
          if (!m) continue;
          __m512i e = _mm512_add_epi32(_mm512_set1_epi32((int)((k + 16 * qd) * TW)), laneOff);
          e = _mm512_mask_or_epi32(e, (__mmask16)(neg >> (16 * qd)), e, signBit);
          const int c = __builtin_popcount(m);
          _mm512_mask_storeu_epi32(ev + n, (__mmask16)((1u << c) - 1), _mm512_maskz_compress_epi32(m, e));
          n += c;
        }
      }
      if (k < j->K) bnd[k / KBR] = n;
      for (; k < j->K; k++) {
        nan |= s[k] == -128;
        if (s[k] != 0) ev[n++] = (uint32_t)(k * TW) | (s[k] < 0 ? 0x80000000u : 0u);
      }
    } else {
      for (int64_t k = 0; k < j->K; k++) {
        if (k % KBR == 0) bnd[k / KBR] = n;
        int8_t v = s[k * j->scs];
        nan |= v == -128;
        if (v != 0) ev[n++] = (uint32_t)(k * TW) | (v < 0 ? 0x80000000u : 0u);
      }
    }
    if (nan) __atomic_store_n(&sh->nanLevel, 1, __ATOMIC_RELAXED);
    bnd[sh->nKB] = n;
    at += n;
  }
  __atomic_fetch_add(&sh->eventCount, at - first * j->K, __ATOMIC_RELAXED);
}

/*
 * spikeOpAffine's store of an item's sums (one contraction): each a float32 operation of
 * the program the executor fused after the product, in its order,
 *   o = fround(fround(fround(scale[r] * acc) + bias[c]) + res[r, c])
 * (the scale, bias and residual steps only where given). IEEE multiplication and addition are
 * commutative, so the operands' order in the program does not matter.
 */
__attribute__((target("avx512f")))
static void store_affine(const Job* j, const float* acc, int64_t r0, int64_t r1, int64_t c0, int64_t w) {
  for (int64_t r = r0; r < r1; r++) {
    const float* a = acc + (r - r0) * TW;
    float* o = j->out + r * j->ors + c0 * j->ocs;
    const float* res = j->res ? j->res + r * j->ors + c0 * j->ocs : NULL;
    const float* bias = j->bias ? j->bias + c0 : NULL;
    if (j->ocs == 1) {
      const __m512 sc = _mm512_set1_ps(j->scale ? j->scale[r] : 1.0f);
      for (int64_t c = 0; c < w; c += 16) {
        const __mmask16 live = w - c >= 16 ? 0xffff : (__mmask16)((1u << (w - c)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(live, a + c);
        if (j->scale) v = _mm512_mul_ps(sc, v);
        if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(live, bias + c));
        if (res) v = _mm512_add_ps(_mm512_maskz_loadu_ps(live, res + c), v);
        _mm512_mask_storeu_ps(o + c, live, v);
      }
    } else {
      for (int64_t c = 0; c < w; c++) {
        float v = a[c];
        if (j->scale) v = j->scale[r] * v;
        if (bias) v = v + bias[c];
        if (res) v = res[c * j->ocs] + v;
        o[c * j->ocs] = v;
      }
    }
  }
}

/* One item: contraction b, columns [c0, c0+w), rows [r0, r1). */
__attribute__((target("avx512f")))
static void run_item(Shared* sh, int t, int64_t b, int64_t c0, int64_t w, int64_t r0, int64_t r1, int64_t step) {
  const Job* j = sh->job;
  const float* W = j->W + (b * sh->nT + c0 / TW) * j->K * TW;
  float* acc = sh->acc[t];
  const int64_t* starts = sh->rowStart + b * j->R;
  const int64_t nb = sh->nKB + 1;
  const int32_t* bnd = sh->bounds + b * j->R * nb;
  const int64_t rows = r1 - r0;
  memset(acc, 0, (size_t)rows * TW * sizeof(float));
  const __m512i one = _mm512_set1_epi32(0x3f800000);
  /* k block by k block (each element still sees its terms in ascending k), every row's
     events of the block from the bounds the listing recorded */
  for (int64_t blk = 0; blk < sh->nKB; blk += step) {
    const int64_t blkEnd = blk + step < sh->nKB ? blk + step : sh->nKB;
    for (int64_t i = 0; i < rows; i++) {
      const uint32_t* ev = sh->events + starts[r0 + i];
      const int32_t* rb = bnd + (r0 + i) * nb;
      int32_t e = rb[blk];
      const int32_t end = rb[blkEnd];
      if (e == end) continue;
      float* a = acc + i * TW;
      __m512 a0 = _mm512_loadu_ps(a), a1 = _mm512_loadu_ps(a + 16), a2 = _mm512_loadu_ps(a + 32), a3 = _mm512_loadu_ps(a + 48);
      __m512 a4 = _mm512_loadu_ps(a + 64), a5 = _mm512_loadu_ps(a + 80), a6 = _mm512_loadu_ps(a + 96), a7 = _mm512_loadu_ps(a + 112);
      for (; e < end; e++) {
        const uint32_t x = ev[e];
        const uint32_t off = x & 0x7fffffffu;
        const __m512 s = _mm512_castsi512_ps(_mm512_or_si512(one, _mm512_set1_epi32((int)(x & 0x80000000u))));
        const float* p = W + off;
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(p), s, a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(p + 16), s, a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(p + 32), s, a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(p + 48), s, a3);
        a4 = _mm512_fmadd_ps(_mm512_loadu_ps(p + 64), s, a4);
        a5 = _mm512_fmadd_ps(_mm512_loadu_ps(p + 80), s, a5);
        a6 = _mm512_fmadd_ps(_mm512_loadu_ps(p + 96), s, a6);
        a7 = _mm512_fmadd_ps(_mm512_loadu_ps(p + 112), s, a7);
      }
      _mm512_storeu_ps(a, a0); _mm512_storeu_ps(a + 16, a1); _mm512_storeu_ps(a + 32, a2); _mm512_storeu_ps(a + 48, a3);
      _mm512_storeu_ps(a + 64, a4); _mm512_storeu_ps(a + 80, a5); _mm512_storeu_ps(a + 96, a6); _mm512_storeu_ps(a + 112, a7);
    }
  }
  float* out = j->out + b * j->oStride;
  if (j->bias || j->res) {
    store_affine(j, acc, r0, r1, c0, w);
    return;
  }
  for (int64_t i = 0; i < rows; i++) {
    const int64_t r = r0 + i;
    const float* a = acc + i * TW;
    float* o = out + r * j->ors + c0 * j->ocs;
    if (j->scale) {
      const float sc = j->scale[r];
      if (j->ocs == 1) for (int64_t c = 0; c < w; c++) o[c] = sc * a[c];
      else for (int64_t c = 0; c < w; c++) o[c * j->ocs] = sc * a[c];
    } else {
      if (j->ocs == 1) memcpy(o, a, (size_t)w * sizeof(float));
      else for (int64_t c = 0; c < w; c++) o[c * j->ocs] = a[c];
    }
  }
}

static void work(Shared* sh, int t) {
  const Job* j = sh->job;
  const int64_t rowsTotal = j->n * j->R;
  const int64_t chunk = 16;
  for (;;) {
    const int64_t q = __atomic_fetch_add(&sh->next_list, chunk, __ATOMIC_RELAXED);
    if (q >= rowsTotal) break;
    const int64_t e = q + chunk < rowsTotal ? q + chunk : rowsTotal;
    list_rows(sh, q, e);
    __atomic_fetch_add(&sh->listed, e - q, __ATOMIC_RELEASE);
  }
  /* every row's list is needed by every item: wait for the last chunks */
  /* (a thread listing its last chunk may have lost its core on a loaded machine: after a
     short spin, yield ours to it) */
  for (int spins = 0; __atomic_load_n(&sh->listed, __ATOMIC_ACQUIRE) < rowsTotal; spins++) {
    if (spins < 4096) _mm_pause();
    else sched_yield();
  }
  if (__atomic_load_n(&sh->nanLevel, __ATOMIC_RELAXED)) return; /* the caller's general path runs */
  /* every thread derives the same block size from the same count */
  const double rate = (double)__atomic_load_n(&sh->eventCount, __ATOMIC_RELAXED) / ((double)rowsTotal * (double)j->K);
  const int64_t step = rate < WIDE_BLOCK_RATE ? 2 : 1; /* sub-blocks per k block */
  for (;;) {
    const int64_t it = __atomic_fetch_add(&sh->next_item, 1, __ATOMIC_RELAXED);
    if (it >= sh->items) break;
    const int64_t perB = sh->nT * sh->nRC;
    const int64_t b = it / perB, rest = it % perB;
    const int64_t tile = rest / sh->nRC, rc = rest % sh->nRC;
    const int64_t c0 = tile * TW;
    const int64_t w = j->C - c0 < TW ? j->C - c0 : TW;
    const int64_t r0 = rc * sh->rowsPerChunk;
    const int64_t r1 = r0 + sh->rowsPerChunk < j->R ? r0 + sh->rowsPerChunk : j->R;
    if (r0 < r1) run_item(sh, t, b, c0, w, r0, r1, step);
  }
}
#endif

/* spk_parallel's part t */
static void work_part(void* sh, int t) {
#if SPK_X86
  work((Shared*)sh, t);
#else
  (void)sh;
  (void)t;
#endif
}

/* Scratch of the calling OS thread (a JS thread: main or a worker), grown, never shrunk. */
static __thread void* tl_buf = NULL;
static __thread size_t tl_cap = 0;

static void* scratch(size_t bytes) {
  if (bytes <= tl_cap) return tl_buf;
  if (bytes > SIZE_MAX / 2) return NULL; /* the growth below would wrap */
  free(tl_buf);
  size_t cap = bytes + bytes / 4 + 4096;
  tl_buf = aligned_alloc(64, (cap + 63) & ~(size_t)63);
  tl_cap = tl_buf ? cap : 0;
  return tl_buf;
}

static int cpu_ok(void) {
#if SPK_X86
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
#else
  return 0;
#endif
}

/*
 * The kernel's weight layout: column tiles of TW, each [K, TW] row-major, the last one
 * zero-padded: dst[(t*K + k)*TW + c] = src[k*wrs + (t*TW + c)*wcs].
 */
static void pack_tiles(const float* src, int64_t K, int64_t C, int64_t wrs, int64_t wcs, float* dst) {
  const int64_t nT = (C + TW - 1) / TW;
  for (int64_t t = 0; t < nT; t++) {
    const int64_t c0 = t * TW, w = C - c0 < TW ? C - c0 : TW;
    float* d = dst + t * K * TW;
    if (wcs == 1) {
      for (int64_t k = 0; k < K; k++) {
        memcpy(d + k * TW, src + k * wrs + c0, (size_t)w * sizeof(float));
        if (w < TW) memset(d + k * TW + w, 0, (size_t)(TW - w) * sizeof(float));
      }
    } else {
      /* read down the source's columns in blocks of 16 k, so its lines are used whole */
      for (int64_t k0 = 0; k0 < K; k0 += 16) {
        const int64_t k1 = k0 + 16 < K ? k0 + 16 : K;
        for (int64_t c = 0; c < TW; c++)
          for (int64_t k = k0; k < k1; k++) d[k * TW + c] = c < w ? src[k * wrs + (c0 + c) * wcs] : 0.0f;
      }
    }
  }
}

/* ---- Node-API glue ---------------------------------------------------------------------- */

/*
 * Whether every element of n strided 2-D views (rows x cols, the b-th `stride` further on)
 * lies inside an array of `length` elements; all arguments are >= 0. The arithmetic is
 * checked: safe integers (up to 2^53) multiply past int64, and a wrapped index would pass.
 */
static int views_fit(int64_t n, int64_t stride, int64_t rows, int64_t cols, int64_t rs, int64_t cs, size_t length) {
  if (n <= 0 || rows <= 0 || cols <= 0) return 1;
  int64_t a, b, c, last;
  if (__builtin_mul_overflow(rows - 1, rs, &a) || __builtin_mul_overflow(cols - 1, cs, &b) || __builtin_mul_overflow(n - 1, stride, &c)) return 0;
  if (__builtin_add_overflow(a, b, &last) || __builtin_add_overflow(last, c, &last)) return 0;
  return (uint64_t)last < (uint64_t)length;
}

/* x * y * z as a byte or element count, or -1 when it does not fit in int64 (all >= 0). */
static int64_t product3(int64_t x, int64_t y, int64_t z) {
  int64_t p;
  if (__builtin_mul_overflow(x, y, &p) || __builtin_mul_overflow(p, z, &p)) return -1;
  return p;
}

/*
 * spikeOp(S, R, K, srs, scs, W, C, wrs, wcs, out, ors, ocs, scale | null, threads,
 *         n, sStride, wStride, oStride, wPacked)
 * Returns true, or false when S holds a NaN level (-128) somewhere in its view: then no
 * output is written and the caller runs its general path, which knows NaN's edges.
 * wPacked: W is already in the kernel's layout for (K, C) (pack below; one contraction),
 * and wrs, wcs, wStride are ignored.
 */
static napi_value spike_op_args(napi_env env, napi_callback_info info, bool affine) {
  const size_t want = affine ? 21 : 19;
  size_t argc = 21;
  napi_value a[21];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  if (argc != want) return spk_throw(env, affine ? "spikeOpAffine: 21 arguments expected" : "spikeOp: 19 arguments expected");
  bool wPacked = false;
  if (napi_get_value_bool(env, a[18], &wPacked) != napi_ok) return spk_throw(env, "spikeOp: wPacked must be a boolean");
  void *S, *W, *O, *SC = NULL;
  size_t sLen, wLen, oLen, scLen = 0;
  int64_t v[14];
  const int idx[14] = {1, 2, 3, 4, 6, 7, 8, 10, 11, 13, 14, 15, 16, 17};
  if (!spk_typed(env, a[0], napi_int8_array, &S, &sLen)) return spk_throw(env, "spikeOp: S must be an Int8Array");
  if (!spk_typed(env, a[5], napi_float32_array, &W, &wLen)) return spk_throw(env, "spikeOp: W must be a Float32Array");
  if (!spk_typed(env, a[9], napi_float32_array, &O, &oLen)) return spk_throw(env, "spikeOp: out must be a Float32Array");
  napi_valuetype st;
  napi_typeof(env, a[12], &st);
  /* whether a scale was passed: an empty array's data pointer may be NULL, so not `SC != NULL` */
  const bool hasScale = st != napi_null && st != napi_undefined;
  if (hasScale && !spk_typed(env, a[12], napi_float32_array, &SC, &scLen))
    return spk_throw(env, "spikeOp: scale must be a Float32Array or null");
  for (int i = 0; i < 14; i++)
    if (!spk_int(env, a[idx[i]], &v[i])) return spk_throw(env, "spikeOp: sizes and strides must be safe integers");
  Job j = {0};
  j.R = v[0]; j.K = v[1]; j.srs = v[2]; j.scs = v[3]; j.C = v[4];
  const int64_t wrs = v[5], wcs = v[6];
  j.ors = v[7]; j.ocs = v[8];
  int64_t threads = v[9];
  j.n = v[10]; j.sStride = v[11]; const int64_t wStride = v[12]; j.oStride = v[13];
  for (int i = 0; i < 14; i++)
    if (v[i] < 0) return spk_throw(env, "spikeOp: sizes and strides must be >= 0");
  if (j.R == 0 || j.C == 0 || j.n == 0) return spk_bool(env, true);
  if (j.K >= 0x7fffffffLL / TW) return spk_throw(env, "spikeOp: K too large for the native kernel");
  /* every index any contraction touches lies inside its array */
  const int64_t nT = (j.C + TW - 1) / TW;
  const int64_t packedLen = product3(nT, j.K, TW);
  if (wPacked && (j.n != 1 || packedLen < 0 || (uint64_t)packedLen > (uint64_t)wLen)) return spk_throw(env, "spikeOp: packed weights of another shape");
  if (!views_fit(j.n, j.sStride, j.R, j.K, j.srs, j.scs, sLen) || (!wPacked && !views_fit(j.n, wStride, j.K, j.C, wrs, wcs, wLen)) || !views_fit(j.n, j.oStride, j.R, j.C, j.ors, j.ocs, oLen))
    return spk_throw(env, "spikeOp: a strided view reaches past its array");
  /* the scratch's sizes (events, packed weights, accumulators) must not wrap: refused as too large */
  const int64_t evCount = product3(j.n, j.R, j.K), wCount = packedLen < 0 ? -1 : product3(j.n, packedLen, 1);
  if (evCount < 0 || evCount > MAX_SCRATCH_ELEMS || (!wPacked && (wCount < 0 || wCount > MAX_SCRATCH_ELEMS)))
    return spk_throw(env, "spikeOp: too large for the native kernel's scratch");
  if (hasScale && (int64_t)scLen < j.R) return spk_throw(env, "spikeOp: scale shorter than R");
  if (hasScale && j.n != 1) return spk_throw(env, "spikeOp: scale with a batch");
  if (affine) {
    /* bias: C floats; residual: null or a view laid out as out (it may be out itself) */
    void *B = NULL, *RS = NULL;
    size_t bLen = 0, rLen = 0;
    napi_valuetype rt;
    napi_typeof(env, a[20], &rt);
    const bool hasRes = rt != napi_null && rt != napi_undefined;
    if (!spk_typed(env, a[19], napi_float32_array, &B, &bLen) || (int64_t)bLen < j.C) return spk_throw(env, "spikeOpAffine: bias must be a Float32Array of at least C floats");
    if (hasRes && (!spk_typed(env, a[20], napi_float32_array, &RS, &rLen) || !views_fit(1, 0, j.R, j.C, j.ors, j.ocs, rLen)))
      return spk_throw(env, "spikeOpAffine: residual must be null or a Float32Array laid out as out");
    if (j.n != 1) return spk_throw(env, "spikeOpAffine: one contraction only");
    j.bias = (const float*)B;
    j.res = hasRes ? (const float*)RS : NULL;
  }
  if (!cpu_ok()) return spk_throw(env, "spikeOp: this CPU has no AVX-512");
  if (j.K == 0) {
    for (int64_t b = 0; b < j.n; b++)
      for (int64_t r = 0; r < j.R; r++)
        for (int64_t c = 0; c < j.C; c++) {
          float v = SC ? ((const float*)SC)[r] * 0.0f : 0.0f;
          if (j.bias) v = v + j.bias[c];
          if (j.res) v = j.res[r * j.ors + c * j.ocs] + v;
          ((float*)O)[b * j.oStride + r * j.ors + c * j.ocs] = v;
        }
    return spk_bool(env, true);
  }
  if (threads < 1) threads = 1;
  if (threads > SPK_MAX_THREADS) threads = SPK_MAX_THREADS;
  j.S = (const int8_t*)S; j.out = (float*)O; j.scale = (const float*)SC;

  int64_t nRC = nT * j.n >= 4 * threads ? 1 : (4 * threads + nT * j.n - 1) / (nT * j.n);
  if (nRC > j.R) nRC = j.R;
  const int64_t rowsPerChunk = (j.R + nRC - 1) / nRC;
  const int64_t nKB = (j.K + KBR - 1) / KBR;
  const size_t evBytes = (size_t)(j.n * j.R * j.K) * 4, bndBytes = (size_t)(j.n * j.R * (nKB + 1)) * 4, startBytes = (size_t)(j.n * j.R) * 8;
  const size_t wBytes = wPacked ? 0 : (size_t)(j.n * nT * j.K * TW) * 4;
  const size_t accBytes = (size_t)rowsPerChunk * TW * 4;
  const size_t align = 64;
#define UP(x) (((x) + align - 1) & ~(align - 1))
  const size_t total = UP(evBytes) + UP(bndBytes) + UP(startBytes) + UP(wBytes) + (size_t)threads * UP(accBytes);
  char* buf = (char*)scratch(total);
  if (!buf) return spk_throw(env, "spikeOp: out of memory for the native kernel's scratch");
  Shared sh;
  memset(&sh, 0, sizeof sh);
  sh.job = &j;
  sh.events = (uint32_t*)buf; buf += UP(evBytes);
  sh.bounds = (int32_t*)buf; buf += UP(bndBytes);
  sh.rowStart = (int64_t*)buf; buf += UP(startBytes);
  sh.nKB = nKB;
  if (!wPacked) {
    float* P = (float*)buf; buf += UP(wBytes);
    for (int64_t b = 0; b < j.n; b++) pack_tiles((const float*)W + b * wStride, j.K, j.C, wrs, wcs, P + b * nT * j.K * TW);
    j.W = P;
  } else {
    j.W = (const float*)W;
  }
  for (int t = 0; t < threads; t++) {
    sh.acc[t] = (float*)buf; buf += UP(accBytes);
  }
#undef UP
  sh.nRC = nRC; sh.rowsPerChunk = rowsPerChunk; sh.nT = nT; sh.items = j.n * nT * nRC;
  if (threads > sh.items) threads = (int)sh.items;
  sh.threads = (int)threads;
#if SPK_X86
  spk_parallel((int)threads, work_part, &sh);
  return spk_bool(env, !sh.nanLevel);
#else
  return spk_bool(env, false);
#endif
}

static napi_value spike_op(napi_env env, napi_callback_info info) {
  return spike_op_args(env, info, false);
}

/*
 * spikeOpAffine(the 19 arguments of spikeOp, bias, residual | null): spikeOp with the
 * product's epilogue in its store (store_affine): per column bias, then the residual (laid
 * out as out, or out itself). One contraction. Same return as spikeOp (false: nothing written).
 */
static napi_value spike_op_affine(napi_env env, napi_callback_info info) {
  return spike_op_args(env, info, true);
}

/* pack(W, K, C, wrs, wcs, dst): W [K, C] (through strides) in the kernel's layout into dst, of packedLength(K, C) floats. */
static napi_value pack(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value a[6];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  if (argc != 6) return spk_throw(env, "pack: 6 arguments expected");
  void *W, *D;
  size_t wLen, dLen;
  int64_t K, C, wrs, wcs;
  if (!spk_typed(env, a[0], napi_float32_array, &W, &wLen) || !spk_typed(env, a[5], napi_float32_array, &D, &dLen))
    return spk_throw(env, "pack: W and dst must be Float32Arrays");
  if (!spk_int(env, a[1], &K) || !spk_int(env, a[2], &C) || !spk_int(env, a[3], &wrs) || !spk_int(env, a[4], &wcs) || K < 0 || C < 0 || wrs < 0 || wcs < 0)
    return spk_throw(env, "pack: sizes and strides must be safe integers >= 0");
  if (K >= 0x7fffffffLL / TW) return spk_throw(env, "pack: K too large for the native kernel");
  const int64_t need = product3((C + TW - 1) / TW, K, TW);
  if (need < 0 || (uint64_t)need > (uint64_t)dLen || !views_fit(1, 0, K, C, wrs, wcs, wLen)) return spk_throw(env, "pack: a view reaches past its array");
  if (K == 0) return NULL; /* nothing to copy (and C may be up to 2^53: no walk over its empty tiles) */
  pack_tiles((const float*)W, K, C, wrs, wcs, (float*)D);
  return NULL;
}

static napi_value available(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value r;
  napi_get_boolean(env, cpu_ok(), &r);
  return r;
}

/* the other files' exports (vec_native.c) */
void spk_register_vec(napi_env env, napi_value exports);
/* float_native.c: GELU and softmax */
void spk_register_float(napi_env env, napi_value exports);
void spk_register_levels(napi_env env, napi_value exports);
void spk_register_copy(napi_env env, napi_value exports);

NAPI_MODULE_INIT() {
  spk_register_vec(env, exports);
  spk_register_float(env, exports);
  spk_register_levels(env, exports);
  spk_register_copy(env, exports);
  napi_value tile_width;
  napi_create_int32(env, TW, &tile_width);
  napi_property_descriptor d[] = {
    {"spikeOp", NULL, spike_op, NULL, NULL, NULL, napi_default, NULL},
    {"spikeOpAffine", NULL, spike_op_affine, NULL, NULL, NULL, napi_default, NULL},
    {"pack", NULL, pack, NULL, NULL, NULL, napi_default, NULL},
    {"available", NULL, available, NULL, NULL, NULL, napi_default, NULL},
    {"tileWidth", NULL, NULL, NULL, NULL, tile_width, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
  return exports;
}
