/*
 * C unit tests of the link: the errno each answer or failure maps to (against the fake proxy),
 * memfd contents, and the exec environment fix-up. main() is in unit.c.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <pthread.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "dns.h"
#include "fake_proxy.h"
#include "fdtab.h"
#include "files.h"
#include "layer.h"
#include "link.h"
#include "net.h"
#include "paths.h"
#include "procs.h"

/* ---- errno mapping through the link (fake proxy) ---- */

static size_t stat_ok_frame(uint8_t *buf, size_t cap, int32_t err, uint64_t size) {
  struct km_msg_stat_ok m;
  memset(&m, 0, sizeof m);
  m.err = err, m.mode = S_IFREG | 0640, m.uid = 4242, m.size = size, m.nlink = 1, m.mtime_s = 1600000000;
  struct km_wr w = km_writer(buf, cap);
  size_t at = km_frame_begin(&w, KM_MSG_OPEN_FILE_OK, 0); /* same body as STAT_OK */
  km_enc_msg_stat_ok(&w, &m); /* OPEN_FILE_OK's body is the same list of fields */
  km_frame_end(&w, at);
  return w.len;
}

static void retype(uint8_t *frame, uint16_t type) { km_put_le(frame + 4, type, 2); }

void test_link_errno(void) {
  configure(KM_FLAG_REMOTE_FS | KM_FLAG_REMOTE_DNS | KM_FLAG_OUTGOING_TCP);
  km_link_fd = fake_proxy_start();
  uint8_t frame[512], body[512];
  size_t len;

  /* STAT: err ENOENT comes back as -ENOENT; a good answer fills every field. */
  len = stat_ok_frame(frame, sizeof frame, ENOENT, 0);
  retype(frame, KM_MSG_STAT_OK);
  fake_proxy_reply(frame, len, NULL, 0);
  struct km_msg_stat_ok st;
  CHECK_EQ_INT(km_remote_stat("/etc/app/missing", 1, &st), -ENOENT);
  size_t got;
  CHECK_EQ_INT(fake_proxy_last(body, sizeof body, &got), KM_MSG_STAT);
  struct km_rd r = km_reader(body, got);
  struct km_msg_stat req;
  km_dec_msg_stat(&r, &req);
  CHECK(!r.bad && req.path.n == 16 && memcmp(req.path.p, "/etc/app/missing", 16) == 0 && req.follow == 1);

  len = stat_ok_frame(frame, sizeof frame, 0, 20);
  retype(frame, KM_MSG_STAT_OK);
  fake_proxy_reply(frame, len, NULL, 0);
  CHECK_EQ_INT(km_remote_stat("/etc/app/key", 0, &st), 0);
  struct stat s;
  km_fill_stat(&st, &s);
  CHECK_EQ_INT(s.st_size, 20);
  CHECK_EQ_INT(s.st_uid, 4242);
  CHECK_EQ_INT(s.st_mode, S_IFREG | 0640);
  CHECK_EQ_INT(s.st_mtim.tv_sec, 1600000000);

  /* OPEN_FILE: contents land in a sealed memfd, read-only as opened, with the remote stat. */
  len = stat_ok_frame(frame, sizeof frame, 0, 5);
  fake_proxy_reply(frame, len, (const uint8_t *)"hello", 5);
  int fd = km_remote_open("/etc/app/key", O_RDONLY | O_CLOEXEC);
  CHECK(fd >= 0);
  char text[16] = {0};
  CHECK_EQ_INT(read(fd, text, sizeof text), 5);
  CHECK_EQ_STR(text, "hello");
  CHECK_EQ_INT(write(fd, "x", 1), -1);
  CHECK_EQ_INT(errno, EBADF);
  CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
  CHECK(km_fd_remote_stat(fd, &st) && st.uid == 4242 && st.size == 5);
  km_fd_forget(fd);
  close(fd);

  /* EFBIG (over the limit) and an ERROR answer keep their errno. */
  len = stat_ok_frame(frame, sizeof frame, EFBIG, 0);
  fake_proxy_reply(frame, len, NULL, 0);
  CHECK_EQ_INT(km_remote_open("/etc/app/big", O_RDONLY), -EFBIG);
  struct km_wr w = km_writer(frame, sizeof frame);
  size_t at = km_frame_begin(&w, KM_MSG_ERROR, 0);
  struct km_msg_error e = {EACCES, km_cstr("not allowed")};
  km_enc_msg_error(&w, &e);
  km_frame_end(&w, at);
  fake_proxy_reply(frame, w.len, NULL, 0);
  CHECK_EQ_INT(km_remote_access("/etc/app/key", R_OK), -EACCES);

  /* DNS: an EAI code passes through unchanged. */
  w = km_writer(frame, sizeof frame);
  at = km_frame_begin(&w, KM_MSG_GETADDRINFO_OK, 0);
  struct km_msg_getaddrinfo_ok g = {EAI_NONAME, km_cstr(""), {0, NULL, 0}};
  km_enc_msg_getaddrinfo_ok(&w, &g);
  km_frame_end(&w, at);
  fake_proxy_reply(frame, w.len, NULL, 0);
  struct addrinfo *res;
  CHECK_EQ_INT(km_dns_getaddrinfo("nope.svc", "80", NULL, &res), EAI_NONAME);
  /* A numeric host never reaches the proxy. */
  CHECK_EQ_INT(km_dns_getaddrinfo("10.0.0.1", "80", NULL, &res), KM_DNS_LOCAL);
  CHECK_EQ_INT(km_dns_getaddrinfo("::1", "80", NULL, &res), KM_DNS_LOCAL);

  /* An answer with the wrong type is a broken link, not a misread answer. */
  len = stat_ok_frame(frame, sizeof frame, 0, 1); /* OPEN_FILE_OK where STAT_OK is due */
  fake_proxy_reply(frame, len, NULL, 0);
  CHECK_EQ_INT(km_remote_stat("/etc/app/key", 1, &st), -EIO);
  CHECK_EQ_INT(km_state, KM_BROKEN);
  fake_proxy_stop();
  km_state = KM_ACTIVE;
  km_link_fd = fake_proxy_start();

  /* The proxy goes away: the call fails with EIO (files), EAI_AGAIN (DNS), ECONNREFUSED (connect),
   * and the layer is broken for good, without a crash. */
  fake_proxy_hang_up();
  CHECK_EQ_INT(km_remote_stat("/etc/app/key", 1, &st), -EIO);
  CHECK_EQ_INT(km_state, KM_BROKEN);
  CHECK_EQ_INT(km_link_fd, -1);
  CHECK_EQ_INT(km_dns_getaddrinfo("svc", "80", NULL, &res), EAI_AGAIN);
  /* Remote paths stay remote (and fail) rather than fall back to the user's files. */
  char abs[PATH_MAX];
  int perr;
  CHECK_EQ_INT(km_path_where(AT_FDCWD, "/etc/app/key", abs, &perr), KM_REMOTE);
  CHECK_EQ_INT(km_remote_open("/etc/app/key", O_RDONLY), -EIO);
  int sock = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(80)};
  inet_pton(AF_INET, "10.9.9.9", &to.sin_addr);
  CHECK_EQ_INT(km_net_connect(sock, (struct sockaddr *)&to, sizeof to), -ECONNREFUSED);
  /* Loopback stays on the user's machine when the proxy is gone. */
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  CHECK_EQ_INT(km_net_connect(sock, (struct sockaddr *)&to, sizeof to), KM_NET_LOCAL);
  close(sock);
  fake_proxy_stop();
  km_state = KM_ACTIVE;
}

