/* The per-fd state table (fdtab.h): two levels of 1024 entries, one lock. */
#define _GNU_SOURCE
#include "fdtab.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layer.h"
#include "real.h"

#define PAGE 1024
#define PAGES 1024
static struct km_fd **table[PAGES];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/* How many sockets listen on each port: 0 means the port is not the program's. */
static uint16_t tcp_listeners[65536];
static uint16_t udp_listeners[65536];

/* Incoming listeners held by this process: id and how many fds refer to it. A program with more
 * than KM_LISTENERS listening sockets at once gets the rest counted as held forever (never
 * unsubscribed before it exits), which is the safe side. */
#define KM_LISTENERS 1024
static struct {
  uint32_t id;
  unsigned refs;
} listeners[KM_LISTENERS];
/* Listeners whose last fd went while the lock was held: told after unlocking. */
static uint32_t gone[KM_LISTENERS];
static size_t ngone;
void (*km_fd_on_listener_gone)(uint32_t listener);

static void listener_ref(uint32_t id) {
  size_t free_slot = KM_LISTENERS;
  for (size_t i = 0; i < KM_LISTENERS; i++) {
    if (listeners[i].id == id) {
      listeners[i].refs++;
      return;
    }
    if (!listeners[i].id && free_slot == KM_LISTENERS) free_slot = i;
  }
  if (free_slot < KM_LISTENERS) listeners[free_slot].id = id, listeners[free_slot].refs = 1;
}

static void listener_unref(uint32_t id) {
  for (size_t i = 0; i < KM_LISTENERS; i++) {
    if (listeners[i].id != id) continue;
    if (--listeners[i].refs == 0) {
      listeners[i].id = 0;
      if (ngone < KM_LISTENERS) gone[ngone++] = id;
    }
    return;
  }
}

/* Tells km_fd_on_listener_gone about the listeners released meanwhile. Called without the lock. */
static void tell_gone(void) {
  uint32_t ids[16];
  for (;;) {
    size_t n = 0;
    pthread_mutex_lock(&lock);
    while (n < 16 && ngone > 0) ids[n++] = gone[--ngone];
    pthread_mutex_unlock(&lock);
    if (n == 0) return;
    for (size_t i = 0; i < n; i++)
      if (km_fd_on_listener_gone) km_fd_on_listener_gone(ids[i]);
  }
}

size_t km_fd_listeners(uint32_t *out, size_t max) {
  size_t n = 0;
  pthread_mutex_lock(&lock);
  for (size_t i = 0; i < KM_LISTENERS && n < max; i++)
    if (listeners[i].id) out[n++] = listeners[i].id;
  pthread_mutex_unlock(&lock);
  return n;
}

unsigned km_fd_listener_refs(uint32_t id) {
  unsigned refs = 0;
  pthread_mutex_lock(&lock);
  for (size_t i = 0; i < KM_LISTENERS; i++)
    if (id && listeners[i].id == id) refs = listeners[i].refs;
  pthread_mutex_unlock(&lock);
  return refs;
}

static struct km_fd **slot(int fd, int create) {
  if (fd < 0 || fd >= PAGE * PAGES) return NULL;
  struct km_fd **page = table[fd / PAGE];
  if (!page) {
    if (!create) return NULL;
    page = calloc(PAGE, sizeof *page);
    if (!page) return NULL;
    __atomic_store_n(&table[fd / PAGE], page, __ATOMIC_RELEASE);
  }
  return &page[fd % PAGE];
}

/* Lock-free look for an entry: close() runs this for every fd, and almost none have one. A
 * racing km_fd_put for the same fd number would be the program racing close against open. */
static int maybe_present(int fd) {
  if (fd < 0 || fd >= PAGE * PAGES) return 0;
  struct km_fd **page = __atomic_load_n(&table[fd / PAGE], __ATOMIC_ACQUIRE);
  return page && __atomic_load_n(&page[fd % PAGE], __ATOMIC_ACQUIRE) != NULL;
}

static int same_file(int fd, const struct km_fd *e) {
  struct stat st;
  if (KM_REAL(fstat)(fd, &st) < 0) return 0;
  return st.st_dev == e->dev && st.st_ino == e->ino;
}

