/* The C unit tests' fake proxy (fake_proxy.h). */
#define _GNU_SOURCE
#include "fake_proxy.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "generated/layer_protocol.h"

struct answer {
  uint8_t *frame, *raw;
  size_t len, raw_len;
  int hang_up;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static struct answer queue[16];
static size_t head, tail;
static int far_fd = -1;
static pthread_t thread;
static uint8_t last_body[8192];
static size_t last_len;
static uint16_t last_type;
static unsigned seen;

static int read_all(int fd, uint8_t *p, size_t n) {
  while (n) {
    ssize_t r = read(fd, p, n);
    if (r <= 0) return -1;
    p += r, n -= (size_t)r;
  }
  return 0;
}

static void write_all(int fd, const uint8_t *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) return;
    p += w, n -= (size_t)w;
  }
}

static int swap_pairs;

void fake_proxy_swap_pairs(int on) {
  pthread_mutex_lock(&lock);
  swap_pairs = on;
  pthread_mutex_unlock(&lock);
}

/* Reads one request frame; 0 with its id, -1 at the end. */
static int read_request(uint32_t *id_out) {
  uint8_t h[KM_HEADER_SIZE];
  if (read_all(far_fd, h, sizeof h) < 0) return -1;
  struct km_rd r = km_reader(h, sizeof h);
  uint32_t length, id;
  uint16_t type;
  km_get_u32(&r, &length), km_get_u16(&r, &type), km_get_u32(&r, &id);
  size_t body = length - (KM_HEADER_SIZE - 4);
  uint8_t *buf = malloc(body + 1);
  if (read_all(far_fd, buf, body) < 0) {
    free(buf);
    return -1;
  }
  pthread_mutex_lock(&lock);
  last_type = type;
  last_len = body < sizeof last_body ? body : sizeof last_body;
  memcpy(last_body, buf, last_len);
  seen++;
  pthread_cond_broadcast(&changed);
  pthread_mutex_unlock(&lock);
  free(buf);
  *id_out = id;
  return 0;
}

static struct answer next_answer(void) {
  pthread_mutex_lock(&lock);
  struct answer a = head != tail ? queue[head++ % 16] : (struct answer){0};
  pthread_mutex_unlock(&lock);
  return a;
}

/* Writes `a` as the answer to `id`; 0, or -1 when the fake should hang up. */
static int answer(struct answer a, uint32_t id) {
  if (a.hang_up || !a.frame) {
    shutdown(far_fd, SHUT_RDWR);
    return -1;
  }
  km_put_le(a.frame + 6, id, 4);
  write_all(far_fd, a.frame, a.len);
  if (a.raw) write_all(far_fd, a.raw, a.raw_len);
  free(a.frame), free(a.raw);
  return 0;
}

static void *serve(void *arg) {
  (void)arg;
  for (;;) {
    uint32_t id;
    if (read_request(&id) < 0) break;
    if (id == 0) continue; /* one-way (LOG): nothing to answer */
    pthread_mutex_lock(&lock);
    int swap = swap_pairs;
    pthread_mutex_unlock(&lock);
    if (!swap) {
      if (answer(next_answer(), id) < 0) break;
      continue;
    }
    uint32_t second;
    if (read_request(&second) < 0) break;
    /* The queue holds the answers in request order; they go out the other way round. */
    struct answer first_answer = next_answer(), second_answer = next_answer();
    if (answer(second_answer, second) < 0 || answer(first_answer, id) < 0) break;
  }
  return NULL;
}

int fake_proxy_start(void) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) abort();
  far_fd = sv[1];
  head = tail = 0;
  seen = 0; /* fake_proxy_last waits for this connection's first request */
  pthread_create(&thread, NULL, serve, NULL);
  return sv[0];
}

void fake_proxy_reply(const uint8_t *frame, size_t len, const uint8_t *raw, size_t raw_len) {
  struct answer a = {malloc(len), raw ? malloc(raw_len ? raw_len : 1) : NULL, len, raw_len, 0};
  memcpy(a.frame, frame, len);
  if (raw) memcpy(a.raw, raw, raw_len);
  pthread_mutex_lock(&lock);
  queue[tail++ % 16] = a;
  pthread_mutex_unlock(&lock);
}

void fake_proxy_hang_up(void) {
  pthread_mutex_lock(&lock);
  queue[tail++ % 16] = (struct answer){NULL, NULL, 0, 0, 1};
  pthread_mutex_unlock(&lock);
}

uint16_t fake_proxy_last(uint8_t *body, size_t cap, size_t *len) {
  pthread_mutex_lock(&lock);
  while (seen == 0) pthread_cond_wait(&changed, &lock);
  *len = last_len < cap ? last_len : cap;
  memcpy(body, last_body, *len);
  uint16_t t = last_type;
  pthread_mutex_unlock(&lock);
  return t;
}

uint16_t fake_proxy_wait_type(uint16_t type, uint8_t *body, size_t cap, size_t *len) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += 5;
  pthread_mutex_lock(&lock);
  while ((seen == 0 || last_type != type) && pthread_cond_timedwait(&changed, &lock, &until) == 0) {
  }
  *len = last_len < cap ? last_len : cap;
  memcpy(body, last_body, *len);
  uint16_t t = last_type;
  pthread_mutex_unlock(&lock);
  return t;
}

void fake_proxy_stop(void) {
  if (far_fd >= 0) shutdown(far_fd, SHUT_RDWR);
  pthread_join(thread, NULL);
  close(far_fd);
  far_fd = -1;
  while (head != tail) {
    struct answer a = queue[head++ % 16];
    free(a.frame), free(a.raw);
  }
}
