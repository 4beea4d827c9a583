/*
 * What every file of the layer shares: the export macro, the thread-local guard, the process
 * state (configuration from HELLO_OK), and logging.
 *
 * Everything is hidden (-fvisibility=hidden) except the hooks, which are marked KM_EXPORT. Inside
 * the layer, libc is only ever reached through KM_REAL() (real.h), never by calling a hooked name.
 */
#ifndef KM_LAYER_H
#define KM_LAYER_H

#include <stdint.h>
#include <stddef.h>
#include <regex.h>

#define KM_EXPORT __attribute__((visibility("default")))
#define KM_TLS __thread __attribute__((tls_model("initial-exec")))

/* ---- the guard: the layer's own libc calls never enter its hooks ---- */
extern KM_TLS int km_guard_depth;
static inline int km_guarded(void) { return km_guard_depth > 0; }
static inline void km_guard_enter(void) { km_guard_depth++; }
static inline void km_guard_leave(void) { km_guard_depth--; }

/* ---- process state ---- */

/** One compiled path rule list. */
struct km_rules {
  regex_t *re;
  size_t count;
};

/** One entry of an outgoing or DNS filter (filter.h), as HELLO_OK's netFilter item says. */
struct km_filter_entry {
  uint8_t kind; /* KM_FILTER_KIND_* */
  uint8_t proto; /* KM_FILTER_PROTO_* */
  uint8_t family; /* KM_FAMILY_*, for address and subnet */
  uint8_t prefix; /* subnet bits (address: the whole address) */
  uint16_t port; /* 0: any port */
  uint8_t addr[16];
  char name[254]; /* lowercase, no final dot (kind name) */
};

/** mirrord's `{ remote: [...] }` or `{ local: [...] }`; side KM_FILTER_SIDE_NONE without one. */
struct km_filter {
  uint8_t side; /* KM_FILTER_SIDE_* */
  size_t count;
  struct km_filter_entry *entries;
};

struct km_config {
  uint32_t flags; /* KM_FLAG_* */
  uint8_t fs_mode; /* KM_FS_MODE_* */
  uint64_t max_file_bytes;
  uint32_t connect_timeout_ms;
  struct km_rules remote, local, not_found;
  struct km_filter outgoing_filter, dns_filter;
};

/** Where the layer stands: nothing to do, working, or the proxy is unreachable. */
enum km_state {
  /** No KUBECTL_MIRRORD_LAYER_SOCKET, not yet initialised, or the skip flag: pass everything. */
  KM_INERT = 0,
  /** Connected, configured. */
  KM_ACTIVE = 1,
  /** The variable is set but the proxy cannot be reached (or went away): remote calls fail. */
  KM_BROKEN = 2,
};

extern volatile int km_state;
extern struct km_config km_config;
/** Set once a HELLO_OK was parsed: the path rules are known, even if the link breaks later. */
extern int km_config_loaded;

/** True when the hook should do the layer's work (not guarded, not inert). */
static inline int km_on(void) { return !km_guarded() && km_state != KM_INERT; }
/** A HELLO_OK flag; in the broken state every remote feature is on, so that it fails. */
int km_feature(uint32_t flag);

/* ---- logging (LOG to the proxy; never stdout) ---- */
void km_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Writes one line on fd 2, once per process for each `once` flag. */
void km_stderr_once(int *once, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
