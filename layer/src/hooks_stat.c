/* Hooks: the stat family (both glibc ABIs), statx, libc's syscall(), access, readlink, realpath. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "files.h"
#include "hooks.h"
#include "paths.h"

/* On both targets struct stat and struct stat64 are one layout (and __xstat's version is the
 * kernel's), so one implementation serves every name. */
_Static_assert(sizeof(struct stat) == sizeof(struct stat64), "stat and stat64 differ");

/* The path half of every stat hook: 0 when the path stays local; else 1, with *rc_out 0 (and *r
 * filled) or -errno (a not_found path, or the remote answer). */
static int path_stat(int dirfd, const char *path, int follow, struct km_msg_stat_ok *r, int *rc_out) {
  char abs[PATH_MAX];
  int err, handled = 1;
  km_guard_enter();
  enum km_where where = km_path_where(dirfd, path, abs, &err);
  if (where == KM_LOCAL) {
    handled = 0;
  } else if (where == KM_NOT_FOUND) {
    *rc_out = -(err ? err : ENOENT);
  } else {
    *rc_out = km_remote_stat(abs, follow, r);
  }
  km_guard_leave();
  return handled;
}

int km_hook_stat(int dirfd, const char *path, int follow, struct stat *st, int *rc_out) {
  if (!km_on() || !path) return 0;
  struct km_msg_stat_ok r;
  if (!path_stat(dirfd, path, follow, &r, rc_out)) return 0;
  if (*rc_out == 0) km_fill_stat(&r, st);
  return 1;
}

/* 1 (and *st filled) when fd stands for a remote file or directory. */
int km_hook_fstat(int fd, struct stat *st) {
  if (!km_on()) return 0;
  struct km_msg_stat_ok r;
  if (!KM_GUARDED(km_fd_remote_stat(fd, &r))) return 0;
  km_fill_stat(&r, st);
  return 1;
}

static int fstatat_common(int dirfd, const char *path, struct stat *st, int flags) {
  if (path && path[0] == 0 && (flags & AT_EMPTY_PATH) && km_hook_fstat(dirfd, st)) return 0;
  int rc;
  if (km_hook_stat(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), st, &rc)) return km_ret(rc);
  return KM_REAL(fstatat)(dirfd, path, st, flags);
}

KM_EXPORT int stat(const char *path, struct stat *st) {
  int rc;
  if (km_hook_stat(AT_FDCWD, path, 1, st, &rc)) return km_ret(rc);
  return KM_REAL(stat)(path, st);
}
KM_EXPORT int stat64(const char *path, struct stat64 *st) {
  int rc;
  if (km_hook_stat(AT_FDCWD, path, 1, (struct stat *)st, &rc)) return km_ret(rc);
  return KM_REAL(stat64)(path, st);
}
KM_EXPORT int lstat(const char *path, struct stat *st) {
  int rc;
  if (km_hook_stat(AT_FDCWD, path, 0, st, &rc)) return km_ret(rc);
  return KM_REAL(lstat)(path, st);
}
KM_EXPORT int lstat64(const char *path, struct stat64 *st) {
  int rc;
  if (km_hook_stat(AT_FDCWD, path, 0, (struct stat *)st, &rc)) return km_ret(rc);
  return KM_REAL(lstat64)(path, st);
}
KM_EXPORT int fstat(int fd, struct stat *st) {
  if (km_hook_fstat(fd, st)) return 0;
  return KM_REAL(fstat)(fd, st);
}
KM_EXPORT int fstat64(int fd, struct stat64 *st) {
  if (km_hook_fstat(fd, (struct stat *)st)) return 0;
  return KM_REAL(fstat64)(fd, st);
}
KM_EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags) {
  return fstatat_common(dirfd, path, st, flags);
}
KM_EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags) {
  return fstatat_common(dirfd, path, (struct stat *)st, flags);
}

