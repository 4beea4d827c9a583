/* Name lookups through the agent (dns.h). */
#define _GNU_SOURCE
#include "dns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "layer.h"
#include "link.h"
#include "real.h"
#include "registry.h"

#define KM_MAX_ADDRS 64

static struct km_registry lists = KM_REGISTRY_INIT;

int km_addr_is_loopback(int family, const uint8_t *b) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const uint8_t zero[16];
  if (family == KM_FAMILY_IPV6 && memcmp(b, mapped, 12) == 0) return km_addr_is_loopback(KM_FAMILY_IPV4, b + 12);
  if (family == KM_FAMILY_IPV4) return b[0] == 127 || memcmp(b, zero, 4) == 0;
  return memcmp(b, zero, 15) == 0 && (b[15] == 1 || b[15] == 0);
}

static int numeric_host(const char *node) {
  struct in6_addr a6;
  struct in_addr a4;
  return inet_pton(AF_INET6, node, &a6) == 1 || inet_aton(node, &a4) != 0;
}

struct ai_entry {
  struct addrinfo ai;
  struct sockaddr_in6 sa; /* big enough for either family */
};

int km_build_addrinfo(const struct km_addr *addrs, size_t n, const char *canon, uint16_t port,
                      const struct addrinfo *hints, struct addrinfo **res) {
  int family = hints ? hints->ai_family : AF_UNSPEC;
  int flags = hints ? hints->ai_flags : (AI_V4MAPPED | AI_ADDRCONFIG);
  int types[3][2] = {{SOCK_STREAM, IPPROTO_TCP}, {SOCK_DGRAM, IPPROTO_UDP}, {SOCK_RAW, 0}};
  size_t ntypes = 3;
  if (hints && hints->ai_socktype) {
    types[0][0] = hints->ai_socktype;
    types[0][1] = hints->ai_protocol ? hints->ai_protocol
                  : hints->ai_socktype == SOCK_STREAM ? IPPROTO_TCP
                  : hints->ai_socktype == SOCK_DGRAM ? IPPROTO_UDP : 0;
    ntypes = 1;
  } else if (hints && hints->ai_protocol) {
    ntypes = 0;
    for (size_t i = 0; i < 3; i++)
      if (types[i][1] == hints->ai_protocol) types[ntypes][0] = types[i][0], types[ntypes][1] = types[i][1], ntypes++;
  }
  /* Which addresses go in, in which form. */
  struct km_addr keep[KM_MAX_ADDRS];
  size_t nkeep = 0;
  int have_v6 = 0;
  for (size_t i = 0; i < n; i++) have_v6 |= addrs[i].family == KM_FAMILY_IPV6;
  for (size_t i = 0; i < n && nkeep < KM_MAX_ADDRS; i++) {
    struct km_addr a = addrs[i];
    if (family == AF_INET && a.family != KM_FAMILY_IPV4) continue;
    if (family == AF_INET6 && a.family == KM_FAMILY_IPV4) {
      if (!(flags & AI_V4MAPPED) || (have_v6 && !(flags & AI_ALL))) continue;
      memmove(a.bytes + 12, a.bytes, 4);
      memset(a.bytes, 0, 10);
      a.bytes[10] = a.bytes[11] = 0xff;
      a.family = KM_FAMILY_IPV6;
    }
    keep[nkeep++] = a;
  }
  size_t count = nkeep * ntypes;
  if (count == 0) return n == 0 ? EAI_NONAME : EAI_ADDRFAMILY;
  size_t canon_len = (flags & AI_CANONNAME) && canon ? strlen(canon) + 1 : 0;
  struct ai_entry *e = calloc(1, count * sizeof *e + canon_len);
  if (!e) return EAI_MEMORY;
  char *canon_copy = canon_len ? memcpy((char *)(e + count), canon, canon_len) : NULL;
  size_t k = 0;
  for (size_t i = 0; i < nkeep; i++) {
    for (size_t t = 0; t < ntypes; t++, k++) {
      struct addrinfo *ai = &e[k].ai;
      ai->ai_flags = flags;
      ai->ai_socktype = types[t][0];
      ai->ai_protocol = types[t][1];
      if (keep[i].family == KM_FAMILY_IPV4) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&e[k].sa;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        memcpy(&sin->sin_addr, keep[i].bytes, 4);
        ai->ai_family = AF_INET;
        ai->ai_addrlen = sizeof *sin;
      } else {
        e[k].sa.sin6_family = AF_INET6;
        e[k].sa.sin6_port = htons(port);
        memcpy(&e[k].sa.sin6_addr, keep[i].bytes, 16);
        ai->ai_family = AF_INET6;
        ai->ai_addrlen = sizeof e[k].sa;
      }
      ai->ai_addr = (struct sockaddr *)&e[k].sa;
      ai->ai_next = k + 1 < count ? &e[k + 1].ai : NULL;
    }
  }
  e[0].ai.ai_canonname = canon_copy;
  if (km_registry_add(&lists, &e[0].ai) < 0) {
    free(e);
    return EAI_MEMORY;
  }
  *res = &e[0].ai;
  return 0;
}

