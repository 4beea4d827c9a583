/*
 * C unit tests of the outgoing and DNS filters (filter.c) and the resolved-name table (names.c):
 * the name rule, HELLO_OK's filter lists, remote and local sides, names remembered from
 * addrinfo lists and hostents, v4-mapped destinations, and the table's eviction.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>

#include "check.h"
#include "filter.h"
#include "layer.h"
#include "link.h"
#include "names.h"

/* One netFilter item as the proxy writes it; `ip` is text ("10.0.0.0", "fd00::") or NULL. */
struct item {
  uint8_t kind, proto;
  const char *ip;
  uint8_t prefix;
  uint16_t port;
  const char *name;
};

static void encode_items(struct km_wr *w, const struct item *items, size_t n, struct km_list *out) {
  size_t start = w->len;
  static uint8_t addrs[32][16];
  for (size_t i = 0; i < n; i++) {
    struct km_item_net_filter m = {items[i].kind, items[i].proto, 0, {NULL, 0}, items[i].prefix, items[i].port, km_cstr(items[i].name ? items[i].name : "")};
    if (items[i].ip) {
      int v6 = strchr(items[i].ip, ':') != NULL;
      inet_pton(v6 ? AF_INET6 : AF_INET, items[i].ip, addrs[i]);
      m.family = v6 ? KM_FAMILY_IPV6 : KM_FAMILY_IPV4;
      m.addr = (struct km_bytes){addrs[i], v6 ? 16u : 4u};
    }
    km_enc_item_net_filter(w, &m);
  }
  out->count = (uint32_t)n, out->p = w->buf + start, out->n = w->len - start;
}

/* HELLO_OK with these two filters (and nothing else); the km_config_parse result. */
static int load(uint8_t out_side, const struct item *out, size_t nout, uint8_t dns_side, const struct item *dns, size_t ndns) {
  uint8_t lists[4096], frame[8192];
  struct km_wr lw = km_writer(lists, sizeof lists);
  struct km_msg_hello_ok m = {.flags = KM_FLAG_REMOTE_DNS | KM_FLAG_OUTGOING_TCP | KM_FLAG_OUTGOING_UDP, .connect_timeout_ms = 5000,
                              .outgoing_filter_side = out_side, .dns_filter_side = dns_side};
  encode_items(&lw, out, nout, &m.outgoing_filter);
  encode_items(&lw, dns, ndns, &m.dns_filter);
  struct km_wr w = km_writer(frame, sizeof frame);
  km_enc_msg_hello_ok(&w, &m);
  CHECK(!lw.bad && !w.bad);
  return km_config_parse(frame, w.len);
}

static int v4_remote(const char *ip, uint16_t port, int udp) {
  uint8_t b[4];
  inet_pton(AF_INET, ip, b);
  return km_filter_outgoing_remote(KM_FAMILY_IPV4, b, port, udp);
}

static int v6_remote(const char *ip, uint16_t port, int udp) {
  uint8_t b[16];
  inet_pton(AF_INET6, ip, b);
  return km_filter_outgoing_remote(KM_FAMILY_IPV6, b, port, udp);
}

static void remember_v4(const char *name, const char *ip) {
  uint8_t b[4];
  inet_pton(AF_INET, ip, b);
  km_names_remember(name, KM_FAMILY_IPV4, b);
}

static void test_name_rule(void) {
  CHECK(km_name_matches("ip-info", "ip-info"));
  CHECK(km_name_matches("ip-info", "IP-Info."));
  CHECK(km_name_matches("ip-info", "ip-info.default.svc.cluster.local"));
  CHECK(km_name_matches("cluster.local", "ip-info.default.svc.cluster.local"));
  CHECK(km_name_matches("default.svc", "ip-info.default.svc"));
  CHECK(!km_name_matches("ip-info", "ip-info2"));
  CHECK(!km_name_matches("info", "ip-info"));
  CHECK(!km_name_matches("db", "redb.example.com"));
  CHECK(!km_name_matches("ip-info.default", "ip-info"));
  CHECK(!km_name_matches("luster.local", "a.cluster.local"));
}

static void test_load_refuses_bad_items(void) {
  const struct item no_name[] = {{KM_FILTER_KIND_NAME, 0, NULL, 0, 0, ""}};
  const struct item long_prefix[] = {{KM_FILTER_KIND_SUBNET, 0, "10.0.0.0", 33, 0, NULL}};
  const struct item no_addr[] = {{KM_FILTER_KIND_ADDRESS, 0, NULL, 0, 80, NULL}};
  const struct item bad_kind[] = {{9, 0, NULL, 0, 0, NULL}};
  CHECK_EQ_INT(load(KM_FILTER_SIDE_LOCAL, no_name, 1, 0, NULL, 0), -EINVAL);
  CHECK_EQ_INT(load(KM_FILTER_SIDE_LOCAL, long_prefix, 1, 0, NULL, 0), -EINVAL);
  CHECK_EQ_INT(load(KM_FILTER_SIDE_REMOTE, no_addr, 1, 0, NULL, 0), -EINVAL);
  CHECK_EQ_INT(load(KM_FILTER_SIDE_REMOTE, bad_kind, 1, 0, NULL, 0), -EINVAL);
  CHECK_EQ_INT(load(7, NULL, 0, 0, NULL, 0), -EINVAL);
  CHECK_EQ_INT(load(0, NULL, 0, 0, NULL, 0), 0);
  CHECK_EQ_INT(km_config.outgoing_filter.side, KM_FILTER_SIDE_NONE);
  CHECK(v4_remote("10.1.2.3", 80, 0)); /* no filter: everything goes through the pod */
}

