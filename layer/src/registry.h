/*
 * Sets of pointers the layer handed out (addrinfo lists, DIR streams), so that freeaddrinfo and
 * closedir free only what the layer built and pass the rest to libc.
 */
#ifndef KM_REGISTRY_H
#define KM_REGISTRY_H

#include <pthread.h>
#include <stddef.h>

/* Every set shares one lock, so that fork can hold it (km_registry_atfork_*). */
struct km_registry {
  void **items;
  size_t count, cap;
};
#define KM_REGISTRY_INIT {NULL, 0, 0}

/** 0, or -ENOMEM. */
int km_registry_add(struct km_registry *r, void *p);
/** 1 if `p` was in the set (it is removed), else 0. */
int km_registry_take(struct km_registry *r, void *p);
/** 1 if `p` is in the set. */
int km_registry_has(struct km_registry *r, void *p);

void km_registry_atfork_prepare(void);
void km_registry_atfork_parent(void);
void km_registry_atfork_child(void);

#endif
