/* Hooks: directory streams. The layer's own DIRs are recognised by the registry (dirs.h). */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>

#include "dirs.h"
#include "fdtab.h"
#include "hooks.h"
#include "paths.h"

/* 1 when `path` is the layer's; *out is then the stream or NULL with errno. */
static int opendir_remote(int dirfd, const char *path, DIR **out) {
  if (!km_on() || !path) return 0;
  char abs[PATH_MAX];
  int err;
  km_guard_enter();
  enum km_where where = km_path_where(dirfd, path, abs, &err);
  if (where == KM_NOT_FOUND) *out = NULL, errno = err ? err : ENOENT;
  else if (where == KM_REMOTE) *out = km_dir_open(abs, -1);
  km_guard_leave();
  return where != KM_LOCAL;
}

KM_EXPORT DIR *opendir(const char *path) {
  DIR *d;
  if (opendir_remote(AT_FDCWD, path, &d)) return d;
  return KM_REAL(opendir)(path);
}

/* fdopendir of a remote directory's placeholder fd: the stream takes the fd over. */
KM_EXPORT DIR *fdopendir(int fd) {
  struct km_fd e;
  if (km_on() && KM_GUARDED(km_fd_get(fd, &e)) && e.kind == KM_FD_DIR) return KM_GUARDED(km_dir_open(e.path, fd));
  return KM_REAL(fdopendir)(fd);
}

KM_EXPORT struct dirent *readdir(DIR *d) {
  if (km_dir_is_ours(d)) return (struct dirent *)km_dir_read(d);
  return KM_REAL(readdir)(d);
}

KM_EXPORT struct dirent64 *readdir64(DIR *d) {
  if (km_dir_is_ours(d)) return km_dir_read(d);
  return KM_REAL(readdir64)(d);
}

KM_EXPORT int readdir_r(DIR *d, struct dirent *entry, struct dirent **result) {
  if (!km_dir_is_ours(d)) return KM_REAL(readdir_r)(d, entry, result);
  struct dirent64 *e = km_dir_read(d);
  if (e) *entry = *(struct dirent *)e;
  *result = e ? entry : NULL;
  return 0;
}

KM_EXPORT int readdir64_r(DIR *d, struct dirent64 *entry, struct dirent64 **result) {
  if (!km_dir_is_ours(d)) return KM_REAL(readdir64_r)(d, entry, result);
  struct dirent64 *e = km_dir_read(d);
  if (e) *entry = *e;
  *result = e ? entry : NULL;
  return 0;
}

KM_EXPORT int closedir(DIR *d) {
  if (km_dir_is_ours(d)) return KM_GUARDED(km_dir_close(d));
  if (d && !km_guarded()) km_fd_forget(KM_REAL(dirfd)(d));
  return KM_REAL(closedir)(d);
}

KM_EXPORT int dirfd(DIR *d) {
  if (km_dir_is_ours(d)) return km_dir_fd(d);
  return KM_REAL(dirfd)(d);
}

KM_EXPORT void rewinddir(DIR *d) {
  if (km_dir_is_ours(d)) km_dir_seek(d, 0);
  else KM_REAL(rewinddir)(d);
}

KM_EXPORT long telldir(DIR *d) {
  if (km_dir_is_ours(d)) return km_dir_tell(d);
  return KM_REAL(telldir)(d);
}

KM_EXPORT void seekdir(DIR *d, long pos) {
  if (km_dir_is_ours(d)) km_dir_seek(d, pos);
  else KM_REAL(seekdir)(d, pos);
}

/* 1 when the path is the layer's; *rc is then the count or -1 with errno. */
static int scandir_remote(const char *path, struct dirent64 ***list, int (*sel)(const struct dirent64 *),
                          int (*cmp)(const struct dirent64 **, const struct dirent64 **), int *rc) {
  if (!km_on() || !path) return 0;
  char abs[PATH_MAX];
  int err;
  enum km_where where = KM_GUARDED(km_path_where(AT_FDCWD, path, abs, &err));
  if (where == KM_LOCAL) return 0;
  if (where == KM_NOT_FOUND) {
    errno = err ? err : ENOENT;
    *rc = -1;
    return 1;
  }
  /* The program's filter and comparison run unguarded: they are the program's code. */
  *rc = km_dir_scan(abs, list, sel, cmp);
  return 1;
}

KM_EXPORT int scandir(const char *path, struct dirent ***list, int (*sel)(const struct dirent *),
                      int (*cmp)(const struct dirent **, const struct dirent **)) {
  int rc;
  if (scandir_remote(path, (struct dirent64 ***)list, (int (*)(const struct dirent64 *))sel,
                     (int (*)(const struct dirent64 **, const struct dirent64 **))cmp, &rc))
    return rc;
  return KM_REAL(scandir)(path, list, sel, cmp);
}

KM_EXPORT int scandir64(const char *path, struct dirent64 ***list, int (*sel)(const struct dirent64 *),
                        int (*cmp)(const struct dirent64 **, const struct dirent64 **)) {
  int rc;
  if (scandir_remote(path, list, sel, cmp, &rc)) return rc;
  return KM_REAL(scandir64)(path, list, sel, cmp);
}
