/*
 * What the layer knows about some of the program's fds: memfds that stand for remote files,
 * placeholders that stand for remote directories, and sockets it redirected or saw listen.
 * Each entry records the real fd's device and inode, so an fd number that libc closed behind the
 * layer's back (fclose, closedir) and the kernel reused is never mistaken for the old one.
 */
#ifndef KM_FDTAB_H
#define KM_FDTAB_H

#include <sys/socket.h>
#include <sys/types.h>

#include "generated/layer_protocol.h"

enum km_fd_kind { KM_FD_NONE = 0, KM_FD_FILE, KM_FD_DIR, KM_FD_SOCK };

#define KM_UDP_RELAYS 8

struct km_udp_relay {
  struct sockaddr_storage dest; /* the real destination */
  socklen_t dest_len;
  uint16_t relay_port; /* the proxy's relay on 127.0.0.1 */
};

struct km_fd {
  int kind;
  dev_t dev;
  ino_t ino;
  /* KM_FD_FILE, KM_FD_DIR: the remote stat and path (normalised, absolute). */
  struct km_msg_stat_ok st;
  char path[4096];
  /* KM_FD_SOCK: the real destination of a redirected connect, for getpeername/recvfrom. */
  struct sockaddr_storage peer;
  socklen_t peer_len;
  uint16_t peer_relay_port; /* the relay the socket is really connected to (0 for TCP) */
  /* KM_FD_SOCK: a port this socket made listening (TCP listen, UDP bind), 0 if none. */
  uint16_t listen_port;
  uint8_t listen_udp;
  struct km_udp_relay relays[KM_UDP_RELAYS];
  unsigned nrelays;
  /* KM_FD_SOCK, incoming (incoming.h): the proxy's listener this fd refers to (0 none), and the
   * address the program asked to bind, which getsockname reports. */
  uint32_t in_listener;
  struct sockaddr_storage in_asked;
  socklen_t in_asked_len;
};

/** Copies the entry of `fd` into *out if it is still the same open file. 1 if found, else 0. */
int km_fd_get(int fd, struct km_fd *out);
/** Stores *e for `fd` (dev/ino are taken from the fd now). 0, or -errno. */
int km_fd_put(int fd, const struct km_fd *e);
/** Forgets `fd` (close, or the program replaced it). */
void km_fd_forget(int fd);
/** `newfd` now refers to what `oldfd` does (dup family). */
void km_fd_dup(int oldfd, int newfd);
/** Forgets every fd in [first, last]. */
void km_fd_forget_range(unsigned first, unsigned last);

/** Is a TCP (udp=0) or UDP (udp=1) port one the program itself listens on? */
int km_port_listening(uint16_t port, int udp);

/**
 * Incoming listeners are counted per process: every fd that refers to one (the bound socket and
 * its dups) holds it. When the last is forgotten (close, close_range, a reused fd number), this
 * callback runs with the id, outside the table's lock. NULL: nobody is told.
 */
extern void (*km_fd_on_listener_gone)(uint32_t listener);
/** The listeners this process holds (at most `max`); returns how many were written. */
size_t km_fd_listeners(uint32_t *out, size_t max);
/** How many fds of this process refer to `listener`. */
unsigned km_fd_listener_refs(uint32_t listener);

void km_fd_atfork_prepare(void);
void km_fd_atfork_parent(void);
void km_fd_atfork_child(void);

#endif
