/*
 * C unit tests of incoming traffic (incoming.c, and the listener counts in fdtab.c): per-process
 * references (dups, close_range, a reused fd number), the bind rules against the fake proxy (the
 * port listen_ports names, the loopback fallback when it is in use, getsockname's asked address),
 * and accept's client address (IPv4, v4-mapped on AF_INET6, getpeername after). main() is in unit.c.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "fake_proxy.h"
#include "fdtab.h"
#include "incoming.h"
#include "layer.h"
#include "link.h"
#include "net.h"

void configure(unsigned flags);

static uint32_t gone_ids[8];
static int ngone_ids;
static void record_gone(uint32_t id) {
  if (ngone_ids < 8) gone_ids[ngone_ids++] = id;
}

static int tcp_socket(int family) { return socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0); }

static uint16_t real_port(int fd) {
  struct sockaddr_storage ss;
  socklen_t l = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &l) < 0) return 0;
  return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void hold(int fd, uint32_t id) {
  struct km_fd e;
  memset(&e, 0, sizeof e);
  e.kind = KM_FD_SOCK;
  e.in_listener = id;
  CHECK_EQ_INT(km_fd_put(fd, &e), 0);
}

void test_incoming_refs(void) {
  km_fd_on_listener_gone = record_gone;
  ngone_ids = 0;
  int a = tcp_socket(AF_INET);
  hold(a, 41);
  int b = dup(a);
  km_fd_dup(a, b);
  CHECK_EQ_INT(km_fd_listener_refs(41), 2);
  /* Updating the entry (listen marks it) keeps its one reference. */
  struct km_fd e;
  CHECK(km_fd_get(a, &e));
  e.listen_port = 9;
  km_fd_put(a, &e);
  CHECK_EQ_INT(km_fd_listener_refs(41), 2);
  km_fd_forget(a);
  close(a);
  CHECK_EQ_INT(ngone_ids, 0); /* the dup still holds it */
  km_fd_forget_range((unsigned)b, (unsigned)b);
  close(b);
  CHECK_EQ_INT(ngone_ids, 1);
  CHECK_EQ_INT(gone_ids[0], 41);
  CHECK_EQ_INT(km_fd_listener_refs(41), 0);

  /* An fd closed behind the layer's back, its number reused by another file: seen as gone. */
  int c = tcp_socket(AF_INET);
  hold(c, 42);
  close(c);
  int reused = open("/dev/null", O_RDONLY | O_CLOEXEC);
  CHECK_EQ_INT(reused, c);
  CHECK(!km_fd_get(reused, &e));
  CHECK_EQ_INT(ngone_ids, 2);
  CHECK_EQ_INT(gone_ids[1], 42);
  close(reused);

  uint32_t ids[4];
  int d = tcp_socket(AF_INET);
  hold(d, 43);
  CHECK_EQ_INT(km_fd_listeners(ids, 4), 1);
  CHECK_EQ_INT(ids[0], 43);
  km_fd_forget(d);
  close(d);
  km_fd_on_listener_gone = NULL;
}

static size_t bind_ok(uint8_t *buf, size_t cap, uint32_t listener, uint16_t port) {
  struct km_wr w = km_writer(buf, cap);
  size_t at = km_frame_begin(&w, KM_MSG_INCOMING_BIND_OK, 0);
  struct km_msg_incoming_bind_ok m = {listener, port};
  km_enc_msg_incoming_bind_ok(&w, &m);
  km_frame_end(&w, at);
  return w.len;
}

static size_t peer_ok(uint8_t *buf, size_t cap, const uint8_t *v4, uint16_t port) {
  struct km_wr w = km_writer(buf, cap);
  size_t at = km_frame_begin(&w, KM_MSG_INCOMING_PEER_OK, 0);
  struct km_bytes addr = {v4, 4};
  struct km_msg_incoming_peer_ok m = {1, KM_FAMILY_IPV4, addr, port};
  km_enc_msg_incoming_peer_ok(&w, &m);
  km_frame_end(&w, at);
  return w.len;
}

/* A free loopback port (bound and closed). */
static uint16_t free_port(void) {
  int s = tcp_socket(AF_INET);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bind(s, (struct sockaddr *)&sin, sizeof sin);
  uint16_t p = real_port(s);
  close(s);
  return p;
}