static void test_outgoing_local(void) {
  const struct item local[] = {
      {KM_FILTER_KIND_NAME, KM_FILTER_PROTO_ANY, NULL, 0, 0, "ip-info"},
      {KM_FILTER_KIND_SUBNET, KM_FILTER_PROTO_TCP, "10.96.0.0", 12, 5432, NULL},
      {KM_FILTER_KIND_PORT, KM_FILTER_PROTO_UDP, NULL, 0, 53, NULL},
      {KM_FILTER_KIND_ADDRESS, KM_FILTER_PROTO_ANY, "fd00::7", 128, 0, NULL},
  };
  km_names_clear();
  CHECK_EQ_INT(load(KM_FILTER_SIDE_LOCAL, local, 4, 0, NULL, 0), 0);
  CHECK_EQ_INT(km_config.outgoing_filter.count, 4);
  CHECK(km_filter_wants_names());
  /* Before ip-info was resolved its address is just an address: through the pod. */
  CHECK(v4_remote("10.1.0.9", 80, 0));
  remember_v4("ip-info.default.svc.cluster.local", "10.1.0.9");
  CHECK(!v4_remote("10.1.0.9", 80, 0));
  CHECK(!v4_remote("10.1.0.9", 9999, 1)); /* any protocol, any port */
  CHECK(v4_remote("10.1.0.10", 80, 0));
  /* The subnet entry: tcp and port 5432 only. */
  CHECK(!v4_remote("10.100.1.1", 5432, 0));
  CHECK(v4_remote("10.100.1.1", 5432, 1));
  CHECK(v4_remote("10.100.1.1", 5433, 0));
  CHECK(v4_remote("10.112.0.1", 5432, 0)); /* outside 10.96.0.0/12 */
  /* The port entry: UDP to port 53, anywhere. */
  CHECK(!v4_remote("8.8.8.8", 53, 1));
  CHECK(v4_remote("8.8.8.8", 53, 0));
  CHECK(!v6_remote("fd00::7", 443, 0));
  CHECK(v6_remote("fd00::8", 443, 0));
  /* A v4-mapped destination is the IPv4 address it maps. */
  CHECK(!v6_remote("::ffff:10.1.0.9", 80, 0));
  CHECK(!v6_remote("::ffff:10.100.0.1", 5432, 0));
}

static void test_outgoing_remote(void) {
  const struct item remote[] = {
      {KM_FILTER_KIND_NAME, KM_FILTER_PROTO_TCP, NULL, 0, 80, "echo"},
      {KM_FILTER_KIND_ADDRESS, KM_FILTER_PROTO_ANY, "0.0.0.0", 32, 8443, NULL},
  };
  km_names_clear();
  CHECK_EQ_INT(load(KM_FILTER_SIDE_REMOTE, remote, 2, 0, NULL, 0), 0);
  /* Names from an addrinfo list, IPv4 and IPv6, and its canonical name. */
  struct sockaddr_in a4 = {.sin_family = AF_INET};
  struct sockaddr_in6 a6 = {.sin6_family = AF_INET6};
  inet_pton(AF_INET, "10.2.0.5", &a4.sin_addr);
  inet_pton(AF_INET6, "fd00::5", &a6.sin6_addr);
  struct addrinfo second = {.ai_family = AF_INET6, .ai_addr = (struct sockaddr *)&a6, .ai_addrlen = sizeof a6};
  struct addrinfo first = {.ai_family = AF_INET, .ai_addr = (struct sockaddr *)&a4, .ai_addrlen = sizeof a4,
                           .ai_canonname = "echo.default.svc.cluster.local", .ai_next = &second};
  km_names_remember_ai("ECHO", &first);
  CHECK(v4_remote("10.2.0.5", 80, 0));
  CHECK(v6_remote("fd00::5", 80, 0));
  CHECK(!v4_remote("10.2.0.5", 80, 1)); /* tcp:// only */
  CHECK(!v4_remote("10.2.0.5", 81, 0)); /* :80 only */
  CHECK(!v4_remote("10.2.0.6", 80, 0));
  CHECK(!v4_remote("127.0.0.1", 5432, 0)); /* not named: stays on this machine */
  CHECK(v4_remote("192.0.2.1", 8443, 0)); /* 0.0.0.0 is any address */
  CHECK(v6_remote("2001:db8::1", 8443, 1));
  /* A hostent's addresses too. */
  uint8_t h4[4] = {10, 2, 0, 7};
  char *list[] = {(char *)h4, NULL};
  struct hostent h = {.h_name = "echo", .h_addrtype = AF_INET, .h_length = 4, .h_addr_list = list};
  km_names_remember_hostent("echo", &h);
  CHECK(v4_remote("10.2.0.7", 80, 0));
}

