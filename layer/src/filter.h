/*
 * mirrord's outgoing and DNS filters (feature.network.outgoing.filter, feature.network.dns.filter),
 * decided in the layer: it sees every lookup the program makes, the ones resolved on the user's
 * machine included, and a destination that stays local costs no round trip to the proxy.
 *
 * An entry matches by protocol (any, tcp, udp), port (0: any) and one of: nothing more (a port
 * entry), an address (the unspecified address: any), a subnet, or a name. A name entry matches a
 * destination whose address the program got by resolving a matching name (names.h): the same
 * name, a name under it (the entry "cluster.local" matches "db.default.svc.cluster.local"), or a
 * qualified form of it (the entry "db" matches "db.default"), case-insensitively.
 *
 * `remote`: only matching traffic goes through the pod. `local`: matching traffic stays on the
 * user's machine, the rest goes through the pod. Names of the outgoing filter also decide where
 * their lookups resolve (a name kept local resolves locally), as mirrord adds them to the DNS
 * filter on the same side; the DNS filter decides every other lookup.
 */
#ifndef KM_FILTER_H
#define KM_FILTER_H

#include <stdint.h>

#include "layer.h"
#include "generated/layer_protocol.h"

/** Reads one HELLO_OK filter into *f (replacing what it held). 0, -EINVAL or -ENOMEM. */
int km_filter_load(struct km_filter *f, uint8_t side, const struct km_list *list);

/** 1 when the outgoing filter sends this destination through the pod, 0 when it keeps it here. */
int km_filter_outgoing_remote(int family, const uint8_t *bytes, uint16_t port, int udp);

/** 1 when a lookup of `name` (service port `port`, 0 for none) resolves on the user's machine. */
int km_filter_dns_local(const char *name, uint16_t port);

/** 1 when a reverse lookup of this address resolves on the user's machine (address entries). */
int km_filter_dns_addr_local(int family, const uint8_t *bytes, uint16_t port);

/** Whether the outgoing filter has name entries (only then are resolved names remembered). */
int km_filter_wants_names(void);

/** The name rule above: 1 when the entry (lowercase) matches the resolved name. */
int km_name_matches(const char *entry, const char *resolved);

#endif
