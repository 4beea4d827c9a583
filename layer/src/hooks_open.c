/* Hooks: open family, stdio opens, close and dup (the fd table follows them). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "fdtab.h"
#include "files.h"
#include "hooks.h"
#include "link.h"
#include "paths.h"

int km_hook_open(int dirfd, const char *path, int flags, int *rc_out) {
  if (!km_on() || !path) return 0;
  char abs[PATH_MAX];
  int err;
  km_guard_enter();
  int handled = 1;
  enum km_where where = km_path_where(dirfd, path, abs, &err);
  if (where == KM_LOCAL) handled = 0;
  else if (where == KM_NOT_FOUND) *rc_out = -(err ? err : ENOENT);
  /* Writes stay on the user's machine, as in mirrord's read mode: the file there is opened. */
  else if (km_open_writes(flags)) handled = 0;
  else *rc_out = km_remote_open(abs, flags);
  km_guard_leave();
  return handled;
}

static mode_t mode_arg(int flags, va_list ap) {
  return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

#define KM_OPEN_HOOK(name)                             \
  KM_EXPORT int name(const char *path, int flags, ...) { \
    va_list ap;                                        \
    va_start(ap, flags);                               \
    mode_t mode = mode_arg(flags, ap);                 \
    va_end(ap);                                        \
    int rc;                                            \
    if (km_hook_open(AT_FDCWD, path, flags, &rc)) return km_ret(rc); \
    return KM_REAL(name)(path, flags, mode);           \
  }
KM_OPEN_HOOK(open)
KM_OPEN_HOOK(open64)

#define KM_OPENAT_HOOK(name)                                      \
  KM_EXPORT int name(int dirfd, const char *path, int flags, ...) { \
    va_list ap;                                                   \
    va_start(ap, flags);                                          \
    mode_t mode = mode_arg(flags, ap);                            \
    va_end(ap);                                                   \
    int rc;                                                       \
    if (km_hook_open(dirfd, path, flags, &rc)) return km_ret(rc); \
    return KM_REAL(name)(dirfd, path, flags, mode);               \
  }
KM_OPENAT_HOOK(openat)
KM_OPENAT_HOOK(openat64)

/* The _FORTIFY_SOURCE variants: the same, without a mode. */
KM_EXPORT int __open_2(const char *path, int flags) {
  int rc;
  if (km_hook_open(AT_FDCWD, path, flags, &rc)) return km_ret(rc);
  return KM_REAL(__open_2)(path, flags);
}
KM_EXPORT int __open64_2(const char *path, int flags) {
  int rc;
  if (km_hook_open(AT_FDCWD, path, flags, &rc)) return km_ret(rc);
  return KM_REAL(__open64_2)(path, flags);
}
KM_EXPORT int __openat_2(int dirfd, const char *path, int flags) {
  int rc;
  if (km_hook_open(dirfd, path, flags, &rc)) return km_ret(rc);
  return KM_REAL(__openat_2)(dirfd, path, flags);
}
KM_EXPORT int __openat64_2(int dirfd, const char *path, int flags) {
  int rc;
  if (km_hook_open(dirfd, path, flags, &rc)) return km_ret(rc);
  return KM_REAL(__openat64_2)(dirfd, path, flags);
}

/* fopen's mode string as open(2) flags (glibc's rules: r, w, a, +, x, e). */
static int fopen_flags(const char *mode) {
  int flags = 0;
  switch (mode ? mode[0] : 'r') {
    case 'w': flags = O_WRONLY | O_CREAT | O_TRUNC; break;
    case 'a': flags = O_WRONLY | O_CREAT | O_APPEND; break;
    default: flags = O_RDONLY; break;
  }
  for (const char *p = mode ? mode + 1 : ""; *p && *p != ','; p++) {
    if (*p == '+') flags = (flags & ~O_ACCMODE) | O_RDWR;
    if (*p == 'e') flags |= O_CLOEXEC;
    if (*p == 'x') flags |= O_EXCL;
  }
  return flags;
}

/* A remote fopen: the memfd, wrapped by libc's own fdopen. NULL with errno on failure. */
static int fopen_remote(const char *path, const char *mode, FILE **out) {
  int rc;
  if (!km_hook_open(AT_FDCWD, path, fopen_flags(mode), &rc)) return 0;
  if (rc < 0) {
    errno = -rc;
    *out = NULL;
    return 1;
  }
  *out = KM_GUARDED(KM_REAL(fdopen)(rc, mode));
  if (!*out) {
    int saved = errno;
    km_fd_forget(rc);
    KM_REAL(close)(rc);
    errno = saved;
  }
  return 1;
}

KM_EXPORT FILE *fopen(const char *path, const char *mode) {
  FILE *f;
  if (fopen_remote(path, mode, &f)) return f;
  return KM_REAL(fopen)(path, mode);
}

KM_EXPORT FILE *fopen64(const char *path, const char *mode) {
  FILE *f;
  if (fopen_remote(path, mode, &f)) return f;
  return KM_REAL(fopen64)(path, mode);
}

/* freopen of a remote path: libc reopens /proc/self/fd/N of the memfd onto the stream. */
static FILE *freopen_common(const char *path, const char *mode, FILE *stream, FILE *(*real)(const char *, const char *, FILE *)) {
  int rc;
  if (!path || !km_hook_open(AT_FDCWD, path, fopen_flags(mode), &rc)) {
    if (stream) km_fd_forget(fileno(stream));
    return real(path, mode, stream);
  }
  if (rc < 0) {
    errno = -rc;
    return NULL;
  }
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", rc);
  struct km_fd e;
  int known = km_fd_get(rc, &e);
  int old = stream ? fileno(stream) : -1;
  FILE *f = KM_GUARDED(real(proc, mode, stream));
  int saved = errno;
  km_fd_forget(rc);
  KM_REAL(close)(rc);
  if (f && known) {
    if (old >= 0) km_fd_forget(old);
    km_fd_put(fileno(f), &e);
  }
  errno = saved;
  return f;
}

KM_EXPORT FILE *freopen(const char *path, const char *mode, FILE *stream) {
  return freopen_common(path, mode, stream, KM_REAL(freopen));
}

KM_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *stream) {
  return freopen_common(path, mode, stream, KM_REAL(freopen64));
}