static void test_dns(void) {
  const struct item out_local[] = {{KM_FILTER_KIND_NAME, KM_FILTER_PROTO_ANY, NULL, 0, 0, "ip-info"}};
  const struct item dns_remote[] = {
      {KM_FILTER_KIND_NAME, KM_FILTER_PROTO_ANY, NULL, 0, 0, "echo"},
      {KM_FILTER_KIND_NAME, KM_FILTER_PROTO_ANY, NULL, 0, 5432, "postgres"},
      {KM_FILTER_KIND_SUBNET, KM_FILTER_PROTO_ANY, "10.0.0.0", 8, 0, NULL},
  };
  CHECK_EQ_INT(load(KM_FILTER_SIDE_LOCAL, out_local, 1, KM_FILTER_SIDE_REMOTE, dns_remote, 3), 0);
  CHECK(km_filter_dns_local("ip-info", 80)); /* kept local by the outgoing filter */
  CHECK(km_filter_dns_local("ip-info.default", 0));
  CHECK(!km_filter_dns_local("echo", 0));
  CHECK(!km_filter_dns_local("postgres", 5432));
  CHECK(km_filter_dns_local("postgres", 0)); /* only lookups for port 5432 are remote */
  CHECK(km_filter_dns_local("example.com", 443));
  uint8_t in[4] = {10, 3, 0, 1}, out[4] = {192, 0, 2, 1};
  CHECK(!km_filter_dns_addr_local(KM_FAMILY_IPV4, in, 0));
  CHECK(km_filter_dns_addr_local(KM_FAMILY_IPV4, out, 0));
  /* The local side, without an outgoing filter. */
  const struct item dns_local[] = {{KM_FILTER_KIND_PORT, KM_FILTER_PROTO_ANY, NULL, 0, 5432, NULL}};
  CHECK_EQ_INT(load(0, NULL, 0, KM_FILTER_SIDE_LOCAL, dns_local, 1), 0);
  CHECK(km_filter_dns_local("postgres", 5432));
  CHECK(!km_filter_dns_local("postgres", 0));
  CHECK(!km_filter_wants_names());
  /* No filter: every lookup goes to the cluster. */
  CHECK_EQ_INT(load(0, NULL, 0, 0, NULL, 0), 0);
  CHECK(!km_filter_dns_local("anything", 0));
  CHECK(!km_filter_dns_addr_local(KM_FAMILY_IPV4, out, 0));
}

static int always(const char *name, const void *arg) {
  (void)name, (void)arg;
  return 1;
}

static void test_names_table(void) {
  const struct item named[] = {{KM_FILTER_KIND_NAME, KM_FILTER_PROTO_ANY, NULL, 0, 0, "svc"}};
  km_names_clear();
  CHECK_EQ_INT(load(KM_FILTER_SIDE_LOCAL, named, 1, 0, NULL, 0), 0);
  uint8_t b[4] = {10, 9, 0, 0};
  for (int i = 0; i < KM_NAMES_MAX; i++) {
    b[2] = (uint8_t)(i >> 8), b[3] = (uint8_t)i;
    km_names_remember("svc", KM_FAMILY_IPV4, b);
  }
  uint8_t first[4] = {10, 9, 0, 0}, second[4] = {10, 9, 0, 1};
  CHECK(km_names_match(KM_FAMILY_IPV4, first, always, NULL)); /* used now: the newest */
  km_names_remember("svc", KM_FAMILY_IPV4, second); /* the same pair: nothing new */
  uint8_t extra[4] = {10, 9, 9, 9};
  km_names_remember("svc", KM_FAMILY_IPV4, extra); /* full: the least recently used goes */
  CHECK(km_names_match(KM_FAMILY_IPV4, extra, always, NULL));
  CHECK(km_names_match(KM_FAMILY_IPV4, first, always, NULL));
  CHECK(km_names_match(KM_FAMILY_IPV4, second, always, NULL));
  uint8_t third[4] = {10, 9, 0, 2};
  CHECK(!km_names_match(KM_FAMILY_IPV4, third, always, NULL));
  /* Nothing is remembered while the outgoing filter names nothing. */
  km_names_clear();
  CHECK_EQ_INT(load(0, NULL, 0, 0, NULL, 0), 0);
  km_names_remember("svc", KM_FAMILY_IPV4, first);
  CHECK(!km_names_match(KM_FAMILY_IPV4, first, always, NULL));
}

void test_filters(void) {
  test_name_rule();
  test_load_refuses_bad_items();
  test_outgoing_local();
  test_outgoing_remote();
  test_dns();
  test_names_table();
  CHECK_EQ_INT(load(0, NULL, 0, 0, NULL, 0), 0);
  km_names_clear();
}