int km_dns_freeaddrinfo(struct addrinfo *ai) {
  if (!km_registry_take(&lists, ai)) return 0;
  free(ai); /* the first entry starts the one allocation */
  return 1;
}

/* Service → port, as glibc does for a numeric port or a name in /etc/services. */
static int service_port(const char *service, const struct addrinfo *hints, uint16_t *port) {
  *port = 0;
  if (!service) return 0;
  char *end;
  unsigned long v = strtoul(service, &end, 10);
  if (*service && !*end) {
    if (v > 65535) return EAI_SERVICE;
    *port = (uint16_t)v;
    return 0;
  }
  if (hints && (hints->ai_flags & AI_NUMERICSERV)) return EAI_NONAME;
  const char *proto = hints && hints->ai_socktype == SOCK_DGRAM ? "udp" : "tcp";
  struct servent se, *found = NULL;
  char buf[1024];
  if (getservbyname_r(service, proto, &se, buf, sizeof buf, &found) != 0 || !found) return EAI_SERVICE;
  *port = ntohs((uint16_t)found->s_port);
  return 0;
}

/* One GETADDRINFO round trip into `out` (up to KM_MAX_ADDRS). 0 or an EAI code. */
static int resolve(const char *node, int family, int socktype, int protocol, int flags, struct km_addr *out,
                   size_t *n, char *canon, size_t canon_len) {
  if (km_state != KM_ACTIVE) return EAI_AGAIN;
  uint8_t frame[KM_SEND_MAX];
  struct km_wr w = km_writer(frame, sizeof frame);
  size_t at = km_frame_begin(&w, KM_MSG_GETADDRINFO, 0);
  struct km_msg_getaddrinfo m = {km_cstr(node), family, socktype, protocol, flags};
  km_enc_msg_getaddrinfo(&w, &m);
  km_frame_end(&w, at);
  if (w.bad) return EAI_NONAME;
  struct km_reply reply;
  int rc = km_link_call(frame, w.len, KM_MSG_GETADDRINFO_OK, &reply);
  if (rc < 0) return EAI_AGAIN;
  struct km_rd r = km_reader(reply.body, reply.len);
  struct km_msg_getaddrinfo_ok ok;
  km_dec_msg_getaddrinfo_ok(&r, &ok);
  int eai = r.bad ? EAI_SYSTEM : ok.eai;
  *n = 0;
  if (eai == 0) {
    struct km_rd items = km_list_reader(&ok.addrs);
    for (uint32_t i = 0; i < ok.addrs.count && *n < KM_MAX_ADDRS; i++) {
      struct km_item_address a;
      km_dec_item_address(&items, &a);
      if (items.bad) break;
      size_t want = a.family == KM_FAMILY_IPV4 ? 4 : a.family == KM_FAMILY_IPV6 ? 16 : 0;
      if (!want || a.addr.n != want) continue;
      out[*n].family = a.family;
      memcpy(out[*n].bytes, a.addr.p, want);
      (*n)++;
    }
    size_t c = ok.canonname.n < canon_len - 1 ? ok.canonname.n : canon_len - 1;
    memcpy(canon, ok.canonname.p, c);
    canon[c] = 0;
  }
  free(reply.body);
  if (eai == EAI_SYSTEM) errno = EIO;
  return eai;
}