/* ---- two threads, answers out of order ---- */

struct stat_job {
  const char *path;
  int rc;
  struct km_msg_stat_ok st;
};

static void *stat_thread(void *arg) {
  struct stat_job *job = arg;
  job->rc = km_remote_stat(job->path, 1, &job->st);
  return NULL;
}

void test_link_out_of_order(void) {
  configure(KM_FLAG_REMOTE_FS);
  km_link_fd = fake_proxy_start();
  fake_proxy_swap_pairs(1);
  uint8_t frame[512];
  /* Answers in request order: sizes 111 then 222; the fake sends 222's first. */
  size_t len = stat_ok_frame(frame, sizeof frame, 0, 111);
  retype(frame, KM_MSG_STAT_OK);
  fake_proxy_reply(frame, len, NULL, 0);
  len = stat_ok_frame(frame, sizeof frame, 0, 222);
  retype(frame, KM_MSG_STAT_OK);
  fake_proxy_reply(frame, len, NULL, 0);
  struct stat_job a = {"/etc/app/a", 1, {0}}, b = {"/etc/app/b", 1, {0}};
  pthread_t ta, tb;
  pthread_create(&ta, NULL, stat_thread, &a);
  /* The first request must be on the wire before the second, so that 111 is a's. */
  uint8_t body[64];
  size_t got;
  fake_proxy_last(body, sizeof body, &got);
  pthread_create(&tb, NULL, stat_thread, &b);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  CHECK_EQ_INT(a.rc, 0);
  CHECK_EQ_INT(b.rc, 0);
  CHECK_EQ_INT(a.st.size, 111);
  CHECK_EQ_INT(b.st.size, 222);
  CHECK_EQ_INT(km_state, KM_ACTIVE);
  fake_proxy_swap_pairs(0);
  fake_proxy_stop();
  km_link_fd = -1;
}

/* ---- exec environment ---- */

static int has(char *const *env, const char *entry) {
  for (size_t i = 0; env[i]; i++)
    if (strcmp(env[i], entry) == 0) return 1;
  return 0;
}

void test_env_fix(void) {
  Dl_info info;
  dladdr((void *)&km_procs_init, &info);
  char lib[PATH_MAX], preload[PATH_MAX + 16], joined[PATH_MAX * 2];
  snprintf(lib, sizeof lib, "%s", info.dli_fname);
  snprintf(preload, sizeof preload, "LD_PRELOAD=%s", lib);
  char *start[] = {preload, "KUBECTL_MIRRORD_LAYER_SOCKET=/run/x/proxy.sock", "HOME=/root", NULL};
  km_procs_init(start);

  char *bare[] = {"A=1", NULL};
  struct km_env env;
  km_env_fix(bare, &env);
  CHECK(env.map != NULL);
  CHECK(has(env.envp, "A=1"));
  CHECK(has(env.envp, preload));
  CHECK(has(env.envp, "KUBECTL_MIRRORD_LAYER_SOCKET=/run/x/proxy.sock"));
  CHECK(!has(env.envp, "HOME=/root")); /* only the control variables come back */
  km_env_release(&env);

  /* Someone else's LD_PRELOAD keeps its libraries first. */
  char *other[] = {"LD_PRELOAD=/opt/other.so", "KUBECTL_MIRRORD_LAYER_SOCKET=/run/x/proxy.sock", NULL};
  km_env_fix(other, &env);
  snprintf(joined, sizeof joined, "LD_PRELOAD=/opt/other.so:%s", lib);
  CHECK(has(env.envp, joined));
  CHECK(!has(env.envp, "LD_PRELOAD=/opt/other.so"));
  km_env_release(&env);

  /* Nothing missing: the caller's own envp, untouched. */
  km_env_fix(start, &env);
  CHECK(env.map == NULL && env.envp == start);
  /* NULL means empty. */
  km_env_fix(NULL, &env);
  CHECK(has(env.envp, preload));
  km_env_release(&env);
}

