/* Remote files (files.h). */
#define _GNU_SOURCE
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fdtab.h"
#include "paths.h"
#include "layer.h"
#include "link.h"
#include "real.h"

/* Builds a one-path request (STAT, OPEN_FILE, READLINK, ACCESS, READDIR) in `frame`. */
#define KM_PATH_FRAME(frame, w, TYPE, enc, msg)          \
  struct km_wr w = km_writer(frame, sizeof frame);       \
  do {                                                   \
    size_t at_ = km_frame_begin(&w, TYPE, 0);            \
    enc(&w, &msg);                                       \
    km_frame_end(&w, at_);                               \
  } while (0)

int km_remote_stat(const char *abs, int follow, struct km_msg_stat_ok *st) {
  uint8_t frame[KM_SEND_MAX];
  struct km_msg_stat m = {km_cstr(abs), (uint8_t)(follow ? 1 : 0)};
  KM_PATH_FRAME(frame, w, KM_MSG_STAT, km_enc_msg_stat, m);
  if (w.bad) return -ENAMETOOLONG;
  struct km_reply reply;
  int rc = km_link_call(frame, w.len, KM_MSG_STAT_OK, &reply);
  if (rc < 0) return rc;
  struct km_rd r = km_reader(reply.body, reply.len);
  km_dec_msg_stat_ok(&r, st);
  free(reply.body);
  if (r.bad) return -EIO;
  return st->err > 0 ? -st->err : 0;
}

int km_open_writes(int flags) {
  return (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC | O_APPEND)) ||
         (flags & O_TMPFILE) == O_TMPFILE;
}

static int too_large_warned;

/* Reopens the memfd read-only, so writes fail with EBADF as on a file opened O_RDONLY. */
static int reopen_read_only(int memfd, int flags) {
  char proc[64];
  snprintf(proc, sizeof proc, "/proc/self/fd/%d", memfd);
  int fd = KM_REAL(open)(proc, O_RDONLY | (flags & (O_CLOEXEC | O_NONBLOCK | O_NOATIME)));
  if (fd < 0) {
    /* No /proc: the sealed memfd itself (writes then fail with EPERM instead). */
    if (!(flags & O_CLOEXEC)) fcntl(memfd, F_SETFD, 0);
    return memfd;
  }
  KM_REAL(close)(memfd);
  return fd;
}

static int register_fd(int fd, int kind, const char *abs, const struct km_msg_stat_ok *st) {
  struct km_fd *e = calloc(1, sizeof *e);
  if (!e) return -ENOMEM;
  e->kind = kind;
  e->st = *st;
  snprintf(e->path, sizeof e->path, "%s", abs);
  int rc = km_fd_put(fd, e);
  free(e);
  return rc;
}

int km_remote_dir_fd(const char *abs, const struct km_msg_stat_ok *st, int cloexec) {
  int fd = memfd_create("kubectl-mirrord-dir", (cloexec ? MFD_CLOEXEC : 0) | MFD_ALLOW_SEALING);
  if (fd < 0) return -errno;
  fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL);
  int rc = register_fd(fd, KM_FD_DIR, abs, st);
  if (rc < 0) {
    KM_REAL(close)(fd);
    return rc;
  }
  return fd;
}

static int open_directory(const char *abs, int flags) {
  struct km_msg_stat_ok st;
  int rc = km_remote_stat(abs, !(flags & O_NOFOLLOW), &st);
  if (rc < 0) return rc;
  if (!S_ISDIR(st.mode)) return (flags & O_DIRECTORY) ? -ENOTDIR : -EIO;
  return km_remote_dir_fd(abs, &st, flags & O_CLOEXEC);
}

