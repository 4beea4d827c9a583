/*
 * Which name the program resolved to which address, so that the outgoing filter's name entries
 * can be checked at connect and sendto (mirrord keeps the same map, REMOTE_DNS_REVERSE_MAPPING).
 * Every successful getaddrinfo and gethostbyname* is remembered, through the agent or on the
 * user's machine alike, but only while the outgoing filter has a name entry. The table holds
 * KM_NAMES_MAX (address, name) pairs; when full, the pair used least recently is forgotten.
 * A v4-mapped IPv6 address is kept as the IPv4 address it maps.
 */
#ifndef KM_NAMES_H
#define KM_NAMES_H

#include <netdb.h>
#include <stdint.h>

#define KM_NAMES_MAX 512

/** Remembers that `name` resolved to this address (KM_FAMILY_*; 4 or 16 bytes). */
void km_names_remember(const char *name, int family, const uint8_t *bytes);
/** Remembers every address of an addrinfo list as `node` (and its canonical name, if given). */
void km_names_remember_ai(const char *node, const struct addrinfo *ai);
/** Remembers every address of a hostent as `name` (and its h_name). */
void km_names_remember_hostent(const char *name, const struct hostent *h);

/**
 * Calls match(name, arg) for each name remembered for this address, until one returns nonzero;
 * 1 then (the pair counts as used), else 0.
 */
int km_names_match(int family, const uint8_t *bytes, int (*match)(const char *name, const void *arg), const void *arg);

/** Forgets everything (tests). */
void km_names_clear(void);

void km_names_atfork_prepare(void);
void km_names_atfork_parent(void);
void km_names_atfork_child(void);

#endif
