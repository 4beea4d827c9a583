/*
 * Reads layer-link frames on stdin (as the TS codec encodes them), decodes each with the
 * generated C decoders and prints what C sees, one line per frame: the message name, the id,
 * then field=value in wire order (strings and bytes in hex, lists as [item;item]). A frame C cannot
 * decode exactly (short, or bytes left over) ends the program with status 3.
 * scripts/gen-layer-header.test.ts compares the lines with the TS decoder's view.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "generated/layer_protocol.h"

static void hex(const uint8_t *p, uint32_t n) {
  for (uint32_t i = 0; i < n; i++) printf("%02x", p[i]);
}

static void print_u8(const char *f, uint8_t v) { printf(" %s=%u", f, v); }
static void print_u16(const char *f, uint16_t v) { printf(" %s=%u", f, v); }
static void print_u32(const char *f, uint32_t v) { printf(" %s=%" PRIu32, f, v); }
static void print_u64(const char *f, uint64_t v) { printf(" %s=%" PRIu64, f, v); }
static void print_i32(const char *f, int32_t v) { printf(" %s=%" PRId32, f, v); }
static void print_i64(const char *f, int64_t v) { printf(" %s=%" PRId64, f, v); }
static void print_str(const char *f, struct km_str v) {
  printf(" %s=", f);
  hex((const uint8_t *)v.p, v.n);
}
static void print_bytes(const char *f, struct km_bytes v) {
  printf(" %s=", f);
  hex(v.p, v.n);
}

#define PRINT_FIELD(type, field) print_##type(#field, m.field);
#define LIST_PRINTER(lower, UPPER)                                   \
  static void print_list_##lower(const char *f, struct km_list l) {  \
    printf(" %s=[", f);                                              \
    struct km_rd r = km_list_reader(&l);                             \
    for (uint32_t i = 0; i < l.count; i++) {                         \
      struct km_item_##lower m;                                      \
      km_dec_item_##lower(&r, &m);                                   \
      printf("%s{", i ? ";" : "");                                   \
      KM_ITEM_FIELDS_##UPPER(PRINT_FIELD)                            \
      printf(" }");                                                  \
    }                                                                \
    printf("]");                                                     \
  }
LIST_PRINTER(pattern, PATTERN)
LIST_PRINTER(dir_entry, DIR_ENTRY)
LIST_PRINTER(address, ADDRESS)
LIST_PRINTER(net_filter, NET_FILTER)

int main(void) {
  static uint8_t in[1 << 20];
  size_t n = fread(in, 1, sizeof in, stdin);
  struct km_rd all = km_reader(in, n);
  while (all.left > 0) {
    uint32_t length, id;
    uint16_t type;
    km_get_u32(&all, &length), km_get_u16(&all, &type), km_get_u32(&all, &id);
    const uint8_t *body = km_take(&all, length - (KM_HEADER_SIZE - 4));
    if (all.bad || !body) return 3;
    struct km_rd r = km_reader(body, length - (KM_HEADER_SIZE - 4));
    switch (type) {
#define CASE(lower, UPPER)                   \
  case KM_MSG_##UPPER: {                     \
    struct km_msg_##lower m;                 \
    km_dec_msg_##lower(&r, &m);              \
    if (r.bad || r.left) return 3;           \
    printf("%s id=%" PRIu32, #lower, id);    \
    KM_FIELDS_##UPPER(PRINT_FIELD)           \
    printf("\n");                            \
    break;                                   \
  }
      KM_MESSAGES(CASE)
      default:
        return 3;
    }
  }
  return 0;
}
