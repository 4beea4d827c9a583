/*
 * Outgoing traffic. A TCP connect to a destination that is not the user's goes out from the pod:
 * CONNECT to the proxy (answered after the agent's OPEN_OK or RESET), then the program's socket
 * is really connected to the proxy's relay on 127.0.0.1 and the token written on it. UDP sockets
 * are connected to (or send through) a per-destination relay, and what they receive from a relay
 * is reported as coming from the real destination.
 *
 * Loopback destinations stay on the user's machine when the program itself listens on that port
 * (it bound it: TCP listen, UDP bind), or with ignore_localhost; otherwise they go to the pod's
 * loopback (mirrord's rule). AF_UNIX and other families are never touched.
 *
 * Each function returns KM_NET_LOCAL when the call is not the layer's; the hook then calls libc.
 */
#ifndef KM_NET_H
#define KM_NET_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define KM_NET_LOCAL (-2)

struct mmsghdr;

/** An IP address and port in the link's terms: a v4-mapped IPv6 address counts as IPv4. */
struct km_sockaddr {
  uint8_t family; /* KM_FAMILY_* */
  uint8_t bytes[16];
  uint16_t port;
};

/** 1 and *a filled for an AF_INET or AF_INET6 address of a long enough `len`, else 0. */
int km_parse_sockaddr(const struct sockaddr *sa, socklen_t len, struct km_sockaddr *a);

int km_net_connect(int fd, const struct sockaddr *sa, socklen_t len);
void km_net_bound(int fd);
void km_net_listening(int fd);
int km_net_getpeername(int fd, struct sockaddr *sa, socklen_t *len);
/** sendto/sendmsg: rewrites a remote destination to its relay in *relay; 1 if rewritten, 0 if
 * not, -errno on failure. */
int km_net_udp_dest(int fd, const struct sockaddr *dest, socklen_t dest_len, struct sockaddr_storage *relay,
                    socklen_t *relay_len);
/** recvfrom/recvmsg: a source that is one of the fd's relays becomes the real destination. */
void km_net_udp_source(int fd, struct sockaddr *src, socklen_t *src_len, socklen_t cap);

#endif