int km_remote_open(const char *abs, int flags) {
  if (flags & O_DIRECTORY) return open_directory(abs, flags);
  uint8_t frame[KM_SEND_MAX];
  struct km_msg_open_file m = {km_cstr(abs), (uint32_t)flags};
  KM_PATH_FRAME(frame, w, KM_MSG_OPEN_FILE, km_enc_msg_open_file, m);
  if (w.bad) return -ENAMETOOLONG;
  const char *base = strrchr(abs, '/');
  struct km_reply reply;
  int memfd = -1;
  int rc = km_link_open_file(frame, w.len, base && base[1] ? base + 1 : "kubectl-mirrord", &reply, &memfd);
  if (rc < 0) return rc;
  struct km_rd r = km_reader(reply.body, reply.len);
  struct km_msg_open_file_ok st;
  km_dec_msg_open_file_ok(&r, &st);
  free(reply.body);
  if (st.err == EISDIR) return open_directory(abs, flags);
  if (st.err == EFBIG) {
    if (!__atomic_exchange_n(&too_large_warned, 1, __ATOMIC_ACQ_REL))
      km_log(KM_LOG_WARN, "%s is larger than the %llu-byte limit for remote files; opening it fails with EFBIG", abs,
             (unsigned long long)km_config.max_file_bytes);
    return -EFBIG;
  }
  if (st.err > 0) return -st.err;
  int fd = reopen_read_only(memfd, flags);
  /* fstat of the memfd reports the pod's mode, owner and times, not the memfd's. */
  struct km_msg_stat_ok as_stat;
  memcpy(&as_stat, &st, sizeof as_stat);
  rc = register_fd(fd, KM_FD_FILE, abs, &as_stat);
  if (rc < 0) {
    KM_REAL(close)(fd);
    return rc;
  }
  return fd;
}

int km_remote_access(const char *abs, int mode) {
  uint8_t frame[KM_SEND_MAX];
  struct km_msg_access m = {km_cstr(abs), (uint32_t)mode};
  KM_PATH_FRAME(frame, w, KM_MSG_ACCESS, km_enc_msg_access, m);
  if (w.bad) return -ENAMETOOLONG;
  struct km_reply reply;
  int rc = km_link_call(frame, w.len, KM_MSG_ACCESS_OK, &reply);
  if (rc < 0) return rc;
  struct km_rd r = km_reader(reply.body, reply.len);
  struct km_msg_access_ok ok;
  km_dec_msg_access_ok(&r, &ok);
  free(reply.body);
  if (r.bad) return -EIO;
  return ok.err > 0 ? -ok.err : 0;
}

ssize_t km_remote_readlink(const char *abs, char *buf, size_t size) {
  uint8_t frame[KM_SEND_MAX];
  struct km_msg_readlink m = {km_cstr(abs)};
  KM_PATH_FRAME(frame, w, KM_MSG_READLINK, km_enc_msg_readlink, m);
  if (w.bad) return -ENAMETOOLONG;
  struct km_reply reply;
  int rc = km_link_call(frame, w.len, KM_MSG_READLINK_OK, &reply);
  if (rc < 0) return rc;
  struct km_rd r = km_reader(reply.body, reply.len);
  struct km_msg_readlink_ok ok;
  km_dec_msg_readlink_ok(&r, &ok);
  ssize_t n = -EIO;
  if (!r.bad) {
    if (ok.err > 0) {
      n = -ok.err;
    } else {
      n = ok.target.n < size ? ok.target.n : (ssize_t)size;
      memcpy(buf, ok.target.p, (size_t)n);
    }
  }
  free(reply.body);
  return n;
}

/* Follows symlinks component by component, as glibc's realpath does with lstat, at most 40 times
 * (the kernel's MAXSYMLINKS). Only components the rules make remote are asked about. */
