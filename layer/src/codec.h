/*
 * Primitives of the layer link's wire format (src/protocol/layer-messages.ts): little-endian
 * integers, length-prefixed strings and bytes, counted lists. The generated header
 * (generated/layer_protocol.h) builds every message's encoder and decoder from these.
 *
 * Readers and writers never fail midway: a short read or a full buffer sets `bad`, later calls do
 * nothing, and the caller checks `bad` once at the end.
 */
#ifndef KM_CODEC_H
#define KM_CODEC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/** A string inside a received frame: not NUL-terminated. */
struct km_str {
  const char *p;
  uint32_t n;
};

/** Bytes inside a received frame, or to be sent. */
struct km_bytes {
  const uint8_t *p;
  uint32_t n;
};

/** A list inside a frame: `count` items encoded back to back in p[0..n). */
struct km_list {
  uint32_t count;
  const uint8_t *p;
  size_t n;
};

struct km_rd {
  const uint8_t *p;
  size_t left;
  int bad;
};

struct km_wr {
  uint8_t *buf;
  size_t cap;
  size_t len;
  int bad;
};

static inline struct km_rd km_reader(const void *p, size_t n) {
  struct km_rd r = {(const uint8_t *)p, n, 0};
  return r;
}

static inline struct km_wr km_writer(void *buf, size_t cap) {
  struct km_wr w = {(uint8_t *)buf, cap, 0, 0};
  return w;
}

static inline const uint8_t *km_take(struct km_rd *r, size_t n) {
  if (r->bad || r->left < n) {
    r->bad = 1;
    return NULL;
  }
  const uint8_t *p = r->p;
  r->p += n;
  r->left -= n;
  return p;
}

static inline uint64_t km_le(const uint8_t *p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

#define KM_GET_INT(name, type, n)                               \
  static inline void km_get_##name(struct km_rd *r, type *v) { \
    const uint8_t *p = km_take(r, n);                           \
    *v = p ? (type)km_le(p, n) : 0;                             \
  }
KM_GET_INT(u8, uint8_t, 1)
KM_GET_INT(u16, uint16_t, 2)
KM_GET_INT(u32, uint32_t, 4)
KM_GET_INT(u64, uint64_t, 8)
KM_GET_INT(i32, int32_t, 4)
KM_GET_INT(i64, int64_t, 8)
#undef KM_GET_INT

static inline void km_get_bytes(struct km_rd *r, struct km_bytes *v) {
  uint32_t n;
  km_get_u32(r, &n);
  const uint8_t *p = km_take(r, n);
  v->p = p;
  v->n = p ? n : 0;
}

static inline void km_get_str(struct km_rd *r, struct km_str *v) {
  struct km_bytes b;
  km_get_bytes(r, &b);
  v->p = (const char *)b.p;
  v->n = b.n;
}

/** Reads a count, then walks the items with `skip` to find where the list ends. */
static inline void km_get_list(struct km_rd *r, struct km_list *v, void (*skip)(struct km_rd *)) {
  km_get_u32(r, &v->count);
  const uint8_t *start = r->p;
  /* Every item is at least one byte: a larger count cannot be honest. */
  if (!r->bad && v->count > r->left) r->bad = 1;
  for (uint32_t i = 0; i < v->count && !r->bad; i++) skip(r);
  v->p = start;
  v->n = r->bad ? 0 : (size_t)(r->p - start);
  if (r->bad) v->count = 0;
}

/** A reader over a list's items; decode them with km_dec_item_*. */
static inline struct km_rd km_list_reader(const struct km_list *l) { return km_reader(l->p, l->n); }

static inline uint8_t *km_room(struct km_wr *w, size_t n) {
  if (w->bad || w->cap - w->len < n) {
    w->bad = 1;
    return NULL;
  }
  uint8_t *p = w->buf + w->len;
  w->len += n;
  return p;
}

static inline void km_put_le(uint8_t *p, uint64_t v, int n) {
  for (int i = 0; i < n; i++, v >>= 8) p[i] = (uint8_t)v;
}

#define KM_PUT_INT(name, type, n)                              \
  static inline void km_put_##name(struct km_wr *w, type v) { \
    uint8_t *p = km_room(w, n);                                \
    if (p) km_put_le(p, (uint64_t)v, n);                       \
  }
KM_PUT_INT(u8, uint8_t, 1)
KM_PUT_INT(u16, uint16_t, 2)
KM_PUT_INT(u32, uint32_t, 4)
KM_PUT_INT(u64, uint64_t, 8)
KM_PUT_INT(i32, int32_t, 4)
KM_PUT_INT(i64, int64_t, 8)
#undef KM_PUT_INT

static inline void km_put_bytes(struct km_wr *w, struct km_bytes v) {
  km_put_u32(w, v.n);
  uint8_t *p = km_room(w, v.n);
  if (p && v.n) memcpy(p, v.p, v.n);
}

static inline void km_put_str(struct km_wr *w, struct km_str v) {
  struct km_bytes b = {(const uint8_t *)v.p, v.n};
  km_put_bytes(w, b);
}

/** Writes an already encoded list (count, then the items' bytes). */
static inline void km_put_list(struct km_wr *w, struct km_list v) {
  km_put_u32(w, v.count);
  uint8_t *p = km_room(w, v.n);
  if (p && v.n) memcpy(p, v.p, v.n);
}

static inline struct km_str km_cstr(const char *s) {
  struct km_str v = {s, s ? (uint32_t)strlen(s) : 0};
  return v;
}

/** Starts a frame at the writer's position: the length is patched by km_frame_end. */
static inline size_t km_frame_begin(struct km_wr *w, uint16_t type, uint32_t id) {
  size_t at = w->len;
  km_put_u32(w, 0);
  km_put_u16(w, type);
  km_put_u32(w, id);
  return at;
}

static inline void km_frame_end(struct km_wr *w, size_t at) {
  if (!w->bad) km_put_le(w->buf + at, (uint64_t)(w->len - at - 4), 4);
}

#endif
