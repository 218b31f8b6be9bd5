/*
 * The elementwise vector machine of wasm-vector-wat.ts in native code (AVX-512, 16 float32
 * lanes), for neuron steps and fused elementwise programs: the same programs, the same bits,
 * read and written in place in the caller's typed arrays (no copy into a kernel memory).
 *
 * Every op is the WebAssembly op it replaces, lane for lane:
 *   add/sub/mul/div/sqrt  IEEE float32 (MXCSR as Node leaves it: no flush to zero)
 *   min/max               NaN if either is NaN, -0 < +0 (vrangeps orders the zeros; its NaN
 *                         case returns the other operand, so NaN lanes are set afterwards)
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
 *
 * How it runs (why it is fast without generating code): each call first translates the
 * program into micro-ops over an accumulator of one chunk (VCH = 256 elements = 16 AVX-512
 * registers): LOAD x, OP with a second operand, STORE. An instruction that reads the value
 * the previous one left in the accumulator takes it from there, and a register whose value
 * nobody reads again is never stored, so a chain such as
 *     mul r0 st1 st0; add st0 r0 in0; div r2 st0 r3; round r4 r2; max r5 r4 r6; min r5 r5 r7
 * runs as LOAD st1, MUL st0, ADD in0, STORE st0, DIV r3, ROUND, MAX r6, MIN r7 with the
 * chunk in registers throughout (the old machine stored and reloaded every intermediate).
 * A register written only by one splat that precedes all its reads is not filled at all:
 * its readers read the scalar, broadcast, from a per-call table of 16 copies per entry.
 * An i8 level store moves up to the instruction that computed its operand (so it stores
 * from the accumulator), and a max by a scalar straight followed by a min by a scalar (a
 * clamp) is one micro-op with one NaN fix-up instead of two.
 * The ops and their order are the program's, so the bits are too (a value kept in a
 * register instead of stored and reloaded is the same bits).
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

#define VCH 256          /* elements per chunk: a register's length */
#define VS (VCH / 16)    /* AVX-512 vectors per chunk: the accumulator */
#define VMAX_ARR 64      /* arrays of each kind */

enum { K_NONE = 0, K_REG, K_INPUT, K_STATE, K_PARAM, K_SCALAR, K_LEVELS, K_VALUE };
enum { OP_COPY = 0, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MIN, OP_MAX, OP_AT_LEAST, OP_NEG, OP_ABS, OP_ROUND,
       OP_SIGN, OP_HEAVISIDE, OP_RELU, OP_SQRT, OP_SPLAT, OP_I8, OP_CANON, N_OPS };

/* Instruction: 7 int32 words: op, dKind, dIndex, aKind, aIndex, bKind, bIndex. */
#define VW 7

/* Micro-ops over the accumulator. Binary ops compute acc op x; their _R forms x op acc (the
   operand order of the instruction, so NaN payloads and signed zeros are the program's). */
enum { U_LOAD = 0, U_STORE, U_STORE_I8, U_NEG, U_ABS, U_ROUND, U_SIGN, U_HEAVISIDE, U_RELU, U_SQRT, U_CANON,
       U_ADD, U_SUB, U_MUL, U_DIV, U_MIN, U_MAX, U_AT_LEAST,
       U_ADD_R, U_SUB_R, U_MUL_R, U_DIV_R, U_MIN_R, U_MAX_R, U_AT_LEAST_R,
       U_CLAMP /* min(max(acc, lo), hi), lo and hi scalars `delta` bytes apart in the wide table */ };

/* A micro-op and the address of its memory operand at step t (absolute), chunk at element e0:
   (inReg ? this thread's registers : base) + off + t * ts + e0 * ce bytes; the chunk's 16
   vectors are inc bytes apart (64, or 0 for a broadcast scalar). */
typedef struct {
  int32_t code, inReg;
  const char* base;
  int64_t off, ts, ce, inc, delta;
} UOp;

typedef struct {
  const UOp* uops; int32_t nUops;
  int64_t n;
  int64_t nChunks;
  int64_t t0, t1;
  int threads;
  char* scratch[SPK_MAX_THREADS];
} VecJob;

