/* The link to the exec proxy (link.h). */
#define _GNU_SOURCE
#include "link.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "layer.h"
#include "real.h"

int km_link_fd = -1;
char km_link_path[108];
static uint32_t next_id = 1;
/* Guards km_link_fd, next_id and the socket's byte stream: one request and its answer at a time.
 * Recursive: a LOG sent while the lock is held (a bad pattern found while HELLO_OK is parsed)
 * goes out between two whole messages, never inside one. */
static pthread_mutex_t link_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;

static void lock_init(void) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&link_lock, &a);
  pthread_mutexattr_destroy(&a);
}
static int broken_said;

static int send_all(int fd, const uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static int recv_all(int fd, uint8_t *p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

/* Called with the lock held: the link is gone for good in this process. */
static void link_down(const char *why) {
  int saved = errno;
  if (km_link_fd >= 0) KM_REAL(close)(km_link_fd);
  km_link_fd = -1;
  if (km_state == KM_ACTIVE) km_state = KM_BROKEN;
  km_stderr_once(&broken_said, "kubectl-mirrord: lost the link to the exec proxy (%s); remote files, DNS and "
                 "outgoing connections now fail in pid %d", why, (int)getpid());
  errno = saved;
}

/* Reads one frame's header and body (malloc'd). 0, or -1 (link broken). */
static int read_frame(struct km_reply *reply, uint32_t *id) {
  uint8_t h[KM_HEADER_SIZE];
  if (recv_all(km_link_fd, h, sizeof h) < 0) return -1;
  struct km_rd r = km_reader(h, sizeof h);
  uint32_t length;
  km_get_u32(&r, &length);
  km_get_u16(&r, &reply->type);
  km_get_u32(&r, id);
  if (length < KM_HEADER_SIZE - 4 || length > KM_MAX_FRAME) return -1;
  reply->len = length - (KM_HEADER_SIZE - 4);
  reply->body = malloc(reply->len ? reply->len : 1);
  if (!reply->body) return -1;
  if (recv_all(km_link_fd, reply->body, reply->len) < 0) {
    free(reply->body);
    reply->body = NULL;
    return -1;
  }
  return 0;
}

static int answer_error(struct km_reply *reply) {
  struct km_rd r = km_reader(reply->body, reply->len);
  struct km_msg_error e;
  km_dec_msg_error(&r, &e);
  free(reply->body);
  reply->body = NULL;
  return (r.bad || e.err <= 0) ? -EIO : -e.err;
}

/* Called with the lock held. */
static int call_locked(uint8_t *frame, size_t len, uint16_t want, struct km_reply *reply) {
  if (km_link_fd < 0) return -EIO;
  uint32_t id = next_id++;
  if (next_id == 0) next_id = 1;
  km_put_le(frame + 6, id, 4);
  if (send_all(km_link_fd, frame, len) < 0) {
    link_down("the proxy closed the connection");
    return -EIO;
  }
  uint32_t got_id;
  if (read_frame(reply, &got_id) < 0) {
    link_down("the proxy closed the connection");
    return -EIO;
  }
  if (got_id != id || (reply->type != want && reply->type != KM_MSG_ERROR)) {
    free(reply->body);
    reply->body = NULL;
    link_down("an answer out of order");
    return -EIO;
  }
  if (reply->type == KM_MSG_ERROR) return answer_error(reply);
  return 0;
}

int km_link_call(uint8_t *frame, size_t len, uint16_t want, struct km_reply *reply) {
  km_guard_enter();
  pthread_mutex_lock(&link_lock);
  int rc = call_locked(frame, len, want, reply);
  pthread_mutex_unlock(&link_lock);
  km_guard_leave();
  return rc;
}

/* Copies `size` bytes from the link into a new sealed memfd. Called with the lock held. */
static int contents_to_memfd(const char *name, uint64_t size, int *memfd_out) {
  int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  int err = fd < 0 ? errno : 0;
  static const size_t chunk = 256 * 1024;
  uint8_t *buf = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) buf = NULL;
  if (!buf && !err) err = ENOMEM;
  /* The bytes are on the socket whatever happens here: read them all to keep the stream aligned. */
  for (uint64_t left = size; left > 0;) {
    uint8_t scratch[512];
    size_t n = buf ? (left < chunk ? (size_t)left : chunk) : (left < sizeof scratch ? (size_t)left : sizeof scratch);
    if (recv_all(km_link_fd, buf ? buf : scratch, n) < 0) {
      if (buf) munmap(buf, chunk);
      if (fd >= 0) KM_REAL(close)(fd);
      link_down("the proxy closed the connection during a file");
      return -EIO;
    }
    if (!err) {
      for (size_t off = 0; off < n;) {
        ssize_t w = write(fd, buf + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
          err = errno;
          break;
        }
        off += (size_t)w;
      }
    }
    left -= n;
  }
  if (buf) munmap(buf, chunk);
  if (!err && fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0) err = errno;
  if (err) {
    if (fd >= 0) KM_REAL(close)(fd);
    return -err;
  }
  *memfd_out = fd;
  return 0;
}

int km_link_open_file(uint8_t *frame, size_t len, const char *name, struct km_reply *reply, int *memfd_out) {
  km_guard_enter();
  pthread_mutex_lock(&link_lock);
  int rc = call_locked(frame, len, KM_MSG_OPEN_FILE_OK, reply);
  if (rc == 0) {
    struct km_rd r = km_reader(reply->body, reply->len);
    struct km_msg_open_file_ok m;
    km_dec_msg_open_file_ok(&r, &m);
    if (r.bad || r.left != 0) {
      free(reply->body);
      reply->body = NULL;
      link_down("a malformed OPEN_FILE_OK");
      rc = -EIO;
    } else if (m.err == 0) {
      rc = contents_to_memfd(name, m.size, memfd_out);
      if (rc < 0) {
        free(reply->body);
        reply->body = NULL;
      }
    }
  }
  pthread_mutex_unlock(&link_lock);
  km_guard_leave();
  return rc;
}

void km_link_send(uint8_t *frame, size_t len) {
  km_guard_enter();
  pthread_mutex_lock(&link_lock);
  if (km_link_fd >= 0) {
    km_put_le(frame + 6, 0, 4);
    if (send_all(km_link_fd, frame, len) < 0) link_down("the proxy closed the connection");
  }
  pthread_mutex_unlock(&link_lock);
  km_guard_leave();
}

static int dial(const char *path) {
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof sa.sun_path) return -ENAMETOOLONG;
  strcpy(sa.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int rc;
  do rc = KM_REAL(connect)(fd, (struct sockaddr *)&sa, sizeof sa);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    int err = errno;
    KM_REAL(close)(fd);
    return -err;
  }
  /* Out of the way of the program's own fds, and never 0, 1 or 2. */
  int high = fcntl(fd, F_DUPFD_CLOEXEC, KM_LINK_FD_MIN);
  if (high < 0) high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  KM_REAL(close)(fd);
  return high < 0 ? -errno : high;
}