void test_incoming_bind(void) {
  configure(KM_FLAG_INCOMING);
  km_link_fd = fake_proxy_start();
  uint8_t frame[128], body[128];
  size_t len, got;

  /* listener 0: the bind is the program's own, untouched. */
  int s = tcp_socket(AF_INET);
  struct sockaddr_in asked = {.sin_family = AF_INET, .sin_port = htons(free_port()), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  len = bind_ok(frame, sizeof frame, 0, 0);
  fake_proxy_reply(frame, len, NULL, 0);
  CHECK_EQ_INT(km_incoming_bind(s, (struct sockaddr *)&asked, sizeof asked), KM_NET_LOCAL);
  CHECK_EQ_INT(fake_proxy_last(body, sizeof body, &got), KM_MSG_INCOMING_BIND);
  struct km_rd r = km_reader(body, got);
  struct km_msg_incoming_bind req;
  km_dec_msg_incoming_bind(&r, &req);
  CHECK(!r.bad && req.family == KM_FAMILY_IPV4 && req.addr.n == 4 && req.port == ntohs(asked.sin_port));
  close(s);

  /* Port 0 never asks (the fake has no answer queued: asking would hang up). */
  s = tcp_socket(AF_INET);
  struct sockaddr_in any = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK_EQ_INT(km_incoming_bind(s, (struct sockaddr *)&any, sizeof any), KM_NET_LOCAL);
  close(s);

  /* listen_ports: the socket really binds the port the proxy names; getsockname says the asked one. */
  uint16_t real = free_port();
  s = tcp_socket(AF_INET);
  len = bind_ok(frame, sizeof frame, 7, real);
  fake_proxy_reply(frame, len, NULL, 0);
  CHECK_EQ_INT(km_incoming_bind(s, (struct sockaddr *)&asked, sizeof asked), 0);
  CHECK_EQ_INT(real_port(s), real);
  struct sockaddr_in back;
  socklen_t bl = sizeof back;
  CHECK_EQ_INT(km_incoming_getsockname(s, (struct sockaddr *)&back, &bl), 0);
  CHECK(bl == sizeof back && back.sin_port == asked.sin_port && back.sin_addr.s_addr == asked.sin_addr.s_addr);

  /* The port is in use here: a free loopback port instead, still reported as asked. */
  int s2 = tcp_socket(AF_INET);
  len = bind_ok(frame, sizeof frame, 8, real);
  fake_proxy_reply(frame, len, NULL, 0);
  CHECK_EQ_INT(km_incoming_bind(s2, (struct sockaddr *)&asked, sizeof asked), 0);
  CHECK(real_port(s2) != 0 && real_port(s2) != real);
  bl = sizeof back;
  CHECK_EQ_INT(km_incoming_getsockname(s2, (struct sockaddr *)&back, &bl), 0);
  CHECK(back.sin_port == asked.sin_port);
  CHECK_EQ_INT(km_fd_listener_refs(7), 1);
  CHECK_EQ_INT(km_fd_listener_refs(8), 1);

  /* Closing the last fd sends INCOMING_CLOSE (one-way) with the listener. */
  km_incoming_init();
  km_fd_forget(s2);
  close(s2);
  CHECK_EQ_INT(fake_proxy_wait_type(KM_MSG_INCOMING_CLOSE, body, sizeof body, &got), KM_MSG_INCOMING_CLOSE);
  r = km_reader(body, got);
  struct km_msg_incoming_close closed;
  km_dec_msg_incoming_close(&r, &closed);
  CHECK(!r.bad && closed.listener == 8);

  /* accept: a connection from loopback gets the client the proxy names; v4 on AF_INET. */
  CHECK_EQ_INT(listen(s, 4), 0);
  int c = tcp_socket(AF_INET);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(real), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  CHECK_EQ_INT(connect(c, (struct sockaddr *)&to, sizeof to), 0);
  static const uint8_t client[4] = {10, 1, 2, 3};
  len = peer_ok(frame, sizeof frame, client, 4567);
  fake_proxy_reply(frame, len, NULL, 0);
  struct sockaddr_in from;
  socklen_t fl = sizeof from;
  int a = accept(s, (struct sockaddr *)&from, &fl);
  CHECK(a >= 0);
  km_incoming_accepted(s, a, (struct sockaddr *)&from, &fl);
  CHECK_EQ_INT(fake_proxy_last(body, sizeof body, &got), KM_MSG_INCOMING_PEER);
  char text[INET6_ADDRSTRLEN];
  CHECK_EQ_STR(inet_ntop(AF_INET, &from.sin_addr, text, sizeof text), "10.1.2.3");
  CHECK_EQ_INT(ntohs(from.sin_port), 4567);
  struct sockaddr_in peer;
  socklen_t pl = sizeof peer;
  CHECK_EQ_INT(km_net_getpeername(a, (struct sockaddr *)&peer, &pl), 0);
  CHECK(pl == sizeof peer && peer.sin_addr.s_addr == from.sin_addr.s_addr);
  close(a), close(c);

  /* On an AF_INET6 socket the IPv4 client is v4-mapped. */
  int s6 = tcp_socket(AF_INET6);
  struct sockaddr_in6 asked6 = {.sin6_family = AF_INET6, .sin6_port = htons(free_port()), .sin6_addr = in6addr_any};
  len = bind_ok(frame, sizeof frame, 9, ntohs(asked6.sin6_port));
  fake_proxy_reply(frame, len, NULL, 0);
  CHECK_EQ_INT(km_incoming_bind(s6, (struct sockaddr *)&asked6, sizeof asked6), 0);
  CHECK_EQ_INT(listen(s6, 4), 0);
  c = tcp_socket(AF_INET);
  to.sin_port = asked6.sin6_port;
  CHECK_EQ_INT(connect(c, (struct sockaddr *)&to, sizeof to), 0);
  len = peer_ok(frame, sizeof frame, client, 4568);
  fake_proxy_reply(frame, len, NULL, 0);
  struct sockaddr_in6 from6;
  /* accept with no out-parameter: getpeername still tells. */
  a = accept(s6, NULL, NULL);
  km_incoming_accepted(s6, a, NULL, NULL);
  socklen_t l6 = sizeof from6;
  CHECK_EQ_INT(km_net_getpeername(a, (struct sockaddr *)&from6, &l6), 0);
  CHECK(l6 == sizeof from6 && from6.sin6_family == AF_INET6);
  CHECK_EQ_STR(inet_ntop(AF_INET6, &from6.sin6_addr, text, sizeof text), "::ffff:10.1.2.3");
  close(a), close(c);
  km_fd_forget(s6), close(s6);
  km_fd_forget(s), close(s);
  fake_proxy_stop();
  km_link_fd = -1;
  km_fd_on_listener_gone = NULL;
}