int km_dns_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res) {
  if (!node || !km_feature(KM_FLAG_REMOTE_DNS)) return KM_DNS_LOCAL;
  if ((hints && (hints->ai_flags & AI_NUMERICHOST)) || numeric_host(node)) return KM_DNS_LOCAL;
  int family = hints ? hints->ai_family : AF_UNSPEC;
  if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6) return KM_DNS_LOCAL;
  uint16_t port;
  int eai = service_port(service, hints, &port);
  if (eai) return eai;
  /* Under the guard: the user's machine's own files and resolver, never the pod's. */
  if (km_filter_dns_local(node, port)) return KM_REAL(getaddrinfo)(node, service, hints, res);
  struct km_addr addrs[KM_MAX_ADDRS];
  size_t n;
  char canon[1025];
  eai = resolve(node, family, hints ? hints->ai_socktype : 0, hints ? hints->ai_protocol : 0,
                hints ? hints->ai_flags : 0, addrs, &n, canon, sizeof canon);
  if (eai) return eai;
  return km_build_addrinfo(addrs, n, canon[0] ? canon : node, port, hints, res);
}

/* Lays a hostent out in the caller's buffer, as the _r functions must. 0 or ERANGE. */
static int fill_hostent(const char *name, int af, const uint8_t *addrs, size_t n, struct hostent *ret, char *buf,
                        size_t len) {
  size_t alen = af == AF_INET ? 4 : 16;
  size_t name_len = strlen(name) + 1;
  size_t need = sizeof(char *) * (n + 2) + alen * n + name_len + sizeof(char *);
  if (len < need) return ERANGE;
  char **aliases = (char **)buf;
  char **list = aliases + 1;
  char *data = (char *)(list + n + 1);
  aliases[0] = NULL;
  for (size_t i = 0; i < n; i++) {
    list[i] = memcpy(data, addrs + i * alen, alen);
    data += alen;
  }
  list[n] = NULL;
  ret->h_name = memcpy(data, name, name_len);
  ret->h_aliases = aliases;
  ret->h_addrtype = af;
  ret->h_length = (int)alen;
  ret->h_addr_list = list;
  return 0;
}

static int h_error_of(int eai) {
  return eai == EAI_AGAIN ? TRY_AGAIN : (eai == EAI_NONAME || eai == EAI_NODATA) ? HOST_NOT_FOUND : NO_RECOVERY;
}

int km_dns_hostbyname(const char *name, int af, struct hostent *ret, char *buf, size_t len, struct hostent **result,
                      int *h_err) {
  if (!name || !km_feature(KM_FLAG_REMOTE_DNS) || numeric_host(name)) return KM_DNS_LOCAL;
  if (af != AF_INET && af != AF_INET6) return KM_DNS_LOCAL;
  if (km_filter_dns_local(name, 0)) return KM_REAL(gethostbyname2_r)(name, af, ret, buf, len, result, h_err);
  *result = NULL;
  struct km_addr addrs[KM_MAX_ADDRS];
  size_t n;
  char canon[1025];
  int eai = resolve(name, af, SOCK_STREAM, 0, 0, addrs, &n, canon, sizeof canon);
  uint8_t packed[KM_MAX_ADDRS * 16];
  size_t k = 0;
  for (size_t i = 0; eai == 0 && i < n; i++) {
    if ((af == AF_INET) != (addrs[i].family == KM_FAMILY_IPV4)) continue;
    memcpy(packed + k * (af == AF_INET ? 4 : 16), addrs[i].bytes, af == AF_INET ? 4 : 16);
    k++;
  }
  if (eai == 0 && k == 0) eai = EAI_NONAME;
  if (eai) {
    *h_err = h_error_of(eai);
    return eai == EAI_AGAIN ? EAGAIN : ENOENT;
  }
  int rc = fill_hostent(canon[0] ? canon : name, af, packed, k, ret, buf, len);
  if (rc) {
    *h_err = NETDB_INTERNAL;
    return rc;
  }
  *h_err = 0;
  *result = ret;
  return 0;
}

