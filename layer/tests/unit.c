/*
 * C unit tests of the layer's logic (no hooks, no constructor): the wire codec, HELLO_OK
 * parsing, path rules, addrinfo building; unit_link.c adds the errno each failure maps to, memfd
 * contents and the exec environment fix-up. Run by `make -C layer test`, once plainly and once
 * under AddressSanitizer; test/layer/build.test.ts runs both, and the aarch64 build under qemu.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dns.h"
#include "fdtab.h"
#include "files.h"
#include "layer.h"
#include "link.h"
#include "paths.h"
#include "check.h"

int failures, checks;

/* ---- codec ---- */

static void test_codec_hello_bytes(void) {
  uint8_t buf[128];
  struct km_wr w = km_writer(buf, sizeof buf);
  size_t at = km_frame_begin(&w, KM_MSG_HELLO, 7);
  struct km_msg_hello m = {0x01020304, 1, km_cstr("/bin/\xc3\xa9"), km_cstr("")};
  km_enc_msg_hello(&w, &m);
  km_frame_end(&w, at);
  /* The same fixture as src/protocol/layer-codec.test.ts. */
  static const uint8_t want[] = {0x1d, 0, 0, 0, 1, 0, 7, 0, 0, 0, 4, 3, 2, 1, 1, 0, 0, 0,
                                 7, 0, 0, 0, 0x2f, 0x62, 0x69, 0x6e, 0x2f, 0xc3, 0xa9, 0, 0, 0, 0};
  CHECK(!w.bad);
  CHECK_EQ_INT(w.len, sizeof want);
  CHECK(memcmp(buf, want, sizeof want) == 0);
  struct km_rd r = km_reader(buf + KM_HEADER_SIZE, w.len - KM_HEADER_SIZE);
  struct km_msg_hello back;
  km_dec_msg_hello(&r, &back);
  CHECK(!r.bad && r.left == 0);
  CHECK_EQ_INT(back.pid, 0x01020304);
  CHECK(back.exe.n == 7 && memcmp(back.exe.p, "/bin/\xc3\xa9", 7) == 0);
}