int km_remote_realpath(const char *abs, char *out) {
  char todo[PATH_MAX], link[PATH_MAX], next[PATH_MAX * 2];
  snprintf(todo, sizeof todo, "%s", abs);
  for (int hops = 0; hops <= 40; hops++) {
    int rc = km_path_normalize(todo, out, PATH_MAX);
    if (rc < 0) return rc;
    /* Walk the prefixes of `out`; the first that is a link is replaced. */
    size_t len = strlen(out);
    int replaced = 0;
    for (size_t i = 1; i <= len && !replaced; i++) {
      if (out[i] != '/' && out[i] != 0) continue;
      char saved = out[i];
      out[i] = 0;
      /* Prefixes the rules keep local (/etc above a mount) are directories in the pod too. */
      if (km_path_rules(out) != KM_REMOTE) {
        out[i] = saved;
        continue;
      }
      ssize_t n = km_remote_readlink(out, link, sizeof link - 1);
      if (n == -EINVAL) {
        out[i] = saved;
        continue;
      }
      if (n < 0) return (int)n;
      link[n] = 0;
      const char *rest = saved ? out + i + 1 : "";
      if (link[0] == '/') {
        snprintf(next, sizeof next, "%s/%s", link, rest);
      } else {
        char *slash = strrchr(out, '/');
        *slash = 0;
        snprintf(next, sizeof next, "%s/%s/%s", out, link, rest);
      }
      if (strlen(next) >= sizeof todo) return -ENAMETOOLONG;
      memcpy(todo, next, strlen(next) + 1);
      replaced = 1;
    }
    if (!replaced) {
      struct km_msg_stat_ok st;
      return km_remote_stat(out, 0, &st);
    }
  }
  return -ELOOP;
}

int km_fd_remote_stat(int fd, struct km_msg_stat_ok *st) {
  struct km_fd e;
  if (!km_fd_get(fd, &e) || (e.kind != KM_FD_FILE && e.kind != KM_FD_DIR)) return 0;
  *st = e.st;
  return 1;
}

void km_fill_stat(const struct km_msg_stat_ok *r, struct stat *st) {
  memset(st, 0, sizeof *st);
  st->st_dev = (dev_t)r->dev;
  st->st_ino = (ino_t)r->ino;
  st->st_mode = r->mode;
  st->st_nlink = (nlink_t)r->nlink;
  st->st_uid = r->uid;
  st->st_gid = r->gid;
  st->st_rdev = (dev_t)r->rdev;
  st->st_size = (off_t)r->size;
  st->st_blksize = (blksize_t)r->blksize;
  st->st_blocks = (blkcnt_t)r->blocks;
  st->st_atim.tv_sec = (time_t)r->atime_s;
  st->st_atim.tv_nsec = r->atime_ns;
  st->st_mtim.tv_sec = (time_t)r->mtime_s;
  st->st_mtim.tv_nsec = r->mtime_ns;
  st->st_ctim.tv_sec = (time_t)r->ctime_s;
  st->st_ctim.tv_nsec = r->ctime_ns;
}

void km_fill_statx(const struct km_msg_stat_ok *r, struct statx *stx) {
  memset(stx, 0, sizeof *stx);
  stx->stx_mask = STATX_BASIC_STATS;
  stx->stx_blksize = r->blksize;
  stx->stx_nlink = (uint32_t)r->nlink;
  stx->stx_uid = r->uid;
  stx->stx_gid = r->gid;
  stx->stx_mode = (uint16_t)r->mode;
  stx->stx_ino = r->ino;
  stx->stx_size = r->size;
  stx->stx_blocks = r->blocks;
  stx->stx_atime.tv_sec = r->atime_s;
  stx->stx_atime.tv_nsec = r->atime_ns;
  stx->stx_mtime.tv_sec = r->mtime_s;
  stx->stx_mtime.tv_nsec = r->mtime_ns;
  stx->stx_ctime.tv_sec = r->ctime_s;
  stx->stx_ctime.tv_nsec = r->ctime_ns;
  stx->stx_rdev_major = major(r->rdev);
  stx->stx_rdev_minor = minor(r->rdev);
  stx->stx_dev_major = major(r->dev);
  stx->stx_dev_minor = minor(r->dev);
}
