/*
 * A fake proxy for the C unit tests: a thread on the far end of a socketpair that reads each
 * request frame the layer sends and answers with the next reply the test queued (its id patched
 * to the request's), optionally followed by raw bytes (OPEN_FILE_OK contents), or closes.
 */
#ifndef KM_FAKE_PROXY_H
#define KM_FAKE_PROXY_H

#include <stddef.h>
#include <stdint.h>

/** Starts the fake on a new socketpair; returns the layer's end. */
int fake_proxy_start(void);
/** Queues an answer: a frame built with km_frame_begin/end, and raw bytes to follow (or NULL). */
void fake_proxy_reply(const uint8_t *frame, size_t len, const uint8_t *raw, size_t raw_len);
/** From now on, read two requests before answering, and answer the second one first. */
void fake_proxy_swap_pairs(int on);
/** Queues "close the connection instead of answering". */
void fake_proxy_hang_up(void);
/** The type and body of the last request the fake read (waits for it). */
uint16_t fake_proxy_last(uint8_t *body, size_t cap, size_t *len);
/** As fake_proxy_last, but waits (up to 5 s) until the last request is of `type`: one-way frames
 * (LOG, INCOMING_CLOSE) are read while the test goes on. */
uint16_t fake_proxy_wait_type(uint16_t type, uint8_t *body, size_t cap, size_t *len);
void fake_proxy_stop(void);

#endif
