/* Opening the link: dial the proxy's socket, move the fd out of the way, HELLO / HELLO_OK. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "layer.h"
#include "link.h"
#include "real.h"

static char saved_argv0[256];

static int dial(const char *path) {
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  if (strlen(path) >= sizeof sa.sun_path) return -ENAMETOOLONG;
  strcpy(sa.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int rc;
  do rc = KM_REAL(connect)(fd, (struct sockaddr *)&sa, sizeof sa);
  while (rc < 0 && errno == EINTR);
  if (rc < 0) {
    int err = errno;
    KM_REAL(close)(fd);
    return -err;
  }
  /* Out of the way of the program's own fds, and never 0, 1 or 2. */
  int high = fcntl(fd, F_DUPFD_CLOEXEC, KM_LINK_FD_MIN);
  if (high < 0) high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  KM_REAL(close)(fd);
  return high < 0 ? -errno : high;
}

static int hello(int take_config) {
  static char exe[4096];
  ssize_t n = KM_REAL(readlink)("/proc/self/exe", exe, sizeof exe - 1);
  exe[n > 0 ? n : 0] = 0;
  uint8_t frame[KM_SEND_MAX * 2 + 64];
  struct km_wr w = km_writer(frame, sizeof frame);
  size_t at = km_frame_begin(&w, KM_MSG_HELLO, 0);
  struct km_msg_hello m = {(uint32_t)getpid(), (uint32_t)getppid(), km_cstr(exe), km_cstr(saved_argv0)};
  km_enc_msg_hello(&w, &m);
  km_frame_end(&w, at);
  if (w.bad) return -EINVAL;
  struct km_reply reply;
  int rc = km_link_call(frame, w.len, KM_MSG_HELLO_OK, &reply);
  if (rc < 0) return rc;
  if (take_config) rc = km_config_parse(reply.body, reply.len);
  free(reply.body);
  return rc;
}

int km_link_open(const char *path, int take_config) {
  km_guard_enter();
  if (path != km_link_path) snprintf(km_link_path, sizeof km_link_path, "%s", path);
  int rc = dial(path);
  if (rc >= 0) {
    km_link_adopt(rc);
    rc = hello(take_config);
    if (rc < 0) km_link_close();
  }
  km_guard_leave();
  return rc < 0 ? rc : 0;
}

void km_link_set_argv0(const char *argv0) {
  snprintf(saved_argv0, sizeof saved_argv0, "%s", argv0 ? argv0 : "");
}
