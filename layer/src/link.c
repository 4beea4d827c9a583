/*
 * The link to the exec proxy (link.h): requests from any thread, answers matched by id.
 *
 * Any thread sends its request under the lock, then waits for the answer with its id. One waiting
 * thread at a time is the reader: it reads the next frame without the lock (and, after an
 * OPEN_FILE_OK with err 0, the contents into a memfd), hands it to whichever waiter it belongs
 * to, and gives up the role. So a thread waiting for a slow CONNECT holds up no other thread.
 */
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
#include <unistd.h>

#include "layer.h"
#include "real.h"

int km_link_fd = -1;
char km_link_path[108];

/* One request waiting for its answer; lives on the asking thread's stack. */
struct waiter {
  uint32_t id;
  uint16_t want;
  int done, rc;
  struct km_reply reply;
  char name[64]; /* memfd name for OPEN_FILE contents */
  int memfd;
  struct waiter *next;
};

/* The lock guards everything below and the socket's send side. */
static pthread_mutex_t link_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t link_cond = PTHREAD_COND_INITIALIZER;
static uint32_t next_id = 1;
static struct waiter *waiters;
static int reader_busy;
/* A link that went down while the reader was blocked on it: the reader closes it. */
static int closing_fd = -1;
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

/* Called with the lock held: the link is gone for good in this process; every waiter fails. */
static void link_down(const char *why) {
  int saved = errno;
  if (km_link_fd >= 0) {
    shutdown(km_link_fd, SHUT_RDWR);
    if (reader_busy) closing_fd = km_link_fd;
    else KM_REAL(close)(km_link_fd);
    km_link_fd = -1;
    if (km_state == KM_ACTIVE) km_state = KM_BROKEN;
    km_stderr_once(&broken_said, "kubectl-mirrord: lost the link to the exec proxy (%s); remote files, DNS and "
                   "outgoing connections now fail in pid %d", why, (int)getpid());
  }
  for (struct waiter *w = waiters; w; w = w->next) {
    if (w->done) continue;
    w->done = 1;
    w->rc = -EIO;
  }
  pthread_cond_broadcast(&link_cond);
  errno = saved;
}

/* Reads one frame's header and body (malloc'd). 0, or -1. */
static int read_frame(int fd, struct km_reply *reply, uint32_t *id) {
  uint8_t h[KM_HEADER_SIZE];
  reply->body = NULL;
  if (recv_all(fd, h, sizeof h) < 0) return -1;
  struct km_rd r = km_reader(h, sizeof h);
  uint32_t length;
  km_get_u32(&r, &length);
  km_get_u16(&r, &reply->type);
  km_get_u32(&r, id);
  if (length < KM_HEADER_SIZE - 4 || length > KM_MAX_FRAME) return -1;
  reply->len = length - (KM_HEADER_SIZE - 4);
  reply->body = malloc(reply->len ? reply->len : 1);
  if (!reply->body || recv_all(fd, reply->body, reply->len) < 0) {
    free(reply->body);
    reply->body = NULL;
    return -1;
  }
  return 0;
}

/* Copies `size` bytes from the link into a new sealed memfd. -1 if the link broke (the stream is
 * then unusable), else 0 with *memfd_out >= 0 or *err set (the bytes were still all read). */
static int contents_to_memfd(int link, const char *name, uint64_t size, int *memfd_out, int *err) {
  int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  *err = fd < 0 ? errno : 0;
  static const size_t chunk = 256 * 1024;
  uint8_t *buf = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (buf == MAP_FAILED) buf = NULL;
  if (!buf && !*err) *err = ENOMEM;
  int broke = 0;
  /* The bytes are on the socket whatever happens here: read them all to keep the stream aligned. */
  for (uint64_t left = size; left > 0 && !broke;) {
    uint8_t scratch[512];
    uint8_t *into = buf ? buf : scratch;
    size_t cap = buf ? chunk : sizeof scratch;
    size_t n = left < cap ? (size_t)left : cap;
    if (recv_all(link, into, n) < 0) {
      broke = 1;
      break;
    }
    for (size_t off = 0; !*err && off < n;) {
      ssize_t w = write(fd, into + off, n - off);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) *err = errno;
      else off += (size_t)w;
    }
    left -= n;
  }
  if (buf) munmap(buf, chunk);
  if (!broke && !*err && fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0) *err = errno;
  if (broke || *err) {
    if (fd >= 0) KM_REAL(close)(fd);
    return broke ? -1 : 0;
  }
  *memfd_out = fd;
  return 0;
}

static struct waiter *find(uint32_t id) {
  for (struct waiter *w = waiters; w; w = w->next)
    if (w->id == id && !w->done) return w;
  return NULL;
}

static int answer_error(struct km_reply *reply) {
  struct km_rd r = km_reader(reply->body, reply->len);
  struct km_msg_error e;
  km_dec_msg_error(&r, &e);
  return (r.bad || e.err <= 0) ? -EIO : -e.err;
}