static void test_codec_bounds(void) {
  uint8_t buf[16];
  struct km_wr w = km_writer(buf, 12);
  km_put_u64(&w, 1);
  km_put_u64(&w, 2); /* does not fit */
  CHECK(w.bad);
  /* A string whose length runs past the body. */
  uint8_t body[] = {200, 0, 0, 0, 'x'};
  struct km_rd r = km_reader(body, sizeof body);
  struct km_msg_readlink m;
  km_dec_msg_readlink(&r, &m);
  CHECK(r.bad);
  CHECK_EQ_INT(m.path.n, 0);
  /* A list count no body could hold is refused before any item is read. */
  uint8_t list[] = {0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
  r = km_reader(list, sizeof list);
  struct km_msg_readdir_ok d;
  km_dec_msg_readdir_ok(&r, &d);
  CHECK(r.bad);
  CHECK_EQ_INT(d.entries.count, 0);
}

/* ---- HELLO_OK and path rules ---- */

static size_t patterns(uint8_t *buf, size_t cap, const char *const *p, struct km_list *out) {
  struct km_wr w = km_writer(buf, cap);
  uint32_t n = 0;
  for (; p && p[n]; n++) {
    struct km_item_pattern item = {km_cstr(p[n])};
    km_enc_item_pattern(&w, &item);
  }
  out->count = n, out->p = buf, out->n = w.len;
  return w.len;
}

/* A HELLO_OK frame with these rules (frame in `buf`; returns its length). */
static size_t hello_ok(uint8_t *buf, size_t cap, uint32_t flags, const char *const *remote, const char *const *local,
                       const char *const *not_found) {
  uint8_t a[1024], b[1024], c[1024];
  struct km_msg_hello_ok m = {.flags = flags, .fs_mode = KM_FS_MODE_READ, .max_file_bytes = 1 << 20, .connect_timeout_ms = 5000};
  patterns(a, sizeof a, remote, &m.remote_paths);
  patterns(b, sizeof b, local, &m.local_paths);
  patterns(c, sizeof c, not_found, &m.not_found_paths);
  struct km_wr w = km_writer(buf, cap);
  size_t at = km_frame_begin(&w, KM_MSG_HELLO_OK, 1);
  km_enc_msg_hello_ok(&w, &m);
  km_frame_end(&w, at);
  return w.bad ? 0 : w.len;
}

static const char *const remote_rules[] = {"^/etc/app(/.*)?$", "^/etc/resolv\\.conf$", "^/var/run/secrets(/.*)?$", NULL};
static const char *const local_rules[] = {"^/etc/app/local-only$", "^/var/run/secrets/hidden$", NULL};
static const char *const not_found_rules[] = {"^/var/run/secrets/hidden$", "[", NULL};

void configure(unsigned flags) {
  uint8_t frame[4096];
  size_t len = hello_ok(frame, sizeof frame, flags, remote_rules, local_rules, not_found_rules);
  CHECK(len > 0);
  CHECK_EQ_INT(km_config_parse(frame + KM_HEADER_SIZE, len - KM_HEADER_SIZE), 0);
  km_state = KM_ACTIVE;
}

static void test_config_parse(void) {
  configure(KM_FLAG_REMOTE_FS | KM_FLAG_REMOTE_DNS | KM_FLAG_OUTGOING_TCP);
  CHECK_EQ_INT(km_config.flags, KM_FLAG_REMOTE_FS | KM_FLAG_REMOTE_DNS | KM_FLAG_OUTGOING_TCP);
  CHECK_EQ_INT(km_config.max_file_bytes, 1 << 20);
  CHECK_EQ_INT(km_config.connect_timeout_ms, 5000);
  CHECK_EQ_INT(km_config.remote.count, 3);
  CHECK_EQ_INT(km_config.not_found.count, 1); /* "[" is not a regex: left out */
  /* A truncated HELLO_OK is refused. */
  uint8_t frame[4096];
  size_t len = hello_ok(frame, sizeof frame, 0, remote_rules, NULL, NULL);
  struct km_config saved = km_config;
  CHECK_EQ_INT(km_config_parse(frame + KM_HEADER_SIZE, len - KM_HEADER_SIZE - 1), -EINVAL);
  km_config = saved;
}

static void test_normalize(void) {
  char out[PATH_MAX];
  CHECK_EQ_INT(km_path_normalize("/a//b/./c/../d/", out, sizeof out), 0);
  CHECK_EQ_STR(out, "/a/b/d");
  CHECK_EQ_INT(km_path_normalize("/..", out, sizeof out), 0);
  CHECK_EQ_STR(out, "/");
  CHECK_EQ_INT(km_path_normalize("/etc/app/../../etc/app/x", out, sizeof out), 0);
  CHECK_EQ_STR(out, "/etc/app/x");
  CHECK_EQ_INT(km_path_normalize("relative", out, sizeof out), -EINVAL);
  char small[8];
  CHECK_EQ_INT(km_path_normalize("/abcdefgh", small, sizeof small), -ENAMETOOLONG);
}

static void test_rules_order(void) {
  configure(KM_FLAG_REMOTE_FS);
  CHECK_EQ_INT(km_path_rules("/etc/app"), KM_REMOTE);
  CHECK_EQ_INT(km_path_rules("/etc/app/key"), KM_REMOTE);
  CHECK_EQ_INT(km_path_rules("/etc/apple"), KM_LOCAL);
  CHECK_EQ_INT(km_path_rules("/etc/app/local-only"), KM_LOCAL);
  /* not_found wins over local, which wins over remote. */
  CHECK_EQ_INT(km_path_rules("/var/run/secrets/hidden"), KM_NOT_FOUND);
  CHECK_EQ_INT(km_path_rules("/etc/passwd"), KM_LOCAL);
  char abs[PATH_MAX];
  int err;
  CHECK_EQ_INT(km_path_where(AT_FDCWD, "/etc/app/./key", abs, &err), KM_REMOTE);
  CHECK_EQ_STR(abs, "/etc/app/key");
  CHECK_EQ_INT(km_path_where(AT_FDCWD, "/etc/x/../app/key", abs, &err), KM_REMOTE);
  /* Relative to the working directory: the user's. */
  CHECK_EQ_INT(km_path_where(AT_FDCWD, "etc/app/key", abs, &err), KM_LOCAL);
  /* A path past PATH_MAX is ENAMETOOLONG, never truncated into a different path. */
  char longp[PATH_MAX + 64];
  memset(longp, 'a', sizeof longp - 1);
  longp[0] = '/';
  longp[sizeof longp - 1] = 0;
  CHECK_EQ_INT(km_path_where(AT_FDCWD, longp, abs, &err), KM_NOT_FOUND);
  CHECK_EQ_INT(err, ENAMETOOLONG);
  /* fs off, or mode local: everything is local. */
  configure(0);
  CHECK_EQ_INT(km_path_where(AT_FDCWD, "/etc/app/key", abs, &err), KM_LOCAL);
  configure(KM_FLAG_REMOTE_FS);
  km_config.fs_mode = KM_FS_MODE_LOCAL;
  CHECK_EQ_INT(km_path_where(AT_FDCWD, "/etc/app/key", abs, &err), KM_LOCAL);
  km_config.fs_mode = KM_FS_MODE_READ;
}

static void test_dirfd_relative(void) {
  configure(KM_FLAG_REMOTE_FS);
  struct km_msg_stat_ok st;
  memset(&st, 0, sizeof st);
  st.mode = S_IFDIR | 0755;
  int fd = km_remote_dir_fd("/etc/app", &st, 1);
  CHECK(fd >= 0);
  char abs[PATH_MAX];
  int err;
  CHECK_EQ_INT(km_path_where(fd, "sub/key", abs, &err), KM_REMOTE);
  CHECK_EQ_STR(abs, "/etc/app/sub/key");
  CHECK_EQ_INT(km_path_where(fd, "../passwd", abs, &err), KM_LOCAL);
  struct km_msg_stat_ok got;
  CHECK(km_fd_remote_stat(fd, &got) && got.mode == (S_IFDIR | 0755));
  /* After a close that the layer did not see, a new fd of that number is not the old one. */
  close(fd);
  int other = memfd_create("other", MFD_CLOEXEC);
  if (other != fd) {
    dup2(other, fd);
    close(other);
  }
  CHECK(!km_fd_remote_stat(fd, &got));
  close(fd);
}

/* ---- addrinfo ---- */

static size_t ai_count(const struct addrinfo *ai) {
  size_t n = 0;
  for (; ai; ai = ai->ai_next) n++;
  return n;
}

static void test_addrinfo(void) {
  struct km_addr addrs[2] = {{KM_FAMILY_IPV4, {10, 1, 2, 3}}, {KM_FAMILY_IPV6, {0xfd, 0, [15] = 7}}};
  struct addrinfo *res = NULL;
  CHECK_EQ_INT(km_build_addrinfo(addrs, 2, "svc.cluster.local", 8080, NULL, &res), 0);
  CHECK_EQ_INT(ai_count(res), 6); /* stream, dgram and raw for each address */
  CHECK_EQ_INT(res->ai_family, AF_INET);
  CHECK_EQ_INT(res->ai_socktype, SOCK_STREAM);
  CHECK_EQ_INT(res->ai_protocol, IPPROTO_TCP);
  CHECK_EQ_INT(ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port), 8080);
  CHECK(res->ai_canonname == NULL); /* not asked for */
  CHECK(km_dns_freeaddrinfo(res));

  struct addrinfo hints = {.ai_family = AF_INET6, .ai_socktype = SOCK_STREAM, .ai_flags = AI_CANONNAME};
  CHECK_EQ_INT(km_build_addrinfo(addrs, 2, "svc.cluster.local", 443, &hints, &res), 0);
  CHECK_EQ_INT(ai_count(res), 1);
  CHECK_EQ_INT(res->ai_family, AF_INET6);
  CHECK_EQ_INT(res->ai_addrlen, sizeof(struct sockaddr_in6));
  CHECK_EQ_STR(res->ai_canonname, "svc.cluster.local");
  CHECK(km_dns_freeaddrinfo(res));

  /* AF_INET6 with V4MAPPED and only an IPv4 answer: ::ffff:10.1.2.3. */
  hints = (struct addrinfo){.ai_family = AF_INET6, .ai_socktype = SOCK_DGRAM, .ai_flags = AI_V4MAPPED};
  CHECK_EQ_INT(km_build_addrinfo(addrs, 1, NULL, 53, &hints, &res), 0);
  char text[64];
  inet_ntop(AF_INET6, &((struct sockaddr_in6 *)res->ai_addr)->sin6_addr, text, sizeof text);
  CHECK_EQ_STR(text, "::ffff:10.1.2.3");
  CHECK_EQ_INT(res->ai_protocol, IPPROTO_UDP);
  CHECK(km_dns_freeaddrinfo(res));

  /* Without V4MAPPED an IPv4-only answer has nothing for AF_INET6. */
  hints.ai_flags = 0;
  CHECK_EQ_INT(km_build_addrinfo(addrs, 1, NULL, 53, &hints, &res), EAI_ADDRFAMILY);
  CHECK_EQ_INT(km_build_addrinfo(addrs, 0, NULL, 53, NULL, &res), EAI_NONAME);

  /* freeaddrinfo of a list libc built is not the layer's. */
  struct addrinfo *theirs = NULL;
  struct addrinfo numeric = {.ai_flags = AI_NUMERICHOST};
  CHECK_EQ_INT(getaddrinfo("127.0.0.1", "80", &numeric, &theirs), 0);
  CHECK(!km_dns_freeaddrinfo(theirs));
  freeaddrinfo(theirs);
}

