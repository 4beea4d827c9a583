/* The process state: configuration from HELLO_OK, the guard, logging. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filter.h"
#include "layer.h"
#include "link.h"

KM_TLS int km_guard_depth;
volatile int km_state = KM_INERT;
struct km_config km_config;
int km_config_loaded;

int km_feature(uint32_t flag) {
  if (km_state == KM_BROKEN) return flag != KM_FLAG_SKIP && flag != KM_FLAG_OUTGOING_IGNORE_LOCALHOST;
  if (km_state != KM_ACTIVE) return 0;
  return (km_config.flags & flag) != 0;
}

static void rules_free(struct km_rules *rules) {
  for (size_t i = 0; i < rules->count; i++) regfree(&rules->re[i]);
  free(rules->re);
  rules->re = NULL;
  rules->count = 0;
}

/* Compiles every pattern of a list. A pattern regcomp refuses is logged and left out. */
static int rules_compile(struct km_rules *rules, const struct km_list *list, const char *which) {
  rules_free(rules);
  rules->re = calloc(list->count ? list->count : 1, sizeof(regex_t));
  if (!rules->re) return -ENOMEM;
  struct km_rd r = km_list_reader(list);
  for (uint32_t i = 0; i < list->count; i++) {
    struct km_item_pattern p;
    km_dec_item_pattern(&r, &p);
    if (r.bad) return -EINVAL;
    char *text = strndup(p.pattern.p, p.pattern.n);
    if (!text) return -ENOMEM;
    int rc = regcomp(&rules->re[rules->count], text, REG_EXTENDED | REG_NOSUB);
    if (rc == 0) {
      rules->count++;
    } else {
      char msg[128];
      regerror(rc, &rules->re[rules->count], msg, sizeof msg);
      km_log(KM_LOG_WARN, "the %s path pattern %s is not a POSIX extended regex (%s); it is ignored", which, text, msg);
    }
    free(text);
  }
  return 0;
}

int km_config_parse(const uint8_t *body, size_t len) {
  struct km_rd r = km_reader(body, len);
  struct km_msg_hello_ok m;
  km_dec_msg_hello_ok(&r, &m);
  if (r.bad || r.left != 0) return -EINVAL;
  km_config.flags = m.flags;
  km_config.fs_mode = m.fs_mode;
  km_config.max_file_bytes = m.max_file_bytes;
  km_config.connect_timeout_ms = m.connect_timeout_ms;
  int rc = rules_compile(&km_config.remote, &m.remote_paths, "remote");
  if (rc == 0) rc = rules_compile(&km_config.local, &m.local_paths, "local");
  if (rc == 0) rc = rules_compile(&km_config.not_found, &m.not_found_paths, "not_found");
  if (rc == 0) rc = km_filter_load(&km_config.outgoing_filter, m.outgoing_filter_side, &m.outgoing_filter);
  if (rc == 0) rc = km_filter_load(&km_config.dns_filter, m.dns_filter_side, &m.dns_filter);
  if (rc == 0) km_config_loaded = 1;
  return rc;
}

void km_log(int level, const char *fmt, ...) {
  if (km_link_fd < 0) return;
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  uint8_t frame[sizeof text + 64];
  struct km_wr w = km_writer(frame, sizeof frame);
  size_t at = km_frame_begin(&w, KM_MSG_LOG, 0);
  struct km_msg_log m = {(uint8_t)level, km_cstr(text)};
  km_enc_msg_log(&w, &m);
  km_frame_end(&w, at);
  if (!w.bad) km_link_send(frame, w.len);
}

void km_stderr_once(int *once, const char *fmt, ...) {
  if (__atomic_exchange_n(once, 1, __ATOMIC_ACQ_REL)) return;
  char text[600];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(text, sizeof text - 1, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n > sizeof text - 2) n = (int)sizeof text - 2;
  text[n++] = '\n';
  ssize_t ignored = write(2, text, (size_t)n);
  (void)ignored;
}
