/*
 * Name lookups through the agent. Each function returns KM_DNS_LOCAL when the call is not the
 * layer's (numeric host, DNS feature off, no host): the hook then calls libc.
 */
#ifndef KM_DNS_H
#define KM_DNS_H

#include <netdb.h>
#include <stdint.h>
#include <sys/socket.h>

#define KM_DNS_LOCAL 1

/** One address of a GETADDRINFO_OK answer. */
struct km_addr {
  uint8_t family; /* KM_FAMILY_IPV4 / KM_FAMILY_IPV6 */
  uint8_t bytes[16];
};

/** getaddrinfo(3): 0, an EAI_* code, or KM_DNS_LOCAL. */
int km_dns_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res);
/** freeaddrinfo(3) of a list the layer built: 1 (freed), or 0 (not ours). */
int km_dns_freeaddrinfo(struct addrinfo *ai);
/** gethostbyname2_r(3) semantics: 0 or an errno (ERANGE), or KM_DNS_LOCAL. */
int km_dns_hostbyname(const char *name, int af, struct hostent *ret, char *buf, size_t len, struct hostent **result,
                      int *h_err);
/** gethostbyaddr_r(3) semantics. */
int km_dns_hostbyaddr(const void *addr, socklen_t alen, int type, struct hostent *ret, char *buf, size_t len,
                      struct hostent **result, int *h_err);
/** getnameinfo(3): 0, an EAI_* code, or KM_DNS_LOCAL. */
int km_dns_getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen, char *serv,
                       socklen_t servlen, int flags);

/**
 * Builds an addrinfo list in one allocation, as glibc would for these addresses: one entry per
 * address and socket type (stream, datagram, raw when the hints leave the type open), families
 * filtered and v4-mapped per the hints. 0, or an EAI_* code. Exposed for the unit tests.
 */
int km_build_addrinfo(const struct km_addr *addrs, size_t n, const char *canon, uint16_t port,
                      const struct addrinfo *hints, struct addrinfo **res);

/** Is this a loopback or unspecified address (4 or 16 bytes)? v4-mapped counts as v4. */
int km_addr_is_loopback(int family, const uint8_t *bytes);

#endif
