/*
 * The CLI's memory addon: malloc_trim(3) for Node, which has no binding for it.
 *
 * glibc gives freed memory back to the kernel only from the top of an arena. The buffers of a
 * transfer are freed in whatever order their garbage collection reaches them, so after one the
 * arenas are mostly holes that stay resident. malloc_trim(0) returns every whole free page of every
 * arena (madvise MADV_DONTNEED, glibc 2.8 and later). src/cli/idle-collector.ts calls it once the
 * CLI is quiet, after a full garbage collection has freed the buffers.
 *
 * Node-API only (node_api.h, the ABI-stable C interface), so one build serves every Node 24 binary
 * of its architecture, the single executable included.
 */
#include <malloc.h>
#include <node_api.h>

/* trim(): true if memory was given back to the kernel. */
static napi_value trim(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  if (napi_get_boolean(env, malloc_trim(0) == 1, &result) != napi_ok) return NULL;
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "trim", NAPI_AUTO_LENGTH, trim, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "trim", fn) != napi_ok) return NULL;
  return exports;
}