#if VEC_X86
#define VEC_TARGET __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

/* min/max of two vectors (vrangeps imm 4/5: the smaller/larger, -0 < +0; NaN lanes made NaN) */
VEC_TARGET static inline __m512 vmin(__m512 x, __m512 y, __m512 qnan) {
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, y, _CMP_UNORD_Q), _mm512_range_ps(x, y, 0x04), qnan);
}
VEC_TARGET static inline __m512 vmax(__m512 x, __m512 y, __m512 qnan) {
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, y, _CMP_UNORD_Q), _mm512_range_ps(x, y, 0x05), qnan);
}
/* i8: truncate with saturation, NaN -> -128. min(hi, x) keeps NaN (minps returns its second
   operand when one is NaN) and caps large values below 2^31; cvtt turns NaN and values below
   -2^31 into INT_MIN, which the saturating narrow makes -128, as trunc_sat + narrow do. */
VEC_TARGET static inline __m128i vi8(__m512 x) {
  return _mm512_cvtsepi32_epi8(_mm512_cvttps_epi32(_mm512_min_ps(_mm512_set1_ps(2147483520.0f), x)));
}

/* The micro-ops over one chunk at step t: `full` chunks (VCH elements) use whole-vector loads
   and stores, the last, shorter chunk masked ones (its lanes past len compute garbage nobody
   stores). Inlined twice, so each form is compiled with `full` a constant. The accumulator is
   16 named variables (EACH repeats a statement for vector 0..15): an array was kept on the
   stack by GCC, a load and a store per vector per micro-op. */
#define EACH(F) F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11) F(12) F(13) F(14) F(15)
VEC_TARGET static inline __attribute__((always_inline)) void run_uops(const VecJob* j, int64_t t, int64_t e0, char* regs, const int full, int64_t len) {
  const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f), mone = _mm512_set1_ps(-1.0f);
  const __m512 qnan = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fc00000));
  const __m512i signbit = _mm512_set1_epi32((int)0x80000000u);
#define DECL(s)                                                                                              \
  __m512 acc##s = zero;                                                                                      \
  const __mmask16 m##s = full || len - 16 * (s) >= 16 ? (__mmask16)0xffff                                   \
                                                      : len - 16 * (s) <= 0 ? (__mmask16)0                   \
                                                                            : (__mmask16)((1u << (len - 16 * (s))) - 1);
  EACH(DECL)
