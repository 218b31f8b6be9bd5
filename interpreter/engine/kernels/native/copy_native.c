/*
 * Strided copies for layout ops (split/merge heads, transposes, slices) in native code: the
 * same walk as engine/fast/permute.ts `stridedCopy` (the output in order, an odometer over
 * the input), with each contiguous run of the last axis one memcpy. A copy moves bits, so
 * it is exact for every value (NaN payloads, -0, subnormals included).
 */
#include "napi_args.h"
#include <stdint.h>
#include <string.h>

#define CP_MAX_RANK 16

/* Element size of a typed array of the kinds the layout ops use; 0 for others. */
static size_t cp_elem(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: case napi_uint8_array: return 1;
    case napi_float32_array: case napi_int32_array: case napi_uint32_array: return 4;
    default: return 0;
  }
}

/* stridedCopy(x, offset, shape Int32Array-like array, strides array, out): see the header. */
static napi_value strided_copy(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value a[5];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  if (argc != 5) return spk_throw(env, "stridedCopy: 5 arguments expected");
  bool is;
  napi_typedarray_type tx, to;
  size_t nx, no, off;
  void *px, *po;
  napi_value ab;
  if (napi_is_typedarray(env, a[0], &is) != napi_ok || !is || napi_get_typedarray_info(env, a[0], &tx, &nx, &px, &ab, &off) != napi_ok)
    return spk_throw(env, "stridedCopy: x must be a typed array");
  if (napi_is_typedarray(env, a[4], &is) != napi_ok || !is || napi_get_typedarray_info(env, a[4], &to, &no, &po, &ab, &off) != napi_ok)
    return spk_throw(env, "stridedCopy: out must be a typed array");
  const size_t es = cp_elem(tx);
  if (es == 0 || cp_elem(to) != es || tx != to) return spk_throw(env, "stridedCopy: x and out must be typed arrays of the same kind");
  int64_t offset;
  if (!spk_count(env, a[1], &offset)) return spk_throw(env, "stridedCopy: offset must be a safe integer >= 0");
  uint32_t r, r2;
  if (napi_is_array(env, a[2], &is) != napi_ok || !is || napi_get_array_length(env, a[2], &r) != napi_ok) return spk_throw(env, "stridedCopy: shape must be an array");
  if (napi_is_array(env, a[3], &is) != napi_ok || !is || napi_get_array_length(env, a[3], &r2) != napi_ok || r2 != r) return spk_throw(env, "stridedCopy: strides must be an array as long as shape");
  if (r > CP_MAX_RANK) return spk_throw(env, "stridedCopy: rank too large");
  int64_t shape[CP_MAX_RANK], strides[CP_MAX_RANK];
  int64_t total = 1, last = offset;
  for (uint32_t i = 0; i < r; i++) {
    napi_value e;
    if (napi_get_element(env, a[2], i, &e) != napi_ok || !spk_count(env, e, &shape[i])) return spk_throw(env, "stridedCopy: shape entries must be safe integers >= 0");
    if (napi_get_element(env, a[3], i, &e) != napi_ok || !spk_count(env, e, &strides[i])) return spk_throw(env, "stridedCopy: strides must be safe integers >= 0");
  }
  for (uint32_t i = 0; i < r; i++) {
    int64_t span;
    if (shape[i] == 0) { total = 0; break; }
    if (__builtin_mul_overflow(total, shape[i], &total) || __builtin_mul_overflow(shape[i] - 1, strides[i], &span) || __builtin_add_overflow(last, span, &last))
      return spk_throw(env, "stridedCopy: view too large");
  }
  if (total == 0) return NULL;
  if ((int64_t)no < total || last >= (int64_t)nx) return spk_throw(env, "stridedCopy: a view reaches past its array");
  const char* x = (const char*)px;
  char* o = (char*)po;
  if (r == 0) { memcpy(o, x + offset * es, es); return NULL; }
  const int64_t run = shape[r - 1], rs = strides[r - 1];
  int64_t idx[CP_MAX_RANK] = {0};
  int64_t base = offset;
  for (int64_t w = 0; w < total; w += run) {
    if (rs == 1) memcpy(o + w * es, x + base * es, (size_t)run * es);
    else if (es == 4) { const uint32_t* s = (const uint32_t*)x + base; uint32_t* d = (uint32_t*)o + w; for (int64_t j = 0; j < run; j++) d[j] = s[j * rs]; }
    else { const uint8_t* s = (const uint8_t*)x + base; uint8_t* d = (uint8_t*)o + w; for (int64_t j = 0; j < run; j++) d[j] = s[j * rs]; }
    for (int ax = (int)r - 2; ax >= 0; ax--) {
      idx[ax]++;
      base += strides[ax];
      if (idx[ax] < shape[ax]) break;
      base -= strides[ax] * shape[ax];
      idx[ax] = 0;
    }
  }
  return NULL;
}