/* The pre-2.33 ABI: binaries linked against an older glibc import these. */
KM_EXPORT int __xstat(int ver, const char *path, struct stat *st) {
  int rc;
  if (km_hook_stat(AT_FDCWD, path, 1, st, &rc)) return km_ret(rc);
  return KM_REAL(__xstat) ? KM_REAL(__xstat)(ver, path, st) : KM_REAL(stat)(path, st);
}
KM_EXPORT int __xstat64(int ver, const char *path, struct stat64 *st) {
  int rc;
  if (km_hook_stat(AT_FDCWD, path, 1, (struct stat *)st, &rc)) return km_ret(rc);
  return KM_REAL(__xstat64) ? KM_REAL(__xstat64)(ver, path, st) : KM_REAL(stat64)(path, st);
}
KM_EXPORT int __lxstat(int ver, const char *path, struct stat *st) {
  int rc;
  if (km_hook_stat(AT_FDCWD, path, 0, st, &rc)) return km_ret(rc);
  return KM_REAL(__lxstat) ? KM_REAL(__lxstat)(ver, path, st) : KM_REAL(lstat)(path, st);
}
KM_EXPORT int __lxstat64(int ver, const char *path, struct stat64 *st) {
  int rc;
  if (km_hook_stat(AT_FDCWD, path, 0, (struct stat *)st, &rc)) return km_ret(rc);
  return KM_REAL(__lxstat64) ? KM_REAL(__lxstat64)(ver, path, st) : KM_REAL(lstat64)(path, st);
}
KM_EXPORT int __fxstat(int ver, int fd, struct stat *st) {
  if (km_hook_fstat(fd, st)) return 0;
  return KM_REAL(__fxstat) ? KM_REAL(__fxstat)(ver, fd, st) : KM_REAL(fstat)(fd, st);
}
KM_EXPORT int __fxstat64(int ver, int fd, struct stat64 *st) {
  if (km_hook_fstat(fd, (struct stat *)st)) return 0;
  return KM_REAL(__fxstat64) ? KM_REAL(__fxstat64)(ver, fd, st) : KM_REAL(fstat64)(fd, st);
}
KM_EXPORT int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags) {
  if (!KM_REAL(__fxstatat)) return fstatat_common(dirfd, path, st, flags);
  if (path && path[0] == 0 && (flags & AT_EMPTY_PATH) && km_hook_fstat(dirfd, st)) return 0;
  int rc;
  if (km_hook_stat(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), st, &rc)) return km_ret(rc);
  return KM_REAL(__fxstatat)(ver, dirfd, path, st, flags);
}
KM_EXPORT int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags) {
  return __fxstatat(ver, dirfd, path, (struct stat *)st, flags);
}

int km_hook_statx(int dirfd, const char *path, int flags, struct statx *stx, int *rc_out) {
  if (!km_on() || !path || !stx) return 0;
  struct km_msg_stat_ok r;
  if (path[0] == 0 && (flags & AT_EMPTY_PATH)) {
    if (!KM_GUARDED(km_fd_remote_stat(dirfd, &r))) return 0;
    km_fill_statx(&r, stx);
    *rc_out = 0;
    return 1;
  }
  if (!path_stat(dirfd, path, !(flags & AT_SYMLINK_NOFOLLOW), &r, rc_out)) return 0;
  if (*rc_out == 0) km_fill_statx(&r, stx);
  return 1;
}

KM_EXPORT int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *stx) {
  int rc;
  if (km_hook_statx(dirfd, path, flags, stx, &rc)) return km_ret(rc);
  if (!KM_REAL(statx)) {
    errno = ENOSYS;
    return -1;
  }
  return KM_REAL(statx)(dirfd, path, flags, mask, stx);
}

/*
 * libc's syscall(): libuv (so Node) calls statx through it, and others call openat or
 * newfstatat this way. Everything else goes straight on, with all six argument registers.
 */
