/* Path rules (paths.h). */
#define _GNU_SOURCE
#include "paths.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "fdtab.h"
#include "layer.h"

int km_path_normalize(const char *in, char *out, size_t out_len) {
  if (!in || in[0] != '/') return -EINVAL;
  size_t len = 0;
  const char *p = in;
  while (*p) {
    while (*p == '/') p++;
    if (!*p) break;
    const char *end = strchrnul(p, '/');
    size_t n = (size_t)(end - p);
    if (n == 1 && p[0] == '.') {
      /* nothing */
    } else if (n == 2 && p[0] == '.' && p[1] == '.') {
      while (len > 0 && out[len - 1] != '/') len--;
      if (len > 0) len--; /* the slash before the component */
    } else {
      if (len + 1 + n + 1 > out_len) return -ENAMETOOLONG;
      out[len++] = '/';
      memcpy(out + len, p, n);
      len += n;
    }
    p = end;
  }
  if (len == 0) {
    if (out_len < 2) return -ENAMETOOLONG;
    out[len++] = '/';
  }
  out[len] = 0;
  return 0;
}

static int matches(const struct km_rules *rules, const char *path) {
  for (size_t i = 0; i < rules->count; i++)
    if (regexec(&rules->re[i], path, 0, NULL, 0) == 0) return 1;
  return 0;
}

enum km_where km_path_rules(const char *abs) {
  if (matches(&km_config.not_found, abs)) return KM_NOT_FOUND;
  if (matches(&km_config.local, abs)) return KM_LOCAL;
  if (matches(&km_config.remote, abs)) return KM_REMOTE;
  return KM_LOCAL;
}

enum km_where km_path_where(int dirfd, const char *path, char out[PATH_MAX], int *err) {
  *err = 0;
  /* After the link broke, the rules still say which paths are the pod's: those then fail (EIO)
   * rather than read the user's file of the same name. */
  int rules_known = km_state == KM_ACTIVE || (km_state == KM_BROKEN && km_config_loaded);
  if (!path || !rules_known || !(km_config.flags & KM_FLAG_REMOTE_FS) || (km_config.flags & KM_FLAG_SKIP) ||
      km_config.fs_mode == KM_FS_MODE_LOCAL)
    return KM_LOCAL;
  char joined[PATH_MAX];
  const char *abs = path;
  if (path[0] != '/') {
    struct km_fd dir;
    if (dirfd == AT_FDCWD || path[0] == 0 || !km_fd_get(dirfd, &dir) || dir.kind != KM_FD_DIR) return KM_LOCAL;
    size_t a = strlen(dir.path), b = strlen(path);
    if (a + 1 + b + 1 > sizeof joined) {
      *err = ENAMETOOLONG;
      return KM_NOT_FOUND;
    }
    memcpy(joined, dir.path, a);
    joined[a] = '/';
    memcpy(joined + a + 1, path, b + 1);
    abs = joined;
  }
  int rc = km_path_normalize(abs, out, PATH_MAX);
  if (rc < 0) {
    /* Too long to be remote: the kernel would say the same for a local path. */
    enum km_where w = KM_LOCAL;
    if (rc == -ENAMETOOLONG) *err = ENAMETOOLONG, w = KM_NOT_FOUND;
    return w;
  }
  return km_path_rules(out);
}
