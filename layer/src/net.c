/* Outgoing traffic (net.h). */
#define _GNU_SOURCE
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "fdtab.h"
#include "filter.h"
#include "layer.h"
#include "link.h"
#include "real.h"

int km_parse_sockaddr(const struct sockaddr *sa, socklen_t len, struct km_sockaddr *d) {
  static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  memset(d, 0, sizeof *d);
  if (!sa) return 0;
  if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *s = (const void *)sa;
    d->family = KM_FAMILY_IPV4;
    memcpy(d->bytes, &s->sin_addr, 4);
    d->port = ntohs(s->sin_port);
    return 1;
  }
  if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *s = (const void *)sa;
    const uint8_t *b = (const uint8_t *)&s->sin6_addr;
    if (memcmp(b, mapped, 12) == 0) {
      d->family = KM_FAMILY_IPV4;
      memcpy(d->bytes, b + 12, 4);
    } else {
      d->family = KM_FAMILY_IPV6;
      memcpy(d->bytes, b, 16);
    }
    d->port = ntohs(s->sin6_port);
    return 1;
  }
  return 0;
}

static int sock_type(int fd) {
  int type = 0;
  socklen_t l = sizeof type;
  return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) == 0 ? type : -1;
}

static int sock_family(int fd) {
  int family = 0;
  socklen_t l = sizeof family;
  return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &l) == 0 ? family : -1;
}

/* "10.1.2.3:80" / "[fd00::7]:80", for the log. */
static const char *dest_text(const struct km_sockaddr *d, char *buf, size_t len) {
  char ip[INET6_ADDRSTRLEN];
  inet_ntop(d->family == KM_FAMILY_IPV4 ? AF_INET : AF_INET6, d->bytes, ip, sizeof ip);
  snprintf(buf, len, d->family == KM_FAMILY_IPV4 ? "%s:%u" : "[%s]:%u", ip, d->port);
  return buf;
}

/* The outgoing filter's say, once the loopback rule has let the destination out. */
static int filter_lets_out(const struct km_sockaddr *d, int udp) {
  if (km_filter_outgoing_remote(d->family, d->bytes, d->port, udp)) return 1;
  char text[64];
  km_log(KM_LOG_DEBUG, "%s to %s stays on this machine: feature.network.outgoing.filter", udp ? "udp" : "tcp",
         dest_text(d, text, sizeof text));
  return 0;
}

/* Does this destination go to the pod? 1 yes, 0 it stays on the user's machine. */
static int goes_out(const struct km_sockaddr *d, int udp) {
  if (!km_feature(udp ? KM_FLAG_OUTGOING_UDP : KM_FLAG_OUTGOING_TCP)) return 0;
  if (!km_addr_is_loopback(d->family, d->bytes)) return filter_lets_out(d, udp);
  if (km_state != KM_ACTIVE || km_feature(KM_FLAG_OUTGOING_IGNORE_LOCALHOST)) return 0;
  if (!km_port_listening(d->port, udp)) return filter_lets_out(d, udp);
  char text[64];
  km_log(KM_LOG_DEBUG, "%s to %s stays on this machine: the program listens on that port", udp ? "udp" : "tcp",
         dest_text(d, text, sizeof text));
  return 0;
}

/* The relay on 127.0.0.1, in the socket's own family. */
static socklen_t relay_addr(int family, uint16_t port, struct sockaddr_storage *out) {
  memset(out, 0, sizeof *out);
  if (family == AF_INET6) {
    struct sockaddr_in6 *s = (void *)out;
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(port);
    uint8_t *b = (uint8_t *)&s->sin6_addr;
    b[10] = b[11] = 0xff;
    b[12] = 127, b[15] = 1;
    return sizeof *s;
  }
  struct sockaddr_in *s = (void *)out;
  s->sin_family = AF_INET;
  s->sin_port = htons(port);
  s->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sizeof *s;
}

/* CONNECT round trip: 0 with the token and relay port, or -errno. */
static int ask_proxy(int proto, const struct km_sockaddr *d, uint64_t *token, uint16_t *relay_port) {
  if (km_state != KM_ACTIVE) return -ECONNREFUSED;
  uint8_t frame[128];
  struct km_wr w = km_writer(frame, sizeof frame);
  size_t at = km_frame_begin(&w, KM_MSG_CONNECT, 0);
  struct km_bytes addr = {d->bytes, d->family == KM_FAMILY_IPV4 ? 4 : 16};
  struct km_msg_connect m = {(uint8_t)proto, d->family, addr, d->port};
  km_enc_msg_connect(&w, &m);
  km_frame_end(&w, at);
  struct km_reply reply;
  int rc = km_link_call(frame, w.len, KM_MSG_CONNECT_OK, &reply);
  if (rc < 0) return rc == -EIO ? -ECONNREFUSED : rc;
  struct km_rd r = km_reader(reply.body, reply.len);
  struct km_msg_connect_ok ok;
  km_dec_msg_connect_ok(&r, &ok);
  free(reply.body);
  if (r.bad) return -ECONNREFUSED;
  if (ok.err > 0) return -ok.err;
  if (ok.relay_port == 0) return -ECONNREFUSED;
  *token = ok.token;
  *relay_port = ok.relay_port;
  return 0;
}

