/* Hooks: sockets (net.h does the work). */
#define _GNU_SOURCE
#include <string.h>
#include <sys/socket.h>

#include "hooks.h"
#include "incoming.h"
#include "net.h"

KM_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len) {
  if (km_on()) {
    int rc = KM_GUARDED(km_net_connect(fd, sa, len));
    if (rc != KM_NET_LOCAL) return km_ret(rc);
  }
  return KM_REAL(connect)(fd, sa, len);
}

KM_EXPORT int bind(int fd, const struct sockaddr *sa, socklen_t len) {
  if (km_on()) {
    int taken = KM_GUARDED(km_incoming_bind(fd, sa, len));
    if (taken != KM_NET_LOCAL) return km_ret(taken);
  }
  int rc = KM_REAL(bind)(fd, sa, len);
  if (rc == 0 && km_on() && sa && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)) {
    int saved = errno;
    KM_GUARDED((km_net_bound(fd), 0));
    errno = saved;
  }
  return rc;
}

KM_EXPORT int listen(int fd, int backlog) {
  int rc = KM_REAL(listen)(fd, backlog);
  if (rc == 0 && km_on()) {
    int saved = errno;
    KM_GUARDED((km_net_listening(fd), 0));
    KM_GUARDED((km_incoming_listening(fd), 0));
    errno = saved;
  }
  return rc;
}

KM_EXPORT int accept(int fd, struct sockaddr *sa, socklen_t *len) {
  int rc = KM_REAL(accept)(fd, sa, len);
  if (rc >= 0 && km_on()) {
    int saved = errno;
    KM_GUARDED((km_incoming_accepted(fd, rc, sa, len), 0));
    errno = saved;
  }
  return rc;
}

KM_EXPORT int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags) {
  int rc = KM_REAL(accept4)(fd, sa, len, flags);
  if (rc >= 0 && km_on()) {
    int saved = errno;
    KM_GUARDED((km_incoming_accepted(fd, rc, sa, len), 0));
    errno = saved;
  }
  return rc;
}

KM_EXPORT int getsockname(int fd, struct sockaddr *sa, socklen_t *len) {
  if (km_on()) {
    int rc = KM_GUARDED(km_incoming_getsockname(fd, sa, len));
    if (rc != KM_NET_LOCAL) return km_ret(rc);
  }
  return KM_REAL(getsockname)(fd, sa, len);
}

KM_EXPORT int getpeername(int fd, struct sockaddr *sa, socklen_t *len) {
  if (km_on()) {
    int rc = KM_GUARDED(km_net_getpeername(fd, sa, len));
    if (rc != KM_NET_LOCAL) return km_ret(rc);
  }
  return KM_REAL(getpeername)(fd, sa, len);
}

KM_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *dest, socklen_t dest_len) {
  if (km_on() && dest) {
    struct sockaddr_storage relay;
    socklen_t relay_len;
    int rc = KM_GUARDED(km_net_udp_dest(fd, dest, dest_len, &relay, &relay_len));
    if (rc < 0) return km_ret(rc);
    if (rc == 1) return KM_REAL(sendto)(fd, buf, n, flags, (struct sockaddr *)&relay, relay_len);
  }
  return KM_REAL(sendto)(fd, buf, n, flags, dest, dest_len);
}

KM_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) {
  if (km_on() && msg && msg->msg_name) {
    struct sockaddr_storage relay;
    socklen_t relay_len;
    int rc = KM_GUARDED(km_net_udp_dest(fd, msg->msg_name, msg->msg_namelen, &relay, &relay_len));
    if (rc < 0) return km_ret(rc);
    if (rc == 1) {
      struct msghdr copy = *msg;
      copy.msg_name = &relay;
      copy.msg_namelen = relay_len;
      return KM_REAL(sendmsg)(fd, &copy, flags);
    }
  }
  return KM_REAL(sendmsg)(fd, msg, flags);
}

/* Each message's destination is rewritten in place for the call, then given back. */
KM_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags) {
  enum { MAX = 64 };
  if (!km_on() || !vec || vlen == 0) return KM_REAL(sendmmsg)(fd, vec, vlen, flags);
  if (vlen > MAX) vlen = MAX; /* a short count, which sendmmsg may return anyway */
  struct sockaddr_storage relay[MAX];
  void *names[MAX];
  socklen_t lens[MAX];
  for (unsigned i = 0; i < vlen; i++) {
    names[i] = vec[i].msg_hdr.msg_name;
    lens[i] = vec[i].msg_hdr.msg_namelen;
    if (!names[i]) continue;
    socklen_t rl;
    int rc = KM_GUARDED(km_net_udp_dest(fd, names[i], lens[i], &relay[i], &rl));
    if (rc < 0) {
      for (unsigned j = 0; j < i; j++) vec[j].msg_hdr.msg_name = names[j], vec[j].msg_hdr.msg_namelen = lens[j];
      if (i == 0) return km_ret(rc);
      vlen = i;
      break;
    }
    if (rc == 1) vec[i].msg_hdr.msg_name = &relay[i], vec[i].msg_hdr.msg_namelen = rl;
  }
  int sent = KM_REAL(sendmmsg)(fd, vec, vlen, flags);
  int saved = errno;
  for (unsigned i = 0; i < vlen; i++) vec[i].msg_hdr.msg_name = names[i], vec[i].msg_hdr.msg_namelen = lens[i];
  errno = saved;
  return sent;
}

KM_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *src, socklen_t *src_len) {
  socklen_t cap = src_len ? *src_len : 0;
  ssize_t rc = KM_REAL(recvfrom)(fd, buf, n, flags, src, src_len);
  if (rc >= 0 && src && km_on()) {
    int saved = errno;
    KM_GUARDED((km_net_udp_source(fd, src, src_len, cap), 0));
    errno = saved;
  }
  return rc;
}

KM_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags) {
  socklen_t cap = msg ? msg->msg_namelen : 0;
  ssize_t rc = KM_REAL(recvmsg)(fd, msg, flags);
  if (rc >= 0 && msg && msg->msg_name && km_on()) {
    int saved = errno;
    KM_GUARDED((km_net_udp_source(fd, msg->msg_name, &msg->msg_namelen, cap), 0));
    errno = saved;
  }
  return rc;
}

KM_EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags, struct timespec *timeout) {
  enum { MAX = 1024 };
  socklen_t caps[MAX];
  for (unsigned i = 0; vec && i < vlen && i < MAX; i++) caps[i] = vec[i].msg_hdr.msg_namelen;
  int rc = KM_REAL(recvmmsg)(fd, vec, vlen, flags, timeout);
  if (rc > 0 && km_on()) {
    int saved = errno;
    for (int i = 0; i < rc && i < MAX; i++)
      if (vec[i].msg_hdr.msg_name)
        KM_GUARDED((km_net_udp_source(fd, vec[i].msg_hdr.msg_name, &vec[i].msg_hdr.msg_namelen, caps[i]), 0));
    errno = saved;
  }
  return rc;
}
