/*
 * Incoming traffic through the program's own listening sockets (mirrord's incoming mode).
 *
 * bind: a TCP bind of a nonzero port asks the proxy (INCOMING_BIND), which applies the port
 * rules; for a port it takes, the socket really binds the port listen_ports names (the same port
 * by default), or, when that is in use, a free port on loopback, and getsockname keeps reporting
 * what the program asked for. listen: the proxy subscribes the remote port before listen returns
 * (INCOMING_LISTEN) and delivers the pod's connections to the socket's real address. accept: a
 * connection the proxy delivered reports the pod's client (INCOMING_PEER), in accept's
 * out-parameter and in getpeername, v4-mapped on an AF_INET6 socket.
 *
 * Every fd of a listener (dups, the copies a fork child inherits) holds it; when the process's
 * last one closes, INCOMING_CLOSE. A fork child says INCOMING_HOLD for each listener it inherited,
 * on its own link, so a close in the child leaves the parent's subscription alone. A process that
 * dies has its link closed by the kernel, which releases everything it held.
 *
 * Each function returns KM_NET_LOCAL when the call is not the layer's; the hook then calls libc.
 */
#ifndef KM_INCOMING_H
#define KM_INCOMING_H

#include <sys/socket.h>
#include <sys/types.h>

/** bind(): the result (0 or -errno), or KM_NET_LOCAL. */
int km_incoming_bind(int fd, const struct sockaddr *sa, socklen_t len);
/** After a successful listen(). */
void km_incoming_listening(int fd);
/** After accept/accept4 returned `cfd` on `lfd`: rewrites sa and len to the pod's client. */
void km_incoming_accepted(int lfd, int cfd, struct sockaddr *sa, socklen_t *len);
/** getsockname(): 0 when answered from the table, else KM_NET_LOCAL. */
int km_incoming_getsockname(int fd, struct sockaddr *sa, socklen_t *len);
/** The constructor: registers the close callback with the fd table. */
void km_incoming_init(void);
/** A fork child, once its link is open: INCOMING_HOLD for every inherited listener. */
void km_incoming_atfork_child(void);

#endif