/* fclose closes its fd inside libc, past the close hook: forget it here. */
KM_EXPORT int fclose(FILE *stream) {
  if (stream && !km_guarded()) km_fd_forget(fileno(stream));
  return KM_REAL(fclose)(stream);
}

KM_EXPORT int close(int fd) {
  if (!km_guarded()) {
    /* The link is the layer's: a program closing every fd it does not know keeps it open. */
    if (km_is_link_fd(fd)) return 0;
    km_fd_forget(fd);
  }
  return KM_REAL(close)(fd);
}

/* Splits [first, last] around the link's fd; the parts go to libc. */
KM_EXPORT int close_range(unsigned int first, unsigned int last, int flags) {
  if (!KM_REAL(close_range)) {
    errno = ENOSYS;
    return -1;
  }
  if (km_guarded() || km_link_fd < 0 || (unsigned)km_link_fd < first || (unsigned)km_link_fd > last) {
    if (!km_guarded() && !(flags & CLOSE_RANGE_CLOEXEC)) km_fd_forget_range(first, last);
    return KM_REAL(close_range)(first, last, flags);
  }
  unsigned link = (unsigned)km_link_fd;
  if (!(flags & CLOSE_RANGE_CLOEXEC)) km_fd_forget_range(first, last);
  int rc = 0;
  if (link > first) rc = KM_REAL(close_range)(first, link - 1, flags);
  if (rc == 0 && link < last) rc = KM_REAL(close_range)(link + 1, last, flags);
  return rc;
}

KM_EXPORT void closefrom(int low) {
  if (low < 0) low = 0;
  close_range((unsigned)low, ~0u, 0);
}

KM_EXPORT int dup(int fd) {
  int rc = KM_REAL(dup)(fd);
  if (rc >= 0 && !km_guarded()) km_fd_dup(fd, rc);
  return rc;
}

KM_EXPORT int dup2(int oldfd, int newfd) {
  if (!km_guarded() && km_is_link_fd(newfd) && oldfd != newfd) km_link_move_off(newfd);
  int rc = KM_REAL(dup2)(oldfd, newfd);
  if (rc >= 0 && !km_guarded() && oldfd != newfd) km_fd_dup(oldfd, rc);
  return rc;
}

KM_EXPORT int dup3(int oldfd, int newfd, int flags) {
  if (!km_guarded() && km_is_link_fd(newfd) && oldfd != newfd) km_link_move_off(newfd);
  int rc = KM_REAL(dup3)(oldfd, newfd, flags);
  if (rc >= 0 && !km_guarded()) km_fd_dup(oldfd, rc);
  return rc;
}

/* F_DUPFD copies (Python's os.listdir(fd) makes one) stand for the same remote file or directory. */
static int fcntl_common(int (*real)(int, int, ...), int fd, int cmd, va_list ap) {
  void *arg = va_arg(ap, void *);
  int rc = real(fd, cmd, arg);
  if (rc >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && !km_guarded()) km_fd_dup(fd, rc);
  return rc;
}

KM_EXPORT int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  int rc = fcntl_common(KM_REAL(fcntl), fd, cmd, ap);
  va_end(ap);
  return rc;
}

KM_EXPORT int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  int rc = fcntl_common(KM_REAL(fcntl64) ? KM_REAL(fcntl64) : KM_REAL(fcntl), fd, cmd, ap);
  va_end(ap);
  return rc;
}