/*
 * gather(x Float32Array, tab Int32Array, n, out Float32Array): out[i] = x[tab[i]] for i < n
 * (a broadcast operand expanded through the executor's offset table). Every index is
 * checked: one outside x is a RangeError, with nothing written.
 */
static napi_value gather(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value a[4];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  if (argc != 4) return spk_throw(env, "gather: 4 arguments expected");
  void *px, *pt, *po;
  size_t nx, nt, no;
  if (!spk_typed(env, a[0], napi_float32_array, &px, &nx)) return spk_throw(env, "gather: x must be a Float32Array");
  if (!spk_typed(env, a[1], napi_int32_array, &pt, &nt)) return spk_throw(env, "gather: tab must be an Int32Array");
  if (!spk_typed(env, a[3], napi_float32_array, &po, &no)) return spk_throw(env, "gather: out must be a Float32Array");
  int64_t n;
  if (!spk_count(env, a[2], &n)) return spk_throw(env, "gather: n must be a safe integer >= 0");
  if ((int64_t)nt < n || (int64_t)no < n) return spk_throw(env, "gather: tab or out shorter than n");
  const int32_t* t = (const int32_t*)pt;
  uint32_t worst = 0;
  for (int64_t i = 0; i < n; i++) worst |= (uint32_t)t[i] >= (uint32_t)nx; /* negative wraps high */
  if (worst) return spk_throw(env, "gather: an index outside x");
  const float* x = (const float*)px;
  float* o = (float*)po;
  for (int64_t i = 0; i < n; i++) o[i] = x[t[i]];
  return NULL;
}

/*
 * lineOffset(buffer): bytes from the start of an ArrayBuffer's data to the first 64-byte
 * boundary in it (0 to 63). V8 places backing stores on 16-byte boundaries only, and an
 * AVX-512 load that straddles two cache lines costs two: the spike accumulate runs at half
 * speed from a misaligned packed weight. Backing stores never move, so a view made at this
 * offset stays aligned (native-backend.ts alignedArray).
 */
static napi_value line_offset(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value a[1];
  napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  bool is = false;
  if (argc != 1 || napi_is_arraybuffer(env, a[0], &is) != napi_ok || !is) return spk_throw(env, "lineOffset: an ArrayBuffer expected");
  void* data = NULL;
  size_t len = 0;
  if (napi_get_arraybuffer_info(env, a[0], &data, &len) != napi_ok) return spk_throw(env, "lineOffset: an ArrayBuffer expected");
  napi_value r;
  napi_create_int32(env, (int32_t)((64 - ((uintptr_t)data & 63)) & 63), &r);
  return r;
}

void spk_register_copy(napi_env env, napi_value exports) {
  napi_property_descriptor d[] = {
    {"lineOffset", NULL, line_offset, NULL, NULL, NULL, napi_default, NULL},
    {"stridedCopy", NULL, strided_copy, NULL, NULL, NULL, napi_default, NULL},
    {"gather", NULL, gather, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof d / sizeof d[0], d);
}
