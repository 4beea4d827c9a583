/* Pointer sets (registry.h). Small: a program holds few lists and streams at once. */
#include "registry.h"

#include <errno.h>
#include <stdlib.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

int km_registry_add(struct km_registry *r, void *p) {
  int rc = 0;
  pthread_mutex_lock(&lock);
  if (r->count == r->cap) {
    size_t cap = r->cap ? r->cap * 2 : 16;
    void **items = realloc(r->items, cap * sizeof *items);
    if (!items) rc = -ENOMEM;
    else r->items = items, r->cap = cap;
  }
  if (rc == 0) r->items[r->count++] = p;
  pthread_mutex_unlock(&lock);
  return rc;
}

static size_t find(struct km_registry *r, void *p) {
  for (size_t i = r->count; i > 0; i--)
    if (r->items[i - 1] == p) return i;
  return 0;
}

int km_registry_take(struct km_registry *r, void *p) {
  if (!p) return 0;
  pthread_mutex_lock(&lock);
  size_t i = find(r, p);
  if (i) r->items[i - 1] = r->items[--r->count];
  pthread_mutex_unlock(&lock);
  return i != 0;
}

int km_registry_has(struct km_registry *r, void *p) {
  if (!p) return 0;
  pthread_mutex_lock(&lock);
  size_t i = find(r, p);
  pthread_mutex_unlock(&lock);
  return i != 0;
}

void km_registry_atfork_prepare(void) { pthread_mutex_lock(&lock); }
void km_registry_atfork_parent(void) { pthread_mutex_unlock(&lock); }
void km_registry_atfork_child(void) { pthread_mutex_init(&lock, NULL); }
