/* The outgoing and DNS filters (filter.h). */
#define _GNU_SOURCE
#include "filter.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

int km_filter_load(struct km_filter *f, uint8_t side, const struct km_list *list) {
  free(f->entries);
  memset(f, 0, sizeof *f);
  if (side != KM_FILTER_SIDE_REMOTE && side != KM_FILTER_SIDE_LOCAL) return side == KM_FILTER_SIDE_NONE ? 0 : -EINVAL;
  f->entries = calloc(list->count ? list->count : 1, sizeof *f->entries);
  if (!f->entries) return -ENOMEM;
  struct km_rd r = km_list_reader(list);
  for (uint32_t i = 0; i < list->count; i++) {
    struct km_item_net_filter item;
    km_dec_item_net_filter(&r, &item);
    if (r.bad) return -EINVAL;
    struct km_filter_entry *e = &f->entries[i];
    size_t alen = item.family == KM_FAMILY_IPV4 ? 4 : item.family == KM_FAMILY_IPV6 ? 16 : 0;
    int has_addr = item.kind == KM_FILTER_KIND_ADDRESS || item.kind == KM_FILTER_KIND_SUBNET;
    if (item.kind > KM_FILTER_KIND_NAME || (has_addr && (!alen || item.addr.n != alen || item.prefix > alen * 8)) ||
        (item.kind == KM_FILTER_KIND_NAME && (item.name.n == 0 || item.name.n >= sizeof e->name)))
      return -EINVAL;
    e->kind = item.kind;
    e->proto = item.proto;
    e->port = item.port;
    if (has_addr) {
      e->family = item.family;
      e->prefix = item.prefix;
      memcpy(e->addr, item.addr.p, alen);
    }
    if (item.kind == KM_FILTER_KIND_NAME) memcpy(e->name, item.name.p, item.name.n);
  }
  f->side = side;
  f->count = list->count;
  return 0;
}

int km_filter_wants_names(void) {
  const struct km_filter *f = &km_config.outgoing_filter;
  for (size_t i = 0; i < f->count; i++)
    if (f->entries[i].kind == KM_FILTER_KIND_NAME) return 1;
  return 0;
}

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

static int same_text(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (lower(a[i]) != lower(b[i])) return 0;
  return 1;
}

int km_name_matches(const char *entry, const char *resolved) {
  size_t le = strlen(entry), lr = strlen(resolved);
  if (lr && resolved[lr - 1] == '.') lr--;
  if (le == 0 || lr < le) return 0;
  if (lr == le) return same_text(entry, resolved, le);
  /* "cluster.local" matches "db.default.svc.cluster.local"; "db" matches "db.default". */
  if (resolved[lr - le - 1] == '.' && same_text(entry, resolved + lr - le, le)) return 1;
  return resolved[le] == '.' && same_text(entry, resolved, le);
}

static int port_ok(const struct km_filter_entry *e, uint16_t port) { return e->port == 0 || e->port == port; }

static int proto_ok(const struct km_filter_entry *e, int udp) {
  return e->proto == KM_FILTER_PROTO_ANY || e->proto == (udp ? KM_FILTER_PROTO_UDP : KM_FILTER_PROTO_TCP);
}

/* Address and subnet entries; `family` is KM_FAMILY_* with v4-mapped already taken as IPv4. */
static int addr_ok(const struct km_filter_entry *e, int family, const uint8_t *bytes) {
  static const uint8_t zero[16];
  size_t alen = e->family == KM_FAMILY_IPV4 ? 4 : 16;
  if (e->kind == KM_FILTER_KIND_ADDRESS && memcmp(e->addr, zero, alen) == 0) return 1; /* 0.0.0.0, :: */
  if (e->family != family) return 0;
  size_t full = e->prefix / 8, rest = e->prefix % 8;
  if (memcmp(e->addr, bytes, full) != 0) return 0;
  if (!rest) return 1;
  uint8_t mask = (uint8_t)(0xff << (8 - rest));
  return (e->addr[full] & mask) == (bytes[full] & mask);
}

static int name_cb(const char *resolved, const void *entry) { return km_name_matches(entry, resolved); }

static int outgoing_match(const struct km_filter_entry *e, int family, const uint8_t *bytes, uint16_t port, int udp) {
  if (!proto_ok(e, udp) || !port_ok(e, port)) return 0;
  switch (e->kind) {
    case KM_FILTER_KIND_PORT: return 1;
    case KM_FILTER_KIND_ADDRESS:
    case KM_FILTER_KIND_SUBNET: return addr_ok(e, family, bytes);
    case KM_FILTER_KIND_NAME: return km_names_match(family, bytes, name_cb, e->name);
    default: return 0;
  }
}

static int as_v4(int family, const uint8_t *bytes, const uint8_t **out) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  *out = bytes;
  if (family == KM_FAMILY_IPV6 && memcmp(bytes, mapped, 12) == 0) {
    *out = bytes + 12;
    return KM_FAMILY_IPV4;
  }
  return family;
}

int km_filter_outgoing_remote(int family, const uint8_t *bytes, uint16_t port, int udp) {
  const struct km_filter *f = &km_config.outgoing_filter;
  if (f->side == KM_FILTER_SIDE_NONE) return 1;
  family = as_v4(family, bytes, &bytes);
  int matched = 0;
  for (size_t i = 0; i < f->count && !matched; i++) matched = outgoing_match(&f->entries[i], family, bytes, port, udp);
  return f->side == KM_FILTER_SIDE_REMOTE ? matched : !matched;
}

int km_filter_dns_local(const char *name, uint16_t port) {
  /* A name the outgoing filter names resolves on that side (mirrord adds it to dns.filter). */
  const struct km_filter *o = &km_config.outgoing_filter;
  for (size_t i = 0; i < o->count; i++) {
    const struct km_filter_entry *e = &o->entries[i];
    if (e->kind == KM_FILTER_KIND_NAME && port_ok(e, port) && km_name_matches(e->name, name))
      return o->side == KM_FILTER_SIDE_LOCAL;
  }
  const struct km_filter *d = &km_config.dns_filter;
  if (d->side == KM_FILTER_SIDE_NONE) return 0;
  int matched = 0;
  for (size_t i = 0; i < d->count && !matched; i++) {
    const struct km_filter_entry *e = &d->entries[i];
    /* Address entries never match a name: numeric hosts do not reach the filter. */
    matched = port_ok(e, port) && (e->kind == KM_FILTER_KIND_PORT || (e->kind == KM_FILTER_KIND_NAME && km_name_matches(e->name, name)));
  }
  return d->side == KM_FILTER_SIDE_LOCAL ? matched : !matched;
}

int km_filter_dns_addr_local(int family, const uint8_t *bytes, uint16_t port) {
  const struct km_filter *d = &km_config.dns_filter;
  if (d->side == KM_FILTER_SIDE_NONE) return 0;
  family = as_v4(family, bytes, &bytes);
  int matched = 0;
  for (size_t i = 0; i < d->count && !matched; i++) {
    const struct km_filter_entry *e = &d->entries[i];
    matched = port_ok(e, port) && (e->kind == KM_FILTER_KIND_PORT ||
                                   ((e->kind == KM_FILTER_KIND_ADDRESS || e->kind == KM_FILTER_KIND_SUBNET) && addr_ok(e, family, bytes)));
  }
  return d->side == KM_FILTER_SIDE_LOCAL ? matched : !matched;
}
