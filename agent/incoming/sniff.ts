/**
 * Tells HTTP/2 with prior knowledge, HTTP/1 and anything else apart from a connection's first
 * bytes, for the filtered steal. HTTP/2 cleartext starts with the client preface (RFC 9113
 * section 3.4); HTTP/1 starts with a request line `METHOD SP` (RFC 9112 section 3).
 */
import type { Socket } from 'node:net';

export const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export type Protocol = 'http2' | 'http1' | 'other';

/** How long to wait for a client's first bytes before treating it as not HTTP, ms. */
export const SNIFF_TIMEOUT_MS = 5_000;

/** The protocol the bytes so far show, or undefined when more bytes are needed to tell. */
export function classify(head: Buffer): Protocol | undefined {
  const n = Math.min(head.length, HTTP2_PREFACE.length);
  if (head.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n))) return head.length >= HTTP2_PREFACE.length ? 'http2' : undefined;
  const text = head.subarray(0, 32).toString('latin1').replace(/^(\r\n)+/, '');
  const m = /^[A-Za-z!#$%&'*+.^_`|~0-9-]*/.exec(text)![0];
  if (m.length < text.length) return m.length > 0 && text[m.length] === ' ' ? 'http1' : 'other';
  return text.length >= 24 ? 'other' : undefined;
}

/**
 * Reads from `socket` until the protocol is known, then calls `done` once with it and the bytes
 * read so far (which the handler must treat as the start of the stream). A client that closes or
 * stays silent for SNIFF_TIMEOUT_MS counts as 'other'.
 */
export function sniffProtocol(socket: Socket, done: (protocol: Protocol, head: Buffer) => void, timeoutMs = SNIFF_TIMEOUT_MS): void {
  let head: Buffer = Buffer.alloc(0);
  const finish = (protocol: Protocol) => {
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.pause();
    done(protocol, head);
  };
  const onData = (chunk: Buffer) => {
    head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
    const protocol = classify(head);
    if (protocol) finish(protocol);
  };
  const onEnd = () => finish('other');
  const timer = setTimeout(() => finish('other'), timeoutMs);
  socket.on('data', onData);
  socket.on('end', onEnd);
}