/* The reader's turn, entered and left with the lock held: one frame to its waiter. */
static void read_one(void) {
  int fd = km_link_fd;
  reader_busy = 1;
  pthread_mutex_unlock(&link_lock);
  struct km_reply reply;
  uint32_t id = 0;
  int ok = read_frame(fd, &reply, &id) == 0;
  pthread_mutex_lock(&link_lock);
  struct waiter *w = ok ? find(id) : NULL;
  const char *why = !ok ? "the proxy closed the connection" : !w ? "an answer to no request"
                    : (reply.type != w->want && reply.type != KM_MSG_ERROR) ? "an answer of the wrong type" : NULL;
  if (!why && reply.type == KM_MSG_OPEN_FILE_OK) {
    struct km_rd r = km_reader(reply.body, reply.len);
    struct km_msg_open_file_ok m;
    km_dec_msg_open_file_ok(&r, &m);
    if (r.bad || r.left != 0) {
      why = "a malformed OPEN_FILE_OK";
    } else if (m.err == 0) {
      char name[64];
      memcpy(name, w->name, sizeof name);
      pthread_mutex_unlock(&link_lock);
      int memfd = -1, err = 0;
      int broke = contents_to_memfd(fd, name, m.size, &memfd, &err) < 0;
      pthread_mutex_lock(&link_lock);
      w = find(id); /* still there: only this reader completes it, and link_down fails it */
      if (broke) why = "the proxy closed the connection during a file";
      else if (w) w->memfd = memfd, w->rc = err ? -err : 0;
      else if (memfd >= 0) KM_REAL(close)(memfd);
    }
  }
  reader_busy = 0;
  if (closing_fd == fd) {
    KM_REAL(close)(fd);
    closing_fd = -1;
  }
  if (why) {
    free(reply.body);
    if (km_link_fd == fd) link_down(why);
  } else if (w) {
    w->done = 1;
    if (reply.type == KM_MSG_ERROR) {
      w->rc = answer_error(&reply);
      free(reply.body);
    } else if (w->rc < 0) {
      free(reply.body);
    } else {
      w->reply = reply;
    }
  } else {
    free(reply.body); /* its waiter already failed (the link went down meanwhile) */
  }
  pthread_cond_broadcast(&link_cond);
}

/* Sends a request and waits for its answer. */
static int call(uint8_t *frame, size_t len, uint16_t want, struct km_reply *reply, const char *name, int *memfd) {
  struct waiter w;
  memset(&w, 0, sizeof w);
  w.want = want;
  w.memfd = -1;
  if (name) snprintf(w.name, sizeof w.name, "%s", name);
  km_guard_enter();
  pthread_mutex_lock(&link_lock);
  if (km_link_fd < 0) {
    pthread_mutex_unlock(&link_lock);
    km_guard_leave();
    return -EIO;
  }
  w.id = next_id++;
  if (next_id == 0) next_id = 1;
  km_put_le(frame + 6, w.id, 4);
  w.next = waiters;
  waiters = &w;
  if (send_all(km_link_fd, frame, len) < 0) link_down("the proxy closed the connection");
  while (!w.done) {
    if (!reader_busy && km_link_fd >= 0) {
      read_one();
    } else if (!reader_busy) {
      w.done = 1; /* closed under us (km_link_close) */
      w.rc = -EIO;
    } else {
      pthread_cond_wait(&link_cond, &link_lock);
    }
  }
  for (struct waiter **p = &waiters; *p; p = &(*p)->next) {
    if (*p == &w) {
      *p = w.next;
      break;
    }
  }
  pthread_mutex_unlock(&link_lock);
  km_guard_leave();
  if (w.rc == 0) {
    *reply = w.reply;
    if (memfd) *memfd = w.memfd;
  }
  return w.rc;
}

int km_link_call(uint8_t *frame, size_t len, uint16_t want, struct km_reply *reply) {
  return call(frame, len, want, reply, NULL, NULL);
}

int km_link_open_file(uint8_t *frame, size_t len, const char *name, struct km_reply *reply, int *memfd_out) {
  return call(frame, len, KM_MSG_OPEN_FILE_OK, reply, name, memfd_out);
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

void km_link_adopt(int fd) {
  pthread_mutex_lock(&link_lock);
  km_link_fd = fd;
  next_id = 1;
  pthread_mutex_unlock(&link_lock);
}

void km_link_close(void) {
  pthread_mutex_lock(&link_lock);
  if (km_link_fd >= 0) {
    shutdown(km_link_fd, SHUT_RDWR);
    if (reader_busy) closing_fd = km_link_fd;
    else KM_REAL(close)(km_link_fd);
    km_link_fd = -1;
  }
  pthread_mutex_unlock(&link_lock);
}

void km_link_atfork_prepare(void) { pthread_mutex_lock(&link_lock); }
void km_link_atfork_parent(void) { pthread_mutex_unlock(&link_lock); }

void km_link_atfork_child(void) {
  /* The forking thread held the lock (prepare); this child has only that thread, and none of
   * the other threads' waiters. */
  pthread_mutex_init(&link_lock, NULL);
  pthread_cond_init(&link_cond, NULL);
  waiters = NULL;
  reader_busy = 0;
  if (closing_fd >= 0) KM_REAL(close)(closing_fd);
  closing_fd = -1;
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
