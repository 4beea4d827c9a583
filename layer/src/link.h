/*
 * The link to the exec proxy: one Unix stream connection per process (opened by the constructor,
 * again in a fork child). Requests from any thread, answers matched by id, so threads do not wait
 * for each other's answers. See src/protocol/layer-messages.ts for the messages.
 */
#ifndef KM_LINK_H
#define KM_LINK_H

#include <stddef.h>
#include <stdint.h>

#include "generated/layer_protocol.h"

/** The fd the link uses; moved to >= KM_LINK_FD_MIN, close-on-exec. -1 when closed. */
extern int km_link_fd;
#define KM_LINK_FD_MIN 100

/** Frames the layer sends are small: a path (< PATH_MAX) and a few fields. */
#define KM_SEND_MAX (4096 + 512)

/** An answer: `body` (malloc'd, free it) holds `len` bytes after the header. */
struct km_reply {
  uint16_t type;
  uint8_t *body;
  size_t len;
};

/**
 * Connects to `path` and exchanges HELLO / HELLO_OK. With `config_out` the HELLO_OK is parsed
 * into the process configuration. Returns 0, or a negative errno (the link is then closed).
 */
int km_link_open(const char *path, int take_config);

/**
 * Sends one request frame (built with km_frame_begin; its id is filled in here) and waits for the
 * answer of type `want`. Returns 0 with *reply filled, -EIO when the link is down or the answer
 * is malformed (the link is then closed for good), or -err for an ERROR answer.
 */
int km_link_call(uint8_t *frame, size_t len, uint16_t want, struct km_reply *reply);

/**
 * OPEN_FILE: sends the frame; on an OPEN_FILE_OK with err 0 copies the `size` raw bytes that
 * follow into `*memfd_out` (a sealed memfd, read-write, close-on-exec; the caller reopens it).
 * Returns 0 with *reply filled (err may be nonzero, then no memfd), or a negative errno.
 */
int km_link_open_file(uint8_t *frame, size_t len, const char *name, struct km_reply *reply, int *memfd_out);

/** Makes `fd` (connected to the proxy) the link; km_link_close ends it. */
void km_link_adopt(int fd);
void km_link_close(void);

/** Sends a one-way frame (id 0). Failures are ignored. */
void km_link_send(uint8_t *frame, size_t len);

/** fork: hold the link's lock around fork, and reconnect in the child. */
void km_link_atfork_prepare(void);
void km_link_atfork_parent(void);
void km_link_atfork_child(void);

/** The socket path the process was started with (for the child's reconnect). */
extern char km_link_path[108];

/** True if `fd` is the link (close/dup2 hooks keep it open). */
static inline int km_is_link_fd(int fd) { return fd >= 0 && fd == km_link_fd; }

/** Moves the link off `fd` (the program is about to dup2 onto it). */
void km_link_move_off(int fd);

/** The argv[0] HELLO reports (the constructor records it). */
void km_link_set_argv0(const char *argv0);

/** Parses a HELLO_OK body into km_config. Returns 0 or -EINVAL. Exposed for the unit tests. */
int km_config_parse(const uint8_t *body, size_t len);

#endif
