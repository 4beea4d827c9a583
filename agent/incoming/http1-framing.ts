/** How an HTTP/1.1 message's body is delimited (RFC 9112 section 6.3), for requests and responses. */
import { HttpParseError, headerHasToken, headerValues, type BodyFraming, type MessageHead } from './http1-parser.ts';

/**
 * A request's body framing. A request with both Transfer-Encoding and Content-Length, or with
 * conflicting Content-Lengths, is refused: the original app might frame it differently than we
 * do, which is how request smuggling happens (RFC 9112 section 6.1 allows refusing it).
 */
export function requestFraming(head: MessageHead): BodyFraming {
  const te = headerValues(head, 'transfer-encoding');
  const cl = contentLength(head);
  if (te.length > 0) {
    if (cl !== undefined) throw new HttpParseError('a request with both Transfer-Encoding and Content-Length');
    if (!lastCodingIsChunked(te)) throw new HttpParseError('a request whose Transfer-Encoding does not end in chunked');
    return { type: 'chunked' };
  }
  return cl === undefined || cl === 0 ? { type: 'none' } : { type: 'length', length: cl };
}

/** A response's body framing, given the method of the request it answers. */
export function responseFraming(head: MessageHead, requestMethod: string): BodyFraming {
  const { status } = head;
  if (requestMethod === 'CONNECT' && status >= 200 && status < 300) return { type: 'tunnel' };
  if (status === 101) return { type: 'tunnel' };
  if (requestMethod === 'HEAD' || (status >= 100 && status < 200) || status === 204 || status === 304) return { type: 'none' };
  const te = headerValues(head, 'transfer-encoding');
  if (te.length > 0) return lastCodingIsChunked(te) ? { type: 'chunked' } : { type: 'close' };
  const cl = contentLength(head);
  return cl === undefined ? { type: 'close' } : { type: 'length', length: cl };
}

/** Whether the connection stays open after this message (HTTP/1.1 default; HTTP/1.0 needs keep-alive). */
export function keepsAlive(head: MessageHead): boolean {
  if (headerHasToken(head, 'connection', 'close')) return false;
  return head.version !== 'HTTP/1.0' || headerHasToken(head, 'connection', 'keep-alive');
}

/** Whether a request asks to switch protocols (Upgrade, RFC 9110 section 7.8) or to tunnel (CONNECT). */
export function isUpgrade(head: MessageHead): boolean {
  return head.method === 'CONNECT' || (headerValues(head, 'upgrade').length > 0 && headerHasToken(head, 'connection', 'upgrade'));
}

function lastCodingIsChunked(values: string[]): boolean {
  const codings = values.join(',').split(',').map((c) => c.trim().toLowerCase()).filter(Boolean);
  return codings[codings.length - 1] === 'chunked';
}

function contentLength(head: MessageHead): number | undefined {
  const values = headerValues(head, 'content-length').flatMap((v) => v.split(',').map((x) => x.trim()));
  if (values.length === 0) return undefined;
  if (values.some((v) => !/^\d{1,15}$/.test(v)) || new Set(values).size > 1) {
    throw new HttpParseError(`bad Content-Length ${JSON.stringify(values.join(', '))}`, head.method ? 400 : 502);
  }
  return Number(values[0]);
}