#undef DECL
#define LD(s) (full ? _mm512_loadu_ps((const float*)(p + (s) * inc)) : _mm512_maskz_loadu_ps(m##s, (const float*)(p + (s) * inc)))
  for (int32_t k = 0; k < j->nUops; k++) {
    const UOp* u = j->uops + k;
    /* integer arithmetic: a scalar's off is negative when t0 > 0 (it is counted from step 0) */
    const char* p = (const char*)((intptr_t)(u->inReg ? regs : u->base) + u->off + t * u->ts + e0 * u->ce);
    const int64_t inc = u->inc;
    switch (u->code) {
#define LOAD1(s) acc##s = LD(s);
      case U_LOAD: EACH(LOAD1) break;
#define STORE1(s) if (full) _mm512_storeu_ps((float*)(p + 64 * (s)), acc##s); else _mm512_mask_storeu_ps((float*)(p + 64 * (s)), m##s, acc##s);
      case U_STORE: EACH(STORE1) break;
#define STOREI8(s) if (full) _mm_storeu_si128((__m128i*)(p + 16 * (s)), vi8(acc##s)); else _mm_mask_storeu_epi8((void*)(p + 16 * (s)), m##s, vi8(acc##s));
      case U_STORE_I8: EACH(STOREI8) break;
#define U(s) { const __m512 x = acc##s; acc##s = EXPR_U; }
#define B(s) { const __m512 x = acc##s, y = LD(s); acc##s = EXPR_B; }
#define BR(s) { const __m512 x = LD(s), y = acc##s; acc##s = EXPR_B; }
#define EXPR_U _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), signbit))
      case U_NEG: EACH(U) break;
#undef EXPR_U
#define EXPR_U _mm512_castsi512_ps(_mm512_andnot_si512(signbit, _mm512_castps_si512(x)))
      case U_ABS: EACH(U) break;
#undef EXPR_U
#define EXPR_U _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)
      case U_ROUND: EACH(U) break;
#undef EXPR_U
#define EXPR_U _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, zero, _CMP_LT_OQ), _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, zero, _CMP_GT_OQ), zero, one), mone)
      case U_SIGN: EACH(U) break;
#undef EXPR_U
#define EXPR_U _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, zero, _CMP_GE_OQ), zero, one)
      case U_HEAVISIDE: EACH(U) break;
#undef EXPR_U
#define EXPR_U _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, zero, _CMP_LE_OQ), x, zero)
      case U_RELU: EACH(U) break;
#undef EXPR_U
#define EXPR_U _mm512_sqrt_ps(x)
      case U_SQRT: EACH(U) break;
#undef EXPR_U
#define EXPR_U _mm512_add_ps(x, zero)
      case U_CANON: EACH(U) break;
#undef EXPR_U
#define EXPR_B _mm512_add_ps(x, y)
      case U_ADD: EACH(B) break;
      case U_ADD_R: EACH(BR) break;
#undef EXPR_B
#define EXPR_B _mm512_sub_ps(x, y)
      case U_SUB: EACH(B) break;
      case U_SUB_R: EACH(BR) break;
#undef EXPR_B
#define EXPR_B _mm512_mul_ps(x, y)
      case U_MUL: EACH(B) break;
      case U_MUL_R: EACH(BR) break;
#undef EXPR_B
#define EXPR_B _mm512_div_ps(x, y)
      case U_DIV: EACH(B) break;
      case U_DIV_R: EACH(BR) break;
#undef EXPR_B
#define EXPR_B vmin(x, y, qnan)
      case U_MIN: EACH(B) break;
      case U_MIN_R: EACH(BR) break;
#undef EXPR_B
#define EXPR_B vmax(x, y, qnan)
      case U_MAX: EACH(B) break;
      case U_MAX_R: EACH(BR) break;
#undef EXPR_B
#define EXPR_B _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, y, _CMP_GT_OQ), y, x)
      case U_AT_LEAST: EACH(B) break;
      case U_AT_LEAST_R: EACH(BR) break;
#undef EXPR_B
      /* max then min by two scalars: when neither is NaN, a lane is NaN exactly when x is
         (vrangeps orders the zeros as max and min do), so one NaN fix-up serves both; when
         one is, max or min makes every lane NaN */
      case U_CLAMP: {
        const __m512 lo = _mm512_loadu_ps((const float*)p), hi = _mm512_loadu_ps((const float*)(p + u->delta));
        if (_mm512_cmp_ps_mask(lo, hi, _CMP_UNORD_Q)) {
#define QN(s) acc##s = qnan;
          EACH(QN)
#undef QN
        } else {
#define CL(s) acc##s = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(acc##s, acc##s, _CMP_UNORD_Q), _mm512_range_ps(_mm512_range_ps(acc##s, lo, 0x05), hi, 0x04), qnan);
          EACH(CL)
#undef CL
        }
      } break;
      default: break;
    }
  }
#undef LD
#undef LOAD1
#undef STORE1
#undef STOREI8
#undef U
#undef B
#undef BR
}

VEC_TARGET static void run_chunk_full(const VecJob* j, int64_t t, int64_t e0, char* regs) { run_uops(j, t, e0, regs, 1, VCH); }
VEC_TARGET static void run_chunk_part(const VecJob* j, int64_t t, int64_t e0, char* regs, int64_t len) { run_uops(j, t, e0, regs, 0, len); }

/* A contiguous range of chunks per thread (the work per chunk is uniform; interleaved
   chunks defeated the prefetchers and were slower on two threads than on one); steps inner,
   so a chunk's registers and states stay in L1 across the steps. */
