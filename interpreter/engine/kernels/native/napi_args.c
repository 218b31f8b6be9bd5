/* The addon's argument helpers: see napi_args.h. */
#include "napi_args.h"

napi_value spk_throw(napi_env env, const char* msg) {
  napi_throw_range_error(env, NULL, msg);
  return NULL;
}

napi_value spk_bool(napi_env env, bool b) {
  napi_value r;
  napi_get_boolean(env, b, &r);
  return r;
}

int spk_int(napi_env env, napi_value v, int64_t* out) {
  double d;
  if (napi_get_value_double(env, v, &d) != napi_ok) return 0;
  if (!(d >= -9007199254740991.0 && d <= 9007199254740991.0) || d != (double)(int64_t)d) return 0;
  *out = (int64_t)d;
  return 1;
}

int spk_count(napi_env env, napi_value v, int64_t* out) {
  int64_t x;
  if (!spk_int(env, v, &x) || x < 0) return 0;
  *out = x;
  return 1;
}

int spk_typed(napi_env env, napi_value v, napi_typedarray_type want, void** data, size_t* length) {
  bool is;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, length, data, &ab, &off) != napi_ok) return 0;
  return type == want;
}
