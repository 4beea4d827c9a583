/* Remote directory streams (dirs.h). */
#define _GNU_SOURCE
#include "dirs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "fdtab.h"
#include "files.h"
#include "layer.h"
#include "link.h"
#include "real.h"
#include "registry.h"

/* On both 64-bit targets struct dirent and struct dirent64 are the same; the hooks rely on it. */
_Static_assert(sizeof(struct dirent) == sizeof(struct dirent64), "dirent and dirent64 differ");

struct km_dir {
  int fd;
  size_t count, pos;
  struct dirent64 *ents;
};

static struct km_registry dirs = KM_REGISTRY_INIT;

static void put_entry(struct dirent64 *e, const char *name, size_t n, uint8_t type, uint64_t ino, size_t index) {
  memset(e, 0, sizeof *e);
  e->d_ino = ino;
  e->d_off = (off64_t)(index + 1);
  e->d_reclen = sizeof *e;
  e->d_type = type;
  if (n > sizeof e->d_name - 1) n = sizeof e->d_name - 1;
  memcpy(e->d_name, name, n);
}

/* One READDIR: entries with "." and ".." first, as the kernel lists them. -errno on failure. */
static int list_remote(const char *abs, struct dirent64 **out, size_t *count) {
  uint8_t frame[KM_SEND_MAX];
  struct km_wr w = km_writer(frame, sizeof frame);
  size_t at = km_frame_begin(&w, KM_MSG_READDIR, 0);
  struct km_msg_readdir m = {km_cstr(abs)};
  km_enc_msg_readdir(&w, &m);
  km_frame_end(&w, at);
  if (w.bad) return -ENAMETOOLONG;
  struct km_reply reply;
  int rc = km_link_call(frame, w.len, KM_MSG_READDIR_OK, &reply);
  if (rc < 0) return rc;
  struct km_rd r = km_reader(reply.body, reply.len);
  struct km_msg_readdir_ok ok;
  km_dec_msg_readdir_ok(&r, &ok);
  if (r.bad) rc = -EIO;
  else if (ok.err > 0) rc = -ok.err;
  struct dirent64 *ents = NULL;
  size_t n = 0;
  if (rc == 0) {
    ents = calloc((size_t)ok.entries.count + 2, sizeof *ents);
    if (!ents) rc = -ENOMEM;
  }
  if (rc == 0) {
    put_entry(&ents[n], ".", 1, DT_DIR, 0, n), n++;
    put_entry(&ents[n], "..", 2, DT_DIR, 0, n), n++;
    struct km_rd items = km_list_reader(&ok.entries);
    for (uint32_t i = 0; i < ok.entries.count; i++) {
      struct km_item_dir_entry e;
      km_dec_item_dir_entry(&items, &e);
      if (items.bad) break;
      if ((e.name.n == 1 && e.name.p[0] == '.') || (e.name.n == 2 && e.name.p[0] == '.' && e.name.p[1] == '.')) continue;
      if (e.name.n == 0 || memchr(e.name.p, '/', e.name.n) || memchr(e.name.p, 0, e.name.n)) continue;
      put_entry(&ents[n], e.name.p, e.name.n, e.type, e.ino, n), n++;
    }
  }
  free(reply.body);
  if (rc < 0) return rc;
  *out = ents;
  *count = n;
  return 0;
}

DIR *km_dir_open(const char *abs, int fd) {
  struct km_dir *d = calloc(1, sizeof *d);
  if (!d) {
    errno = ENOMEM;
    return NULL;
  }
  int rc = list_remote(abs, &d->ents, &d->count);
  if (rc == 0 && fd < 0) {
    struct km_msg_stat_ok st;
    rc = km_remote_stat(abs, 1, &st);
    if (rc == 0) fd = km_remote_dir_fd(abs, &st, 1);
    if (fd < 0) rc = fd;
  }
  if (rc == 0) rc = km_registry_add(&dirs, d);
  if (rc < 0) {
    free(d->ents);
    free(d);
    errno = -rc;
    return NULL;
  }
  d->fd = fd;
  return (DIR *)d;
}

int km_dir_is_ours(DIR *d) { return km_registry_has(&dirs, d); }

struct dirent64 *km_dir_read(DIR *dir) {
  struct km_dir *d = (struct km_dir *)dir;
  return d->pos < d->count ? &d->ents[d->pos++] : NULL;
}

int km_dir_close(DIR *dir) {
  struct km_dir *d = (struct km_dir *)dir;
  if (!km_registry_take(&dirs, dir)) {
    errno = EBADF;
    return -1;
  }
  if (d->fd >= 0) {
    km_fd_forget(d->fd);
    KM_REAL(close)(d->fd);
  }
  free(d->ents);
  free(d);
  return 0;
}

int km_dir_fd(DIR *dir) { return ((struct km_dir *)dir)->fd; }
long km_dir_tell(DIR *dir) { return (long)((struct km_dir *)dir)->pos; }

void km_dir_seek(DIR *dir, long pos) {
  struct km_dir *d = (struct km_dir *)dir;
  d->pos = pos < 0 ? 0 : ((size_t)pos > d->count ? d->count : (size_t)pos);
}

int km_dir_scan(const char *abs, struct dirent64 ***list, int (*sel)(const struct dirent64 *),
                int (*cmp)(const struct dirent64 **, const struct dirent64 **)) {
  struct dirent64 *ents;
  size_t count;
  int rc = list_remote(abs, &ents, &count);
  if (rc < 0) {
    errno = -rc;
    return -1;
  }
  struct dirent64 **out = malloc((count ? count : 1) * sizeof *out);
  size_t n = 0;
  for (size_t i = 0; out && i < count; i++) {
    if (sel && !sel(&ents[i])) continue;
    /* Each entry is its own allocation: the caller frees them one by one. */
    out[n] = malloc(sizeof **out);
    if (!out[n]) {
      while (n > 0) free(out[--n]);
      free(out);
      out = NULL;
      break;
    }
    memcpy(out[n++], &ents[i], sizeof **out);
  }
  free(ents);
  if (!out) {
    errno = ENOMEM;
    return -1;
  }
  if (cmp) qsort(out, n, sizeof *out, (int (*)(const void *, const void *))cmp);
  *list = out;
  return (int)n;
}