static void vec_work(VecJob* j, int th) {
  const int64_t c0 = j->nChunks * th / j->threads, c1 = j->nChunks * (th + 1) / j->threads;
  for (int64_t c = c0; c < c1; c++) {
    const int64_t e0 = c * VCH, len = j->n - e0 < VCH ? j->n - e0 : VCH;
    for (int64_t t = j->t0; t < j->t1; t++) {
      if (len == VCH) run_chunk_full(j, t, e0, j->scratch[th]);
      else run_chunk_part(j, t, e0, j->scratch[th], len);
    }
  }
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

/* The call's arrays, for the translation into micro-ops. */
typedef struct {
  const int32_t* prog; int64_t nIns;
  float* inputs[VMAX_ARR]; int32_t nInputs;
  float* states[VMAX_ARR]; int32_t nStates;
  float* params[VMAX_ARR]; int32_t nParams;
  void* levels; int32_t levelsInt8;
  float* value;
  const float* wide;      /* the scalar table, each entry 16 times (one vector) */
  int64_t n, t0, scalars;
  unsigned char* dropped; /* splats not run: their register's readers read the scalar */
  int32_t* splatOf;       /* per register: 1 + the scalar its dropped splat held, or 0 */
} Tx;

typedef struct { int kind, index; } Loc;

static Loc loc(const Tx* x, int64_t ip, int s) {
  const int32_t* w = x->prog + ip * VW;
  Loc l = {w[1 + 2 * s], w[2 + 2 * s]};
  if (l.kind == K_LEVELS || l.kind == K_VALUE || l.kind == K_NONE) l.index = 0;
  return l;
}
static int same(Loc p, Loc q) { return p.kind == q.kind && p.index == q.index; }
static int is_binary(int op) { return op >= OP_ADD && op <= OP_AT_LEAST; }
static int x_op(const Tx* x, int64_t ip) { return x->prog[ip * VW]; }
static int reads(const Tx* x, int64_t ip, Loc l) {
  return same(loc(x, ip, 1), l) || (is_binary(x_op(x, ip)) && same(loc(x, ip, 2), l));
}
static int writes(const Tx* x, int64_t ip, Loc l) { return same(loc(x, ip, 0), l); }

/* Whether a step reads register l before writing it (it then carries a value across steps). */
static int live_in(const Tx* x, Loc l) {
  for (int64_t k = 0; k < x->nIns; k++) {
    if (x->dropped[k]) continue;
    if (reads(x, k, l)) return 1;
    if (writes(x, k, l)) return 0;
  }
  return 0;
}
/* Whether the value l holds after instruction ip is never read. */
static int dead_after(const Tx* x, Loc l, int64_t ip) {
  for (int64_t k = ip + 1; k < x->nIns; k++) {
    if (x->dropped[k]) continue;
    if (reads(x, k, l)) return 0;
    if (writes(x, k, l)) return 1;
  }
  return !live_in(x, l);
}
/* Whether instruction ip takes l from the accumulator (reads it in exactly one operand). */
static int consumes(const Tx* x, int64_t ip, Loc l) {
  if (ip >= x->nIns) return 0;
  const int op = x_op(x, ip);
  if (op == OP_SPLAT) return 0;
  if (!is_binary(op)) return same(loc(x, ip, 1), l);
  return same(loc(x, ip, 1), l) != same(loc(x, ip, 2), l);
}

static UOp uop_at(const Tx* x, int code, Loc l) {
  UOp u = {code, 0, NULL, 0, 0, 0, 64, 0};
  if (l.kind == K_REG && x->splatOf[l.index]) {
    l.kind = K_SCALAR;
    l.index = x->splatOf[l.index] - 1;
  }
  switch (l.kind) {
    case K_REG: u.inReg = 1; u.off = (int64_t)l.index * VCH * 4; break;
    case K_INPUT: u.base = (const char*)x->inputs[l.index]; u.ts = x->n * 4; u.ce = 4; break;
    case K_STATE: u.base = (const char*)x->states[l.index]; u.ce = 4; break;
    case K_PARAM: u.base = (const char*)x->params[l.index]; u.ce = 4; break;
    /* ((t - t0) * scalars + index) vectors into the wide table */
    case K_SCALAR: u.base = (const char*)x->wide; u.off = ((int64_t)l.index - x->t0 * x->scalars) * 64; u.ts = x->scalars * 64; u.inc = 0; break;
    case K_LEVELS: u.base = (const char*)x->levels; u.ts = x->levelsInt8 ? x->n : x->n * 4; u.ce = x->levelsInt8 ? 1 : 4; break;
    case K_VALUE: u.base = (const char*)x->value; u.ts = x->n * 4; u.ce = 4; break;
    default: break;
  }
  return u;
}

/*
 * Moves each i8 (a level store) up to just after the instruction that computed its operand,
 * when nothing in between writes that operand or touches the levels: the store then takes
 * the value from the accumulator, and the register often need not be stored at all. The
 * same values reach the same memory (nothing between reads the levels, and the operand is
 * unchanged), so the bits are the program's. `w` is a copy of the program, reordered in place.
 */
static void hoist_level_stores(int32_t* w, int64_t nIns) {
  for (int64_t i = 1; i < nIns; i++) {
    if (w[i * VW] != OP_I8) continue;
    const Tx x = {.prog = w, .nIns = nIns};
    const Loc a = loc(&x, i, 1), d = loc(&x, i, 0);
    int64_t p = i - 1;
    while (p >= 0 && !writes(&x, p, a) && !writes(&x, p, d) && !reads(&x, p, d)) p--;
    if (p < 0 || !writes(&x, p, a) || writes(&x, p, d) || reads(&x, p, d) || p + 1 == i) continue;
    int32_t ins[VW];
    memcpy(ins, w + i * VW, sizeof ins);
    memmove(w + (p + 2) * VW, w + (p + 1) * VW, (size_t)(i - p - 1) * VW * sizeof(int32_t));
    memcpy(w + (p + 1) * VW, ins, sizeof ins);
  }
}

/*
 * The program as micro-ops (see the header): out holds at least 3 per instruction; returns
 * how many. The accumulator holds the value of `acc` (the last destination written, or the
 * operand last loaded); a register destination is stored only if something reads that value
 * from memory: a later instruction other than the next one taking it from the accumulator,
 * or the next step (a register read before it is written).
 */
static int32_t translate(Tx* x, UOp* out) {
  static const int unary[N_OPS] = {[OP_NEG] = U_NEG, [OP_ABS] = U_ABS, [OP_ROUND] = U_ROUND, [OP_SIGN] = U_SIGN, [OP_HEAVISIDE] = U_HEAVISIDE,
                                   [OP_RELU] = U_RELU, [OP_SQRT] = U_SQRT, [OP_CANON] = U_CANON};
  /* splats whose register has no other writer and is read only after them */
  for (int64_t ip = 0; ip < x->nIns; ip++) {
    const Loc d = loc(x, ip, 0);
    if (x_op(x, ip) != OP_SPLAT || d.kind != K_REG || x->splatOf[d.index]) continue;
    int ok = 1;
    for (int64_t k = 0; k < x->nIns && ok; k++) ok = k == ip || (!writes(x, k, d) && (k > ip || !reads(x, k, d)));
    if (ok) {
      x->dropped[ip] = 1;
      x->splatOf[d.index] = 1 + loc(x, ip, 1).index;
    }
  }
  int32_t nu = 0;
  int have = 0;
  Loc acc = {K_NONE, 0};
  for (int64_t ip = 0; ip < x->nIns; ip++) {
    if (x->dropped[ip]) continue;
    const int op = x_op(x, ip);
    const Loc d = loc(x, ip, 0), a = loc(x, ip, 1), b = loc(x, ip, 2);
    const int ua = have && same(acc, a), ub = have && is_binary(op) && same(acc, b);
    if (op == OP_I8) {
      if (!ua) out[nu++] = uop_at(x, U_LOAD, a), acc = a, have = 1;
      out[nu++] = uop_at(x, U_STORE_I8, d);
      continue;
    }
    if (is_binary(op)) {
      const int code = U_ADD + (op - OP_ADD);
      if (ua && !ub) out[nu++] = uop_at(x, code, b);
      else if (ub && !ua) out[nu++] = uop_at(x, code + (U_ADD_R - U_ADD), a);
      else out[nu++] = uop_at(x, U_LOAD, a), out[nu++] = uop_at(x, code, b);
    } else {
      if (!ua || op == OP_SPLAT) out[nu++] = uop_at(x, U_LOAD, a);
      if (unary[op]) out[nu++] = uop_at(x, unary[op], a);
    }
    acc = d;
    have = 1;
    /* the readers that take d from the accumulator: level stores of it, then one op */
    int64_t last = ip, next = ip + 1;
    for (;; next++) {
      if (next < x->nIns && x->dropped[next]) continue;
      if (next < x->nIns && x_op(x, next) == OP_I8 && same(loc(x, next, 1), d)) {
        last = next;
        continue;
      }
      break;
    }
    int store = 1;
    if (d.kind == K_REG) store = consumes(x, next, d) ? !writes(x, next, d) && !dead_after(x, d, next) : !dead_after(x, d, last);
    if (store) out[nu++] = uop_at(x, U_STORE, d);
  }
  /* max by a scalar straight followed by min by a scalar (a clamp): one micro-op */
  int32_t kept = 0;
  for (int32_t k = 0; k < nu; k++) {
    if (k + 1 < nu && out[k].code == U_MAX && out[k + 1].code == U_MIN && out[k].inc == 0 && out[k + 1].inc == 0) { /* inc 0: both are scalars of the wide table */
      out[kept] = out[k];
      out[kept].code = U_CLAMP;
      out[kept++].delta = out[k + 1].off - out[k].off;
      k++;
      continue;
    }
    out[kept++] = out[k];
  }
  return kept;
}

static __thread char* vtl_buf = NULL;
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
  Tx x;
  memset(&x, 0, sizeof x);
  void* p;
  size_t len;
  int64_t nIns, regs, scalars, n, t0, t1, threads;
  if (!spk_typed(env, a[0], napi_int32_array, &p, &len)) return spk_throw(env, "vecRun: prog must be an Int32Array");
  x.prog = (const int32_t*)p;
  if (!spk_int(env, a[1], &nIns) || !spk_int(env, a[2], &regs) || !spk_int(env, a[3], &scalars) || !spk_int(env, a[10], &n) ||
      !spk_int(env, a[11], &t0) || !spk_int(env, a[12], &t1) || !spk_int(env, a[13], &threads))
    return spk_throw(env, "vecRun: counts must be safe integers");
  if (nIns < 0 || nIns > 65536 || regs < 0 || regs > 4096 || scalars < 0 || scalars > 65536 || n < 0 || t0 < 0 || t1 < t0 || (int64_t)len < nIns * VW)
    return spk_throw(env, "vecRun: bad counts");
  if (n == 0 || t1 == t0) return NULL;
  const int64_t rows = t1 * n; /* [T, n] arrays must hold steps up to t1 */
  if (!v_list(env, a[4], x.inputs, &x.nInputs, rows)) return spk_throw(env, "vecRun: inputs must be Float32Arrays of [T, n]");
  if (!v_list(env, a[5], x.states, &x.nStates, n)) return spk_throw(env, "vecRun: states must be Float32Arrays of [n]");
  if (!v_list(env, a[6], x.params, &x.nParams, n)) return spk_throw(env, "vecRun: params must be Float32Arrays of [n]");
  if (!spk_typed(env, a[7], napi_float32_array, &p, &len) || (int64_t)len < (t1 - t0) * scalars) return spk_throw(env, "vecRun: table too short");
  const float* table = (const float*)p;
  napi_valuetype vt;
  napi_typeof(env, a[8], &vt);
  if (vt != napi_null && vt != napi_undefined) {
    if (spk_typed(env, a[8], napi_int8_array, &p, &len)) x.levelsInt8 = 1;
    else if (spk_typed(env, a[8], napi_float32_array, &p, &len)) x.levelsInt8 = 0;
    else return spk_throw(env, "vecRun: levels must be an Int8Array or a Float32Array");
    if ((int64_t)len < rows) return spk_throw(env, "vecRun: levels shorter than [T, n]");
    x.levels = p;
  }
  napi_typeof(env, a[9], &vt);
  if (vt != napi_null && vt != napi_undefined) {
    if (!spk_typed(env, a[9], napi_float32_array, &p, &len) || (int64_t)len < rows) return spk_throw(env, "vecRun: value must be a Float32Array of [T, n]");
    x.value = (float*)p;
  }
  /* every operand names something that exists, with the right element type */
  for (int64_t ip = 0; ip < nIns; ip++) {
    const int32_t* w = x.prog + ip * VW;
    if (w[0] < 0 || w[0] >= N_OPS) return spk_throw(env, "vecRun: unknown op");
    for (int s = 0; s < 3; s++) {
      const int kind = w[1 + 2 * s], index = w[2 + 2 * s];
      const int used = s == 0 || s == 1 || is_binary(w[0]);
      if (!used) continue;
      int ok;
      switch (kind) {
        case K_REG: ok = index >= 0 && index < regs; break;
        case K_INPUT: ok = index >= 0 && index < x.nInputs; break;
        case K_STATE: ok = index >= 0 && index < x.nStates; break;
        case K_PARAM: ok = index >= 0 && index < x.nParams; break;
        case K_SCALAR: ok = s == 1 && w[0] == OP_SPLAT && index >= 0 && index < scalars; break;
        case K_LEVELS: ok = s == 0 && x.levels != NULL && (w[0] == OP_I8) == (x.levelsInt8 == 1); break;
        case K_VALUE: ok = s == 0 && x.value != NULL; break;
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
  x.nIns = nIns; x.n = n; x.t0 = t0; x.scalars = scalars;
  VecJob j;
  memset(&j, 0, sizeof j);
  j.n = n; j.t0 = t0; j.t1 = t1;
  j.nChunks = (n + VCH - 1) / VCH;
  if (threads < 1) threads = 1;
  if (threads > SPK_MAX_THREADS) threads = SPK_MAX_THREADS;
  if (threads > j.nChunks) threads = j.nChunks;
  j.threads = (int)threads;
  /* one block, 64-byte aligned parts: registers per thread, wide table, micro-ops, maps */
  const size_t per = (size_t)(regs > 0 ? regs : 1) * VCH * sizeof(float);
  const size_t wideBytes = (size_t)((t1 - t0) * scalars) * 64;
  const size_t uopBytes = ((size_t)(3 * nIns + 1) * sizeof(UOp) + 63) & ~(size_t)63;
  const size_t mapBytes = ((size_t)nIns + (size_t)regs * sizeof(int32_t) + 63) & ~(size_t)63;
  const size_t progBytes = ((size_t)nIns * VW * sizeof(int32_t) + 63) & ~(size_t)63;
  const size_t need = per * (size_t)threads + wideBytes + uopBytes + mapBytes + progBytes;
  if (need > vtl_cap) {
    free(vtl_buf);
    vtl_buf = (char*)aligned_alloc(64, (need + 63) & ~(size_t)63);
    vtl_cap = vtl_buf ? need : 0;
    if (!vtl_buf) return spk_throw(env, "vecRun: out of memory for registers");
  }
  for (int t = 0; t < threads; t++) j.scratch[t] = vtl_buf + (size_t)t * per;
  float* wide = (float*)(vtl_buf + per * (size_t)threads);
  for (int64_t i = 0; i < (t1 - t0) * scalars; i++)
    for (int l = 0; l < 16; l++) wide[i * 16 + l] = table[i];
  x.wide = wide;
  UOp* uops = (UOp*)((char*)wide + wideBytes);
  x.splatOf = (int32_t*)((char*)uops + uopBytes);
  x.dropped = (unsigned char*)(x.splatOf + regs);
  memset(x.splatOf, 0, mapBytes);
  int32_t* order = (int32_t*)((char*)x.splatOf + mapBytes);
  memcpy(order, x.prog, (size_t)nIns * VW * sizeof(int32_t));
  hoist_level_stores(order, nIns);
  x.prog = order;
  j.uops = uops;
  j.nUops = translate(&x, uops);
  spk_parallel((int)threads, vec_part, &j);
#else
  (void)threads;
  (void)table;
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