/* Blocking connect that survives signals: an interrupted connect goes on in the kernel. */
static int connect_wait(int fd, const struct sockaddr *sa, socklen_t len) {
  if (KM_REAL(connect)(fd, sa, len) == 0) return 0;
  if (errno != EINTR && errno != EINPROGRESS) return -errno;
  struct pollfd p = {fd, POLLOUT, 0};
  while (poll(&p, 1, -1) < 0)
    if (errno != EINTR) return -errno;
  int err = 0;
  socklen_t l = sizeof err;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0) return -errno;
  return err ? -err : 0;
}

static int send_token(int fd, uint64_t token) {
  uint8_t b[KM_TOKEN_BYTES];
  km_put_le(b, token, KM_TOKEN_BYTES);
  for (size_t off = 0; off < sizeof b;) {
    ssize_t n = send(fd, b + off, sizeof b - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd p = {fd, POLLOUT, 0};
      poll(&p, 1, -1);
      continue;
    }
    if (n <= 0) return -errno;
    off += (size_t)n;
  }
  return 0;
}

static int connect_tcp(int fd, int family, const struct km_sockaddr *d) {
  uint64_t token;
  uint16_t relay;
  int rc = ask_proxy(KM_PROTO_TCP, d, &token, &relay);
  if (rc < 0) return rc;
  struct sockaddr_storage ra;
  socklen_t rl = relay_addr(family, relay, &ra);
  /* The connect and the token are written blocking, then the program's flags come back. */
  int fl = fcntl(fd, F_GETFL);
  if (fl >= 0 && (fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  rc = connect_wait(fd, (struct sockaddr *)&ra, rl);
  if (rc == 0) rc = send_token(fd, token);
  if (fl >= 0 && (fl & O_NONBLOCK)) fcntl(fd, F_SETFL, fl);
  /* A refused relay connect is the proxy gone: the program sees a refusal, as from the pod. */
  return rc < 0 ? -ECONNREFUSED : 0;
}

int km_net_connect(int fd, const struct sockaddr *sa, socklen_t len) {
  struct km_sockaddr d;
  if (!km_parse_sockaddr(sa, len, &d)) {
    /* AF_UNSPEC on a UDP socket dissolves the association: forget the real peer. */
    if (sa && sa->sa_family == AF_UNSPEC) km_fd_forget(fd);
    return KM_NET_LOCAL;
  }
  int type = sock_type(fd);
  if (type != SOCK_STREAM && type != SOCK_DGRAM) return KM_NET_LOCAL;
  int udp = type == SOCK_DGRAM;
  if (!goes_out(&d, udp)) return KM_NET_LOCAL;
  int family = sock_family(fd);
  struct km_fd e;
  int known = km_fd_get(fd, &e);
  if (!known) memset(&e, 0, sizeof e);
  if (!udp && known && e.peer_len) return -EISCONN;
  if (family == AF_INET6) {
    int v6only = 0;
    socklen_t l = sizeof v6only;
    getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &l);
    if (v6only) {
      /* The relay listens on 127.0.0.1, which a v6-only socket cannot reach. */
      km_log(KM_LOG_WARN, "an IPV6_V6ONLY socket connects from the user's machine, not from the pod");
      return KM_NET_LOCAL;
    }
  }
  int rc;
  uint16_t relay_port = 0;
  if (udp) {
    uint64_t token;
    rc = ask_proxy(KM_PROTO_UDP, &d, &token, &relay_port);
    if (rc == 0) {
      struct sockaddr_storage ra;
      socklen_t rl = relay_addr(family, relay_port, &ra);
      rc = KM_REAL(connect)(fd, (struct sockaddr *)&ra, rl) == 0 ? 0 : -errno;
    }
  } else {
    rc = connect_tcp(fd, family, &d);
  }
  char text[64];
  if (rc < 0) {
    km_log(KM_LOG_DEBUG, "%s connect to %s from the pod failed: errno %d", udp ? "udp" : "tcp", dest_text(&d, text, sizeof text), -rc);
    return rc;
  }
  /* No log line for a connect that worked: it was one more message on the link, and one more
   * write to the session log in the proxy, between the token and the program's first bytes on
   * every connection (the proxy logs failures itself). */
  e.kind = KM_FD_SOCK;
  memcpy(&e.peer, sa, len < sizeof e.peer ? len : sizeof e.peer);
  e.peer_len = len < sizeof e.peer ? len : sizeof e.peer;
  e.peer_relay_port = relay_port;
  km_fd_put(fd, &e);
  return 0;
}

static uint16_t local_port(int fd) {
  struct sockaddr_storage ss;
  socklen_t l = sizeof ss;
  if (KM_REAL(getsockname)(fd, (struct sockaddr *)&ss, &l) < 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return 0;
}

static void mark_listening(int fd, int udp) {
  uint16_t port = local_port(fd);
  if (!port) return;
  struct km_fd e;
  if (!km_fd_get(fd, &e)) memset(&e, 0, sizeof e);
  e.kind = KM_FD_SOCK;
  e.listen_port = port;
  e.listen_udp = (uint8_t)udp;
  km_fd_put(fd, &e);
}

void km_net_bound(int fd) {
  if (sock_type(fd) == SOCK_DGRAM) mark_listening(fd, 1);
}

void km_net_listening(int fd) {
  if (sock_type(fd) == SOCK_STREAM) mark_listening(fd, 0);
}

int km_net_getpeername(int fd, struct sockaddr *sa, socklen_t *len) {
  struct km_fd e;
  if (!sa || !len || !km_fd_get(fd, &e) || e.kind != KM_FD_SOCK || !e.peer_len) return KM_NET_LOCAL;
  /* Still connected to the relay? A refused or reset socket answers as libc would. */
  struct sockaddr_storage real;
  socklen_t rl = sizeof real;
  if (KM_REAL(getpeername)(fd, (struct sockaddr *)&real, &rl) < 0) return -errno;
  memcpy(sa, &e.peer, *len < e.peer_len ? *len : e.peer_len);
  *len = e.peer_len;
  return 0;
}

static int same_dest(const struct sockaddr_storage *a, const struct sockaddr *b, socklen_t blen) {
  struct km_sockaddr x, y;
  return km_parse_sockaddr((const struct sockaddr *)a, sizeof *a, &x) && km_parse_sockaddr(b, blen, &y) && x.family == y.family &&
         x.port == y.port && memcmp(x.bytes, y.bytes, x.family == KM_FAMILY_IPV4 ? 4 : 16) == 0;
}

int km_net_udp_dest(int fd, const struct sockaddr *dest, socklen_t dest_len, struct sockaddr_storage *relay,
                    socklen_t *relay_len) {
  struct km_sockaddr d;
  if (!dest || !km_parse_sockaddr(dest, dest_len, &d) || sock_type(fd) != SOCK_DGRAM || !goes_out(&d, 1)) return 0;
  int family = sock_family(fd);
  struct km_fd e;
  if (!km_fd_get(fd, &e)) memset(&e, 0, sizeof e);
  for (unsigned i = 0; i < e.nrelays; i++) {
    if (same_dest(&e.relays[i].dest, dest, dest_len)) {
      *relay_len = relay_addr(family, e.relays[i].relay_port, relay);
      return 1;
    }
  }
  uint64_t token;
  uint16_t port;
  int rc = ask_proxy(KM_PROTO_UDP, &d, &token, &port);
  if (rc < 0) return rc;
  /* Full: the oldest destination makes room (its relay is the proxy's to expire). */
  if (e.nrelays == KM_UDP_RELAYS) memmove(&e.relays[0], &e.relays[1], sizeof e.relays[0] * --e.nrelays);
  struct km_udp_relay *r = &e.relays[e.nrelays++];
  memset(r, 0, sizeof *r);
  memcpy(&r->dest, dest, dest_len < sizeof r->dest ? dest_len : sizeof r->dest);
  r->dest_len = dest_len < sizeof r->dest ? dest_len : sizeof r->dest;
  r->relay_port = port;
  e.kind = KM_FD_SOCK;
  km_fd_put(fd, &e);
  *relay_len = relay_addr(family, port, relay);
  return 1;
}

void km_net_udp_source(int fd, struct sockaddr *src, socklen_t *src_len, socklen_t cap) {
  struct km_sockaddr s;
  if (!src || !src_len || !km_parse_sockaddr(src, *src_len, &s) || !km_addr_is_loopback(s.family, s.bytes)) return;
  struct km_fd e;
  if (!km_fd_get(fd, &e) || e.kind != KM_FD_SOCK) return;
  const struct sockaddr_storage *real = NULL;
  socklen_t real_len = 0;
  if (e.peer_relay_port && e.peer_relay_port == s.port) real = &e.peer, real_len = e.peer_len;
  for (unsigned i = 0; !real && i < e.nrelays; i++)
    if (e.relays[i].relay_port == s.port) real = &e.relays[i].dest, real_len = e.relays[i].dest_len;
  if (!real) return;
  memcpy(src, real, cap < real_len ? cap : real_len);
  *src_len = real_len;
}