static void self_names(char *exe, size_t exe_len) {
  ssize_t n = KM_REAL(readlink)("/proc/self/exe", exe, exe_len - 1);
  exe[n > 0 ? n : 0] = 0;
}

/* Called with the lock held. */
static int hello_locked(const char *argv0, int take_config) {
  static char exe[4096];
  self_names(exe, sizeof exe);
  uint8_t frame[KM_SEND_MAX * 2 + 64];
  struct km_wr w = km_writer(frame, sizeof frame);
  size_t at = km_frame_begin(&w, KM_MSG_HELLO, 0);
  struct km_msg_hello m = {(uint32_t)getpid(), (uint32_t)getppid(), km_cstr(exe), km_cstr(argv0 ? argv0 : "")};
  if (m.argv0.n > 4096) m.argv0.n = 4096;
  km_enc_msg_hello(&w, &m);
  km_frame_end(&w, at);
  if (w.bad) return -EINVAL;
  struct km_reply reply;
  int rc = call_locked(frame, w.len, KM_MSG_HELLO_OK, &reply);
  if (rc < 0) return rc;
  if (take_config) rc = km_config_parse(reply.body, reply.len);
  free(reply.body);
  return rc;
}

static char saved_argv0[256];

int km_link_open(const char *path, int take_config) {
  km_guard_enter();
  pthread_mutex_lock(&link_lock);
  if (path != km_link_path) snprintf(km_link_path, sizeof km_link_path, "%s", path);
  int rc = dial(path);
  if (rc >= 0) {
    km_link_fd = rc;
    next_id = 1;
    rc = hello_locked(saved_argv0, take_config);
    if (rc < 0 && km_link_fd >= 0) {
      KM_REAL(close)(km_link_fd);
      km_link_fd = -1;
    }
  }
  pthread_mutex_unlock(&link_lock);
  km_guard_leave();
  return rc < 0 ? rc : 0;
}

void km_link_set_argv0(const char *argv0) {
  snprintf(saved_argv0, sizeof saved_argv0, "%s", argv0 ? argv0 : "");
}

void km_link_atfork_prepare(void) { pthread_mutex_lock(&link_lock); }
void km_link_atfork_parent(void) { pthread_mutex_unlock(&link_lock); }

void km_link_atfork_child(void) {
  /* The lock was held by the forking thread (prepare); this child has only that thread. */
  lock_init();
  if (km_state == KM_INERT && km_link_fd < 0) return;
  if (km_link_fd >= 0) KM_REAL(close)(km_link_fd);
  km_link_fd = -1;
  /* The child is a process of its own: it gets its own connection, with the parent's config. */
  if (km_link_path[0] && km_link_open(km_link_path, 0) < 0 && km_state == KM_ACTIVE) {
    km_state = KM_BROKEN;
    km_stderr_once(&broken_said, "kubectl-mirrord: a forked child (pid %d) cannot reach the exec proxy; "
                   "remote files, DNS and outgoing connections fail in it", (int)getpid());
  }
}

void km_link_move_off(int fd) {
  pthread_mutex_lock(&link_lock);
  if (km_link_fd >= 0 && km_link_fd == fd) {
    int high = fcntl(fd, F_DUPFD_CLOEXEC, fd + 1 > KM_LINK_FD_MIN ? fd + 1 : KM_LINK_FD_MIN);
    if (high >= 0) km_link_fd = high;
    /* The program's dup2 then replaces `fd`; the old number is no longer ours. */
  }
  pthread_mutex_unlock(&link_lock);
}
