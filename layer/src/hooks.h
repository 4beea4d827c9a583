/*
 * Shared by the hook files (hooks_*.c): each hook is thin. It checks whether the call is the
 * layer's, runs the logic under the guard (so libc calls the logic makes never re-enter a hook),
 * and otherwise calls the real function. Errors are -1 with errno, as libc reports them.
 */
#ifndef KM_HOOKS_H
#define KM_HOOKS_H

#include <errno.h>

#include "layer.h"
#include "real.h"

/** Runs `expr` (an int logic call) under the guard. */
#define KM_GUARDED(expr) ({ km_guard_enter(); __typeof__(expr) km_r_ = (expr); km_guard_leave(); km_r_; })

/** Turns a -errno result into -1 with errno (and keeps non-negative results). */
static inline int km_ret(int rc) {
  if (rc < 0) {
    errno = -rc;
    return -1;
  }
  return rc;
}

/**
 * The shared decision of the path hooks: 0 when the call is the user's machine's (call libc),
 * 1 when the layer answers: *rc_out is then the result (-errno on failure).
 */
int km_hook_open(int dirfd, const char *path, int flags, int *rc_out);
int km_hook_stat(int dirfd, const char *path, int follow, struct stat *st, int *rc_out);
int km_hook_fstat(int fd, struct stat *st);
int km_hook_statx(int dirfd, const char *path, int flags, struct statx *stx, int *rc_out);
int km_hook_access(int dirfd, const char *path, int mode, int *rc_out);
int km_hook_readlink(int dirfd, const char *path, char *buf, size_t size, ssize_t *rc_out);

#endif