/* One GETNAMEINFO round trip. 0 or an EAI code. */
static int reverse(int family, const uint8_t *bytes, char *host, size_t host_len) {
  if (km_state != KM_ACTIVE) return EAI_AGAIN;
  uint8_t frame[256];
  struct km_wr w = km_writer(frame, sizeof frame);
  size_t at = km_frame_begin(&w, KM_MSG_GETNAMEINFO, 0);
  struct km_bytes addr = {bytes, family == KM_FAMILY_IPV4 ? 4 : 16};
  struct km_msg_getnameinfo m = {(uint8_t)family, addr};
  km_enc_msg_getnameinfo(&w, &m);
  km_frame_end(&w, at);
  struct km_reply reply;
  if (km_link_call(frame, w.len, KM_MSG_GETNAMEINFO_OK, &reply) < 0) return EAI_AGAIN;
  struct km_rd r = km_reader(reply.body, reply.len);
  struct km_msg_getnameinfo_ok ok;
  km_dec_msg_getnameinfo_ok(&r, &ok);
  int eai = r.bad ? EAI_FAIL : ok.eai;
  if (eai == 0) {
    if (ok.host.n + 1 > host_len) eai = EAI_OVERFLOW;
    else memcpy(host, ok.host.p, ok.host.n), host[ok.host.n] = 0;
  }
  free(reply.body);
  return eai;
}

int km_dns_hostbyaddr(const void *addr, socklen_t alen, int type, struct hostent *ret, char *buf, size_t len,
                      struct hostent **result, int *h_err) {
  if (!addr || !km_feature(KM_FLAG_REMOTE_DNS)) return KM_DNS_LOCAL;
  if (!((type == AF_INET && alen == 4) || (type == AF_INET6 && alen == 16))) return KM_DNS_LOCAL;
  int family = type == AF_INET ? KM_FAMILY_IPV4 : KM_FAMILY_IPV6;
  if (km_addr_is_loopback(family, addr)) return KM_DNS_LOCAL;
  if (km_filter_dns_addr_local(family, addr, 0)) return KM_REAL(gethostbyaddr_r)(addr, alen, type, ret, buf, len, result, h_err);
  *result = NULL;
  char host[1025];
  int eai = reverse(family, addr, host, sizeof host);
  if (eai) {
    *h_err = h_error_of(eai);
    return eai == EAI_AGAIN ? EAGAIN : ENOENT;
  }
  int rc = fill_hostent(host, type, addr, 1, ret, buf, len);
  if (rc) {
    *h_err = NETDB_INTERNAL;
    return rc;
  }
  *h_err = 0;
  *result = ret;
  return 0;
}

int km_dns_getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen, char *serv,
                       socklen_t servlen, int flags) {
  if (!host || hostlen == 0 || (flags & NI_NUMERICHOST) || !sa || !km_feature(KM_FLAG_REMOTE_DNS)) return KM_DNS_LOCAL;
  const uint8_t *bytes;
  int family;
  if (sa->sa_family == AF_INET && salen >= sizeof(struct sockaddr_in)) {
    bytes = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr, family = KM_FAMILY_IPV4;
  } else if (sa->sa_family == AF_INET6 && salen >= sizeof(struct sockaddr_in6)) {
    bytes = (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr, family = KM_FAMILY_IPV6;
  } else {
    return KM_DNS_LOCAL;
  }
  if (km_addr_is_loopback(family, bytes)) return KM_DNS_LOCAL;
  uint16_t port = ntohs(((const struct sockaddr_in *)sa)->sin_port); /* same offset in sockaddr_in6 */
  if (km_filter_dns_addr_local(family, bytes, port)) return KM_REAL(getnameinfo)(sa, salen, host, hostlen, serv, servlen, flags);
  /* The service part (and the numeric fallback) are libc's: /etc/services is the user's. */
  if (serv && servlen) {
    int eai = KM_REAL(getnameinfo)(sa, salen, NULL, 0, serv, servlen, flags);
    if (eai) return eai;
  }
  char name[1025];
  int eai = reverse(family, bytes, name, sizeof name);
  if (eai == EAI_NONAME && !(flags & NI_NAMEREQD))
    return KM_REAL(getnameinfo)(sa, salen, host, hostlen, NULL, 0, flags | NI_NUMERICHOST);
  if (eai) return eai;
  if (flags & NI_NOFQDN) {
    char *dot = strchr(name, '.');
    if (dot) *dot = 0;
  }
  if (strlen(name) + 1 > hostlen) return EAI_OVERFLOW;
  strcpy(host, name);
  return 0;
}
