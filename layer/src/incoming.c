/* Incoming traffic (incoming.h). */
#define _GNU_SOURCE
#include "incoming.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"
#include "fdtab.h"
#include "layer.h"
#include "link.h"
#include "net.h"
#include "real.h"

static struct km_bytes addr_bytes(const struct km_sockaddr *a) {
  struct km_bytes b = {a->bytes, a->family == KM_FAMILY_IPV4 ? 4 : 16};
  return b;
}

static int is_stream(int fd) {
  int type = 0;
  socklen_t l = sizeof type;
  return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) == 0 && type == SOCK_STREAM;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port) {
  if (ss->ss_family == AF_INET) ((struct sockaddr_in *)ss)->sin_port = htons(port);
  else ((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/* Loopback, port 0, in the socket's family. */
static socklen_t loopback_any_port(int family, struct sockaddr_storage *out) {
  memset(out, 0, sizeof *out);
  if (family == AF_INET6) {
    struct sockaddr_in6 *s = (void *)out;
    s->sin6_family = AF_INET6;
    s->sin6_addr = in6addr_loopback;
    return sizeof *s;
  }
  struct sockaddr_in *s = (void *)out;
  s->sin_family = AF_INET;
  s->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return sizeof *s;
}

static void send_listener(uint16_t type, uint32_t listener) {
  if (km_state != KM_ACTIVE) return;
  uint8_t frame[32];
  struct km_wr w = km_writer(frame, sizeof frame);
  size_t at = km_frame_begin(&w, type, 0);
  struct km_msg_incoming_close m = {listener}; /* INCOMING_HOLD has the same single field */
  km_enc_msg_incoming_close(&w, &m);
  km_frame_end(&w, at);
  if (!w.bad) km_link_send(frame, w.len);
}

static void on_gone(uint32_t listener) { send_listener(KM_MSG_INCOMING_CLOSE, listener); }

void km_incoming_init(void) { km_fd_on_listener_gone = on_gone; }

void km_incoming_atfork_child(void) {
  uint32_t ids[1024];
  size_t n = km_fd_listeners(ids, sizeof ids / sizeof ids[0]);
  for (size_t i = 0; i < n; i++) send_listener(KM_MSG_INCOMING_HOLD, ids[i]);
}

/* INCOMING_BIND round trip: 0 with the listener (0: local) and the port to bind, or -errno. */
static int ask_bind(const struct km_sockaddr *a, uint32_t *listener, uint16_t *listen_port) {
  uint8_t frame[96];
  struct km_wr w = km_writer(frame, sizeof frame);
  size_t at = km_frame_begin(&w, KM_MSG_INCOMING_BIND, 0);
  struct km_msg_incoming_bind m = {a->family, addr_bytes(a), a->port};
  km_enc_msg_incoming_bind(&w, &m);
  km_frame_end(&w, at);
  struct km_reply reply;
  int rc = km_link_call(frame, w.len, KM_MSG_INCOMING_BIND_OK, &reply);
  if (rc < 0) return rc;
  struct km_rd r = km_reader(reply.body, reply.len);
  struct km_msg_incoming_bind_ok ok;
  km_dec_msg_incoming_bind_ok(&r, &ok);
  free(reply.body);
  if (r.bad) return -EIO;
  *listener = ok.listener;
  *listen_port = ok.listen_port;
  return 0;
}

int km_incoming_bind(int fd, const struct sockaddr *sa, socklen_t len) {
  struct km_sockaddr asked;
  if (km_state != KM_ACTIVE || !km_feature(KM_FLAG_INCOMING)) return KM_NET_LOCAL;
  if (!km_parse_sockaddr(sa, len, &asked) || asked.port == 0 || !is_stream(fd)) return KM_NET_LOCAL;
  uint32_t listener = 0;
  uint16_t listen_port = 0;
  /* The proxy unreachable: the program's bind is its own, as without the layer. */
  if (ask_bind(&asked, &listener, &listen_port) < 0 || listener == 0) return KM_NET_LOCAL;
  struct sockaddr_storage real;
  socklen_t real_len = len < sizeof real ? len : sizeof real;
  memset(&real, 0, sizeof real);
  memcpy(&real, sa, real_len);
  set_port(&real, listen_port);
  int rc = KM_REAL(bind)(fd, (struct sockaddr *)&real, real_len);
  if (rc < 0 && errno == EADDRINUSE) {
    /* mirrord's rule: the port is taken on this machine, so any free port on loopback will do;
     * the pod's traffic finds it through the proxy, and getsockname still says the asked port. */
    km_log(KM_LOG_INFO, "port %u is in use on this machine: listening on a free loopback port instead", listen_port);
    real_len = loopback_any_port(sa->sa_family, &real);
    rc = KM_REAL(bind)(fd, (struct sockaddr *)&real, real_len);
  }
  if (rc < 0) {
    int err = errno;
    send_listener(KM_MSG_INCOMING_CLOSE, listener);
    return -err;
  }
  struct km_fd e;
  if (!km_fd_get(fd, &e)) memset(&e, 0, sizeof e);
  e.kind = KM_FD_SOCK;
  e.in_listener = listener;
  memset(&e.in_asked, 0, sizeof e.in_asked);
  e.in_asked_len = len < sizeof e.in_asked ? len : sizeof e.in_asked;
  memcpy(&e.in_asked, sa, e.in_asked_len);
  if (km_fd_put(fd, &e) < 0) send_listener(KM_MSG_INCOMING_CLOSE, listener);
  return 0;
}

void km_incoming_listening(int fd) {
  struct km_fd e;
  if (!km_fd_get(fd, &e) || !e.in_listener) return;
  struct sockaddr_storage ss;
  socklen_t l = sizeof ss;
  struct km_sockaddr real;
  if (KM_REAL(getsockname)(fd, (struct sockaddr *)&ss, &l) < 0 || !km_parse_sockaddr((struct sockaddr *)&ss, l, &real)) return;
  uint8_t frame[96];
  struct km_wr w = km_writer(frame, sizeof frame);
  size_t at = km_frame_begin(&w, KM_MSG_INCOMING_LISTEN, 0);
  struct km_msg_incoming_listen m = {e.in_listener, real.family, addr_bytes(&real), real.port};
  km_enc_msg_incoming_listen(&w, &m);
  km_frame_end(&w, at);
  struct km_reply reply;
  /* The answer only says whether the subscription took: the socket listens either way. */
  if (km_link_call(frame, w.len, KM_MSG_INCOMING_LISTEN_OK, &reply) == 0) free(reply.body);
}

/* The pod's client of a connection the proxy delivered from loopback port `peer`, or 0. */
static int ask_peer(const struct km_sockaddr *peer, struct km_sockaddr *client) {
  uint8_t frame[96];
  struct km_wr w = km_writer(frame, sizeof frame);
  size_t at = km_frame_begin(&w, KM_MSG_INCOMING_PEER, 0);
  struct km_msg_incoming_peer m = {peer->family, addr_bytes(peer), peer->port};
  km_enc_msg_incoming_peer(&w, &m);
  km_frame_end(&w, at);
  struct km_reply reply;
  if (km_link_call(frame, w.len, KM_MSG_INCOMING_PEER_OK, &reply) < 0) return 0;
  struct km_rd r = km_reader(reply.body, reply.len);
  struct km_msg_incoming_peer_ok ok;
  km_dec_msg_incoming_peer_ok(&r, &ok);
  int found = !r.bad && ok.found && (ok.family == KM_FAMILY_IPV4 ? ok.addr.n == 4 : ok.family == KM_FAMILY_IPV6 && ok.addr.n == 16);
  if (found) {
    memset(client, 0, sizeof *client);
    client->family = ok.family;
    memcpy(client->bytes, ok.addr.p, ok.addr.n);
    client->port = ok.port;
  }
  free(reply.body);
  return found;
}

/* The client as a sockaddr of the listening socket's family (IPv4 v4-mapped on AF_INET6). 0 when
 * the family cannot say it (an IPv6 client on an AF_INET socket). */
static socklen_t client_sockaddr(int family, const struct km_sockaddr *c, struct sockaddr_storage *out) {
  memset(out, 0, sizeof *out);
  if (family == AF_INET6) {
    struct sockaddr_in6 *s = (void *)out;
    s->sin6_family = AF_INET6;
    s->sin6_port = htons(c->port);
    uint8_t *b = (uint8_t *)&s->sin6_addr;
    if (c->family == KM_FAMILY_IPV4) {
      b[10] = b[11] = 0xff;
      memcpy(b + 12, c->bytes, 4);
    } else {
      memcpy(b, c->bytes, 16);
    }
    return sizeof *s;
  }
  if (c->family != KM_FAMILY_IPV4) return 0;
  struct sockaddr_in *s = (void *)out;
  s->sin_family = AF_INET;
  s->sin_port = htons(c->port);
  memcpy(&s->sin_addr, c->bytes, 4);
  return sizeof *s;
}

void km_incoming_accepted(int lfd, int cfd, struct sockaddr *sa, socklen_t *len) {
  struct km_fd le;
  if (!km_fd_get(lfd, &le) || !le.in_listener) return;
  struct sockaddr_storage ss;
  socklen_t l = sizeof ss;
  struct km_sockaddr peer, client;
  if (KM_REAL(getpeername)(cfd, (struct sockaddr *)&ss, &l) < 0 || !km_parse_sockaddr((struct sockaddr *)&ss, l, &peer)) return;
  if (!km_addr_is_loopback(peer.family, peer.bytes) || !ask_peer(&peer, &client)) return;
  struct sockaddr_storage out;
  socklen_t out_len = client_sockaddr(ss.ss_family, &client, &out);
  if (!out_len) return;
  /* As the kernel does: copy what fits, report the full length. */
  if (sa && len) {
    memcpy(sa, &out, *len < out_len ? *len : out_len);
    *len = out_len;
  }
  struct km_fd e;
  memset(&e, 0, sizeof e);
  e.kind = KM_FD_SOCK;
  memcpy(&e.peer, &out, out_len);
  e.peer_len = out_len;
  km_fd_put(cfd, &e);
}

int km_incoming_getsockname(int fd, struct sockaddr *sa, socklen_t *len) {
  struct km_fd e;
  if (!sa || !len || !km_fd_get(fd, &e) || !e.in_listener || !e.in_asked_len) return KM_NET_LOCAL;
  memcpy(sa, &e.in_asked, *len < e.in_asked_len ? *len : e.in_asked_len);
  *len = e.in_asked_len;
  return 0;
}
