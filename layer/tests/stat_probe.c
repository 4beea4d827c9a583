/*
 * Calls each stat entry point the way a program linked against another glibc would, and prints
 * what it saw: the pre-2.33 __xstat family (looked up by name: this glibc keeps it only as a
 * compat symbol, so a preloaded layer's definition is what RTLD_DEFAULT finds), statx, fstat of an
 * open fd, and raw syscalls through libc's syscall(). Used by test/layer/smoke-proc.test.ts.
 *
 *   stat_probe PATH   prints "name size uid" per line, or "name errno"; then fopen, freopen and
 *                     realpath results
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void show(const char *name, int rc, long long size, long long uid) {
  if (rc < 0) printf("%s %s\n", name, strerrorname_np(errno));
  else printf("%s %lld %lld\n", name, size, uid);
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  const char *path = argv[1];
  struct stat st;
  int (*xstat)(int, const char *, struct stat *) = (int (*)(int, const char *, struct stat *))dlsym(RTLD_DEFAULT, "__xstat");
  int (*lxstat)(int, const char *, struct stat *) = (int (*)(int, const char *, struct stat *))dlsym(RTLD_DEFAULT, "__lxstat");
  int (*fxstat)(int, int, struct stat *) = (int (*)(int, int, struct stat *))dlsym(RTLD_DEFAULT, "__fxstat");
  /* _STAT_VER_LINUX: 1 on x86_64, 0 on aarch64. */
#if defined(__x86_64__)
  const int ver = 1;
#else
  const int ver = 0;
#endif
  int rc;
  memset(&st, 0, sizeof st);
  rc = xstat ? xstat(ver, path, &st) : (errno = ENOSYS, -1);
  show("__xstat", rc, st.st_size, st.st_uid);
  memset(&st, 0, sizeof st);
  rc = lxstat ? lxstat(ver, path, &st) : (errno = ENOSYS, -1);
  show("__lxstat", rc, st.st_size, st.st_uid);
  struct statx sx;
  memset(&sx, 0, sizeof sx);
  rc = statx(AT_FDCWD, path, 0, STATX_BASIC_STATS, &sx);
  show("statx", rc, (long long)sx.stx_size, sx.stx_uid);
  memset(&sx, 0, sizeof sx);
  rc = (int)syscall(SYS_statx, AT_FDCWD, path, 0, STATX_BASIC_STATS, &sx);
  show("syscall(statx)", rc, (long long)sx.stx_size, sx.stx_uid);
  memset(&st, 0, sizeof st);
  rc = (int)syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0);
  show("syscall(newfstatat)", rc, st.st_size, st.st_uid);
  int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  show("syscall(openat)", fd < 0 ? -1 : 0, 0, 0);
  if (fd >= 0) {
    memset(&st, 0, sizeof st);
    rc = fxstat ? fxstat(ver, fd, &st) : (errno = ENOSYS, -1);
    show("__fxstat", rc, st.st_size, st.st_uid);
    memset(&sx, 0, sizeof sx);
    rc = statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx);
    show("statx(fd)", rc, (long long)sx.stx_size, sx.stx_uid);
    char buf[64] = {0};
    rc = (int)read(fd, buf, sizeof buf - 1);
    show("read", rc, (long long)strlen(buf), 0);
    close(fd);
  }
  char line[128] = {0};
  FILE *f = fopen(path, "re");
  if (f && fgets(line, sizeof line, f)) printf("fopen %s\n", line);
  else printf("fopen %s\n", strerrorname_np(errno));
  if (f) fclose(f);
  memset(line, 0, sizeof line);
  FILE *in = freopen(path, "r", stdin);
  if (in && fgets(line, sizeof line, in)) printf("freopen %s\n", line);
  else printf("freopen %s\n", strerrorname_np(errno));
  char resolved[PATH_MAX];
  char *rp = realpath(path, resolved);
  printf("realpath %s\n", rp ? rp : strerrorname_np(errno));
  return 0;
}
