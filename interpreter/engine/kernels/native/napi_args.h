/*
 * Argument helpers shared by the addon's C files (defined in napi_args.c): every entry point
 * reads its numbers and typed arrays through these, so a bad argument is a RangeError with a
 * message, never a crash.
 */
#ifndef SPK_NAPI_ARGS_H
#define SPK_NAPI_ARGS_H
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>

/* Throws a RangeError with `msg`; returns NULL for the entry point to return. */
napi_value spk_throw(napi_env env, const char* msg);
/* A JavaScript boolean. */
napi_value spk_bool(napi_env env, bool b);
/* A safe integer (|v| <= 2^53 - 1, no fraction) into *out; 0 when it is not one. */
int spk_int(napi_env env, napi_value v, int64_t* out);
/* A safe integer >= 0 into *out; 0 when it is not one. */
int spk_count(napi_env env, napi_value v, int64_t* out);
/* A typed array of kind `want`: its data (offset applied) and element count; 0 otherwise. */
int spk_typed(napi_env env, napi_value v, napi_typedarray_type want, void** data, size_t* length);
#endif