KM_EXPORT long syscall(long number, ...) {
  va_list ap;
  va_start(ap, number);
  long a[6];
  for (int i = 0; i < 6; i++) a[i] = va_arg(ap, long);
  va_end(ap);
  int rc;
  if (km_on()) {
    switch (number) {
      case SYS_statx:
        if (km_hook_statx((int)a[0], (const char *)a[1], (int)a[2], (struct statx *)a[4], &rc)) return km_ret(rc);
        break;
      case SYS_newfstatat:
        if (((const char *)a[1]) && ((const char *)a[1])[0] == 0 && ((int)a[3] & AT_EMPTY_PATH) &&
            km_hook_fstat((int)a[0], (struct stat *)a[2]))
          return 0;
        if (km_hook_stat((int)a[0], (const char *)a[1], !((int)a[3] & AT_SYMLINK_NOFOLLOW), (struct stat *)a[2], &rc))
          return km_ret(rc);
        break;
      case SYS_openat:
        if (km_hook_open((int)a[0], (const char *)a[1], (int)a[2], &rc)) return km_ret(rc);
        break;
      case SYS_fstat:
        if (km_hook_fstat((int)a[0], (struct stat *)a[1])) return 0;
        break;
#ifdef SYS_open
      case SYS_open:
        if (km_hook_open(AT_FDCWD, (const char *)a[0], (int)a[1], &rc)) return km_ret(rc);
        break;
#endif
      default:
        break;
    }
  }
  return KM_REAL(syscall)(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

int km_hook_access(int dirfd, const char *path, int mode, int *rc_out) {
  if (!km_on() || !path) return 0;
  char abs[PATH_MAX];
  int err, handled = 1;
  km_guard_enter();
  enum km_where where = km_path_where(dirfd, path, abs, &err);
  if (where == KM_LOCAL) handled = 0;
  else if (where == KM_NOT_FOUND) *rc_out = -(err ? err : ENOENT);
  /* Asking for write access to a remote file: writes go to the user's machine. */
  else if (mode & W_OK) handled = 0;
  else *rc_out = km_remote_access(abs, mode);
  km_guard_leave();
  return handled;
}

KM_EXPORT int access(const char *path, int mode) {
  int rc;
  if (km_hook_access(AT_FDCWD, path, mode, &rc)) return km_ret(rc);
  return KM_REAL(access)(path, mode);
}
KM_EXPORT int faccessat(int dirfd, const char *path, int mode, int flags) {
  int rc;
  if (km_hook_access(dirfd, path, mode, &rc)) return km_ret(rc);
  return KM_REAL(faccessat)(dirfd, path, mode, flags);
}
KM_EXPORT int euidaccess(const char *path, int mode) {
  int rc;
  if (km_hook_access(AT_FDCWD, path, mode, &rc)) return km_ret(rc);
  return KM_REAL(euidaccess)(path, mode);
}
KM_EXPORT int eaccess(const char *path, int mode) {
  int rc;
  if (km_hook_access(AT_FDCWD, path, mode, &rc)) return km_ret(rc);
  return KM_REAL(eaccess)(path, mode);
}

int km_hook_readlink(int dirfd, const char *path, char *buf, size_t size, ssize_t *rc_out) {
  if (!km_on() || !path) return 0;
  char abs[PATH_MAX];
  int err, handled = 1;
  km_guard_enter();
  enum km_where where = km_path_where(dirfd, path, abs, &err);
  if (where == KM_LOCAL) handled = 0;
  else if (where == KM_NOT_FOUND) *rc_out = -(err ? err : ENOENT);
  else *rc_out = km_remote_readlink(abs, buf, size);
  km_guard_leave();
  return handled;
}

static ssize_t ret_ssize(ssize_t rc) {
  if (rc < 0) {
    errno = (int)-rc;
    return -1;
  }
  return rc;
}

KM_EXPORT ssize_t readlink(const char *path, char *buf, size_t size) {
  ssize_t rc;
  if (km_hook_readlink(AT_FDCWD, path, buf, size, &rc)) return ret_ssize(rc);
  return KM_REAL(readlink)(path, buf, size);
}
KM_EXPORT ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size) {
  ssize_t rc;
  if (km_hook_readlink(dirfd, path, buf, size, &rc)) return ret_ssize(rc);
  return KM_REAL(readlinkat)(dirfd, path, buf, size);
}
KM_EXPORT ssize_t __readlink_chk(const char *path, char *buf, size_t size, size_t buflen) {
  ssize_t rc;
  if (size <= buflen && km_hook_readlink(AT_FDCWD, path, buf, size, &rc)) return ret_ssize(rc);
  return KM_REAL(__readlink_chk)(path, buf, size, buflen);
}
KM_EXPORT ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t size, size_t buflen) {
  ssize_t rc;
  if (size <= buflen && km_hook_readlink(dirfd, path, buf, size, &rc)) return ret_ssize(rc);
  return KM_REAL(__readlinkat_chk)(dirfd, path, buf, size, buflen);
}

/* 1 when the layer answered (the result or NULL with errno in *out). */
static int realpath_remote(const char *path, char *resolved, char **out) {
  if (!km_on() || !path || path[0] != '/') return 0;
  char abs[PATH_MAX], real[PATH_MAX];
  int err, handled = 1;
  km_guard_enter();
  enum km_where where = km_path_where(AT_FDCWD, path, abs, &err);
  int rc = 0;
  if (where == KM_LOCAL) handled = 0;
  else if (where == KM_NOT_FOUND) rc = -(err ? err : ENOENT);
  else rc = km_remote_realpath(abs, real);
  km_guard_leave();
  if (!handled) return 0;
  *out = NULL;
  if (rc < 0) {
    errno = -rc;
  } else if (resolved) {
    *out = strcpy(resolved, real);
  } else {
    *out = strdup(real);
    if (!*out) errno = ENOMEM;
  }
  return 1;
}

KM_EXPORT char *realpath(const char *path, char *resolved) {
  char *out;
  if (realpath_remote(path, resolved, &out)) return out;
  return KM_REAL(realpath)(path, resolved);
}
KM_EXPORT char *__realpath_chk(const char *path, char *resolved, size_t resolved_len) {
  char *out;
  if (resolved_len >= PATH_MAX && realpath_remote(path, resolved, &out)) return out;
  return KM_REAL(__realpath_chk)(path, resolved, resolved_len);
}
KM_EXPORT char *canonicalize_file_name(const char *path) {
  char *out;
  if (realpath_remote(path, NULL, &out)) return out;
  return KM_REAL(canonicalize_file_name)(path);
}