static void test_loopback(void) {
  uint8_t v4[4] = {127, 0, 0, 9}, any[4] = {0, 0, 0, 0}, ext[4] = {10, 0, 0, 1};
  uint8_t v6[16] = {[15] = 1}, mapped[16] = {[10] = 0xff, [11] = 0xff, [12] = 127, [15] = 1};
  uint8_t mapped_ext[16] = {[10] = 0xff, [11] = 0xff, [12] = 10, [15] = 1};
  CHECK(km_addr_is_loopback(KM_FAMILY_IPV4, v4));
  CHECK(km_addr_is_loopback(KM_FAMILY_IPV4, any));
  CHECK(!km_addr_is_loopback(KM_FAMILY_IPV4, ext));
  CHECK(km_addr_is_loopback(KM_FAMILY_IPV6, v6));
  CHECK(km_addr_is_loopback(KM_FAMILY_IPV6, mapped));
  CHECK(!km_addr_is_loopback(KM_FAMILY_IPV6, mapped_ext));
}

void test_link_errno(void);
void test_link_out_of_order(void);
void test_env_fix(void);
void test_filters(void);
void test_incoming_refs(void);
void test_incoming_bind(void);

int main(void) {
  test_codec_hello_bytes();
  test_codec_bounds();
  test_config_parse();
  test_normalize();
  test_rules_order();
  test_dirfd_relative();
  test_addrinfo();
  test_loopback();
  test_link_errno();
  test_link_out_of_order();
  test_env_fix();
  test_filters();
  test_incoming_refs();
  test_incoming_bind();
  printf("%d checks, %d failed\n", checks, failures);
  return failures ? 1 : 0;
}