static void release(struct km_fd *e) {
  if (!e) return;
  if (e->listen_port) {
    uint16_t *counts = e->listen_udp ? udp_listeners : tcp_listeners;
    if (counts[e->listen_port]) counts[e->listen_port]--;
  }
  if (e->in_listener) listener_unref(e->in_listener);
  free(e);
}

int km_fd_get(int fd, struct km_fd *out) {
  int found = 0;
  if (!maybe_present(fd)) return 0;
  km_guard_enter();
  pthread_mutex_lock(&lock);
  struct km_fd **s = slot(fd, 0);
  if (s && *s) {
    if (same_file(fd, *s)) {
      memcpy(out, *s, sizeof *out);
      found = 1;
    } else {
      release(*s);
      *s = NULL;
    }
  }
  pthread_mutex_unlock(&lock);
  tell_gone();
  km_guard_leave();
  return found;
}

int km_fd_put(int fd, const struct km_fd *e) {
  struct stat st;
  km_guard_enter();
  int rc = KM_REAL(fstat)(fd, &st) < 0 ? -errno : 0;
  struct km_fd *copy = rc == 0 ? malloc(sizeof *copy) : NULL;
  if (rc == 0 && !copy) rc = -ENOMEM;
  if (rc == 0) {
    memcpy(copy, e, sizeof *copy);
    copy->dev = st.st_dev;
    copy->ino = st.st_ino;
    pthread_mutex_lock(&lock);
    struct km_fd **s = slot(fd, 1);
    if (!s) {
      rc = -EMFILE;
      free(copy);
    } else {
      struct km_fd *old = *s;
      /* A listening port the old entry held moves to the new one only if it says so itself. */
      if (old && old->listen_port && old->listen_port == copy->listen_port && old->listen_udp == copy->listen_udp) {
        old->listen_port = 0;
      } else if (copy->listen_port) {
        (copy->listen_udp ? udp_listeners : tcp_listeners)[copy->listen_port]++;
      }
      /* The same for an incoming listener: an update of the entry keeps its one reference. */
      if (old && old->in_listener && old->in_listener == copy->in_listener) old->in_listener = 0;
      else if (copy->in_listener) listener_ref(copy->in_listener);
      release(old);
      __atomic_store_n(s, copy, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&lock);
    tell_gone();
  }
  km_guard_leave();
  return rc;
}

void km_fd_forget(int fd) {
  if (!maybe_present(fd)) return;
  pthread_mutex_lock(&lock);
  struct km_fd **s = slot(fd, 0);
  if (s && *s) {
    release(*s);
    *s = NULL;
  }
  pthread_mutex_unlock(&lock);
  tell_gone();
}

void km_fd_forget_range(unsigned first, unsigned last) {
  pthread_mutex_lock(&lock);
  for (unsigned p = first / PAGE; p < PAGES && p <= last / PAGE; p++) {
    if (!table[p]) continue;
    for (unsigned i = 0; i < PAGE; i++) {
      unsigned fd = p * PAGE + i;
      if (fd < first || fd > last || !table[p][i]) continue;
      release(table[p][i]);
      table[p][i] = NULL;
    }
  }
  pthread_mutex_unlock(&lock);
  tell_gone();
}

void km_fd_dup(int oldfd, int newfd) {
  struct km_fd e;
  km_fd_forget(newfd);
  if (!km_fd_get(oldfd, &e)) return;
  /* The duplicate does not make a second listener of its own. */
  e.listen_port = 0;
  km_fd_put(newfd, &e);
}

int km_port_listening(uint16_t port, int udp) {
  return __atomic_load_n(udp ? &udp_listeners[port] : &tcp_listeners[port], __ATOMIC_RELAXED) != 0;
}

void km_fd_atfork_prepare(void) { pthread_mutex_lock(&lock); }
void km_fd_atfork_parent(void) { pthread_mutex_unlock(&lock); }
/* The child holds what the parent held (its fds are copies); the parent's pending news is the parent's. */
void km_fd_atfork_child(void) {
  pthread_mutex_init(&lock, NULL);
  ngone = 0;
}
