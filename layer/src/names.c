/* Resolved names by address (names.h): one fixed table, one lock. */
#define _GNU_SOURCE
#include "names.h"

#include <netinet/in.h>
#include <pthread.h>
#include <string.h>

#include "filter.h"
#include "layer.h"

struct pair {
  uint64_t used; /* 0: empty; else when it was last remembered or matched */
  uint8_t family;
  uint8_t bytes[16];
  char name[254];
};

static struct pair table[KM_NAMES_MAX];
static uint64_t clock_now;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* v4-mapped → IPv4, so that a destination compares equal whatever form the program used. */
static int normalise(int family, const uint8_t *in, uint8_t *out) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  memset(out, 0, 16);
  if (family == KM_FAMILY_IPV6 && memcmp(in, mapped, 12) == 0) {
    memcpy(out, in + 12, 4);
    return KM_FAMILY_IPV4;
  }
  memcpy(out, in, family == KM_FAMILY_IPV4 ? 4 : 16);
  return family;
}

/* Lowercase, without a final dot; 0 if it does not fit or is empty. */
static int name_copy(char *out, size_t cap, const char *name) {
  size_t n = strlen(name);
  if (n && name[n - 1] == '.') n--;
  if (n == 0 || n >= cap) return 0;
  for (size_t i = 0; i < n; i++) out[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] + 32) : name[i];
  out[n] = 0;
  return 1;
}

void km_names_remember(const char *name, int family, const uint8_t *bytes) {
  if (!name || !bytes || (family != KM_FAMILY_IPV4 && family != KM_FAMILY_IPV6) || !km_filter_wants_names()) return;
  struct pair p = {0};
  if (!name_copy(p.name, sizeof p.name, name)) return;
  p.family = (uint8_t)normalise(family, bytes, p.bytes);
  pthread_mutex_lock(&lock);
  struct pair *slot = &table[0];
  for (size_t i = 0; i < KM_NAMES_MAX; i++) {
    struct pair *t = &table[i];
    if (t->used && t->family == p.family && memcmp(t->bytes, p.bytes, 16) == 0 && strcmp(t->name, p.name) == 0) {
      slot = t;
      break;
    }
    if (t->used < slot->used) slot = t; /* an empty slot (0) or the least recently used */
  }
  p.used = ++clock_now;
  *slot = p;
  pthread_mutex_unlock(&lock);
}

void km_names_remember_ai(const char *node, const struct addrinfo *ai) {
  if (!node || !km_filter_wants_names()) return;
  const char *canon = ai ? ai->ai_canonname : NULL;
  for (; ai; ai = ai->ai_next) {
    const uint8_t *b = NULL;
    int family = 0;
    if (ai->ai_family == AF_INET && ai->ai_addr && ai->ai_addrlen >= sizeof(struct sockaddr_in))
      b = (const uint8_t *)&((const struct sockaddr_in *)ai->ai_addr)->sin_addr, family = KM_FAMILY_IPV4;
    else if (ai->ai_family == AF_INET6 && ai->ai_addr && ai->ai_addrlen >= sizeof(struct sockaddr_in6))
      b = (const uint8_t *)&((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, family = KM_FAMILY_IPV6;
    if (!b) continue;
    km_names_remember(node, family, b);
    if (canon) km_names_remember(canon, family, b); /* the same name again is one pair */
  }
}

void km_names_remember_hostent(const char *name, const struct hostent *h) {
  if (!name || !h || !h->h_addr_list || !km_filter_wants_names()) return;
  int family = h->h_addrtype == AF_INET && h->h_length == 4 ? KM_FAMILY_IPV4
               : h->h_addrtype == AF_INET6 && h->h_length == 16 ? KM_FAMILY_IPV6 : 0;
  if (!family) return;
  for (char **a = h->h_addr_list; *a; a++) {
    km_names_remember(name, family, (const uint8_t *)*a);
    if (h->h_name) km_names_remember(h->h_name, family, (const uint8_t *)*a);
  }
}

int km_names_match(int family, const uint8_t *bytes, int (*match)(const char *name, const void *arg), const void *arg) {
  uint8_t b[16];
  family = normalise(family, bytes, b);
  int found = 0;
  pthread_mutex_lock(&lock);
  for (size_t i = 0; i < KM_NAMES_MAX && !found; i++) {
    struct pair *t = &table[i];
    if (t->used && t->family == family && memcmp(t->bytes, b, 16) == 0 && match(t->name, arg)) {
      t->used = ++clock_now;
      found = 1;
    }
  }
  pthread_mutex_unlock(&lock);
  return found;
}

void km_names_clear(void) {
  pthread_mutex_lock(&lock);
  memset(table, 0, sizeof table);
  pthread_mutex_unlock(&lock);
}

void km_names_atfork_prepare(void) { pthread_mutex_lock(&lock); }
void km_names_atfork_parent(void) { pthread_mutex_unlock(&lock); }
void km_names_atfork_child(void) { pthread_mutex_init(&lock, NULL); }
