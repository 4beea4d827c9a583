/* The table of real libc functions (real.h). */
#define _GNU_SOURCE
#include "real.h"

#include <dlfcn.h>
#include <stdatomic.h>

struct km_real_table km_real_fns;

#define KM_REAL_NAME(ret, name, params) #name,
const char *const km_real_names[] = {KM_REAL_FUNCS(KM_REAL_NAME) NULL};
#undef KM_REAL_NAME

/* glibc's first symbol version on each architecture: the pre-2.33 stat ABI (__xstat and friends)
 * is only there as a compat symbol, which dlsym without a version does not return. */
#if defined(__x86_64__)
#define KM_GLIBC_BASE "GLIBC_2.2.5"
#elif defined(__aarch64__)
#define KM_GLIBC_BASE "GLIBC_2.17"
#else
#error "the layer supports x86_64 and aarch64"
#endif

static int in_layer(void *p) {
  Dl_info mine, theirs;
  if (!p) return 0;
  if (!dladdr((void *)&km_real_resolve, &mine) || !dladdr(p, &theirs)) return 0;
  return mine.dli_fbase == theirs.dli_fbase;
}

void *km_real_resolve(const char *name, void **slot) {
  void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
  if (p) return p;
  p = dlsym(RTLD_NEXT, name);
  if (!p) p = dlvsym(RTLD_NEXT, name, KM_GLIBC_BASE);
  /* A lookup that found the layer's own hook would call itself forever. */
  if (in_layer(p)) p = NULL;
  if (p) __atomic_store_n(slot, p, __ATOMIC_RELEASE);
  return p;
}

void km_real_resolve_all(void) {
  void **slots = (void **)&km_real_fns;
  for (size_t i = 0; km_real_names[i]; i++) km_real_resolve(km_real_names[i], &slots[i]);
}
