/*
 * Hooks: name lookups (dns.h does the work). Each successful forward lookup, through the agent or
 * on this machine, is also remembered by name for the outgoing filter (names.h).
 */
#define _GNU_SOURCE
#include <netdb.h>
#include <string.h>

#include "dns.h"
#include "hooks.h"
#include "names.h"

KM_EXPORT int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res) {
  if (!km_on()) return KM_REAL(getaddrinfo)(node, service, hints, res);
  int rc = KM_GUARDED(km_dns_getaddrinfo(node, service, hints, res));
  if (rc == KM_DNS_LOCAL) rc = KM_REAL(getaddrinfo)(node, service, hints, res);
  if (rc == 0 && res) KM_GUARDED((km_names_remember_ai(node, *res), 0));
  return rc;
}

/* After a gethostbyname* that succeeded: remember the names (errno and h_errno untouched). */
static void remember(const char *name, int rc, const struct hostent *result) {
  if (rc == 0 && result) KM_GUARDED((km_names_remember_hostent(name, result), 0));
}

KM_EXPORT void freeaddrinfo(struct addrinfo *ai) {
  if (km_dns_freeaddrinfo(ai)) return;
  KM_REAL(freeaddrinfo)(ai);
}

KM_EXPORT int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf, size_t len,
                               struct hostent **result, int *h_err) {
  if (!km_on()) return KM_REAL(gethostbyname2_r)(name, af, ret, buf, len, result, h_err);
  int rc = KM_GUARDED(km_dns_hostbyname(name, af, ret, buf, len, result, h_err));
  if (rc == KM_DNS_LOCAL) rc = KM_REAL(gethostbyname2_r)(name, af, ret, buf, len, result, h_err);
  remember(name, rc, result ? *result : NULL);
  return rc;
}

KM_EXPORT int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t len, struct hostent **result,
                              int *h_err) {
  if (!km_on()) return KM_REAL(gethostbyname_r)(name, ret, buf, len, result, h_err);
  int rc = KM_GUARDED(km_dns_hostbyname(name, AF_INET, ret, buf, len, result, h_err));
  if (rc == KM_DNS_LOCAL) rc = KM_REAL(gethostbyname_r)(name, ret, buf, len, result, h_err);
  remember(name, rc, result ? *result : NULL);
  return rc;
}

KM_EXPORT int gethostbyaddr_r(const void *addr, socklen_t alen, int type, struct hostent *ret, char *buf, size_t len,
                              struct hostent **result, int *h_err) {
  if (km_on()) {
    int rc = KM_GUARDED(km_dns_hostbyaddr(addr, alen, type, ret, buf, len, result, h_err));
    if (rc != KM_DNS_LOCAL) return rc;
  }
  return KM_REAL(gethostbyaddr_r)(addr, alen, type, ret, buf, len, result, h_err);
}

/* The non-reentrant forms share one static result, as glibc's do. */
static struct hostent static_host;
static char static_buf[8192];

static struct hostent *static_result(int rc, struct hostent *result, int h_err) {
  if (rc == 0 && result) return result;
  h_errno = h_err;
  return NULL;
}

KM_EXPORT struct hostent *gethostbyname2(const char *name, int af) {
  if (!km_on()) return KM_REAL(gethostbyname2)(name, af);
  struct hostent *result;
  int h_err = 0;
  int rc = KM_GUARDED(km_dns_hostbyname(name, af, &static_host, static_buf, sizeof static_buf, &result, &h_err));
  struct hostent *h = rc != KM_DNS_LOCAL ? static_result(rc, result, h_err) : KM_REAL(gethostbyname2)(name, af);
  remember(name, h ? 0 : -1, h);
  return h;
}

KM_EXPORT struct hostent *gethostbyname(const char *name) {
  if (!km_on()) return KM_REAL(gethostbyname)(name);
  struct hostent *result;
  int h_err = 0;
  int rc = KM_GUARDED(km_dns_hostbyname(name, AF_INET, &static_host, static_buf, sizeof static_buf, &result, &h_err));
  struct hostent *h = rc != KM_DNS_LOCAL ? static_result(rc, result, h_err) : KM_REAL(gethostbyname)(name);
  remember(name, h ? 0 : -1, h);
  return h;
}

KM_EXPORT struct hostent *gethostbyaddr(const void *addr, socklen_t alen, int type) {
  if (km_on()) {
    struct hostent *result;
    int h_err = 0;
    int rc = KM_GUARDED(km_dns_hostbyaddr(addr, alen, type, &static_host, static_buf, sizeof static_buf, &result, &h_err));
    if (rc != KM_DNS_LOCAL) return static_result(rc, result, h_err);
  }
  return KM_REAL(gethostbyaddr)(addr, alen, type);
}

KM_EXPORT int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen, char *serv,
                          socklen_t servlen, int flags) {
  if (km_on()) {
    int rc = KM_GUARDED(km_dns_getnameinfo(sa, salen, host, hostlen, serv, servlen, flags));
    if (rc != KM_DNS_LOCAL) return rc;
  }
  return KM_REAL(getnameinfo)(sa, salen, host, hostlen, serv, servlen, flags);
}
