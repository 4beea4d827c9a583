/**
 * Filtered steal for HTTP/2 cleartext with prior knowledge (h2c, what gRPC speaks without TLS):
 * the agent terminates the client's HTTP/2 connection with node:http2 and filters per stream. A
 * matching stream is sent on an h2c connection to the user's app, carried by one session stream
 * toward the CLI; the others on an h2c connection to the original app. Each client connection
 * gets at most one of each, opened when first needed. Headers, bodies and trailers are passed on
 * as they come, so gRPC (which puts its status in trailers) works.
 */
import http2, {
  type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type ServerHttp2Stream,
} from 'node:http2';
import type { Duplex } from 'node:stream';
import { connectOriginalApp } from './original-app.ts';
import { openUserAppStream, type RedirectedConnection } from './redirected.ts';
import { replaySocket } from './replay-socket.ts';
import type { Place } from './http1-filter.ts';
import type { RequestFacts } from './http-filter.ts';

/** Decides where a request goes from its path and headers. */
export type FactsRouter = (facts: RequestFacts) => Place;

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR } = http2.constants;

/** Serves one redirected connection that started with the HTTP/2 preface (`head`, already read). */
export function filterHttp2(conn: RedirectedConnection, route: FactsRouter, head: Buffer): void {
  const upstreams = new Map<Place, ClientHttp2Session>();
  const server = http2.createServer();
  server.on('stream', (stream, headers) => forwardStream(conn, upstreams, route, stream, headers));
  server.on('sessionError', (err) => conn.log.debug('h2 client session failed', { port: conn.port, error: err.message }));
  conn.socket.on('close', () => {
    for (const up of upstreams.values()) up.destroy();
  });
  // The sniffer read the preface: replay it, so the HTTP/2 session sees the connection from its
  // first byte.
  server.emit('connection', replaySocket(conn.socket, head));
}

/** The request's facts for the filter: pseudo-headers are not header lines. */
function factsOf(headers: IncomingHttpHeaders): RequestFacts {
  const lines: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) lines.push([name, String(v)]);
  }
  return { target: String(headers[':path'] ?? '/'), headers: lines };
}

function upstreamFor(conn: RedirectedConnection, upstreams: Map<Place, ClientHttp2Session>, place: Place): ClientHttp2Session {
  const existing = upstreams.get(place);
  if (existing && !existing.closed && !existing.destroyed) return existing;
  const createConnection = (): Duplex => {
    if (place === 'originalApp') return connectOriginalApp(conn.port);
    const stream = openUserAppStream(conn);
    if (!stream) throw new Error('the session to the CLI is closing');
    return stream;
  };
  const session = http2.connect(`http://${conn.destination.host}:${conn.port}`, { createConnection });
  session.on('error', (err) => conn.log.debug('h2 upstream failed', { port: conn.port, place, error: err.message }));
  upstreams.set(place, session);
  return session;
}

function forwardStream(
  conn: RedirectedConnection, upstreams: Map<Place, ClientHttp2Session>, route: FactsRouter,
  stream: ServerHttp2Stream, headers: IncomingHttpHeaders,
): void {
  const place = route(factsOf(headers));
  conn.log.debug('h2 stream routed', { port: conn.port, method: headers[':method'], path: headers[':path'], place });
  let up: ClientHttp2Stream;
  try {
    up = upstreamFor(conn, upstreams, place).request({ ...headers }, { endStream: false });
  } catch (err) {
    answerError(stream, place, err as Error);
    return;
  }
  let trailers: IncomingHttpHeaders | undefined;
  up.on('response', (responseHeaders) => {
    if (stream.destroyed) return;
    stream.respond({ ...responseHeaders }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers(trailers ? { ...trailers } : {}));
    up.pipe(stream);
  });
  up.on('trailers', (t) => { trailers = t; });
  up.on('error', (err) => answerError(stream, place, err));
  up.on('close', () => {
    if (up.rstCode && up.rstCode !== http2.constants.NGHTTP2_NO_ERROR && !stream.destroyed) {
      if (stream.headersSent) stream.close(up.rstCode);
      else answerError(stream, place, new Error(`the stream was reset (HTTP/2 error ${up.rstCode})`));
    }
  });
  stream.on('close', () => {
    if (!up.closed && !up.destroyed) up.close(NGHTTP2_CANCEL);
  });
  stream.on('error', () => {});
  stream.pipe(up);
}

/** A 502 when no response has started, otherwise a reset: the client must not wait. */
function answerError(stream: ServerHttp2Stream, place: Place, err: Error): void {
  if (stream.destroyed || stream.closed) return;
  if (stream.headersSent) {
    stream.close(NGHTTP2_INTERNAL_ERROR);
    return;
  }
  const who = place === 'userApp' ? 'the user\'s app (through kubectl-mirrord)' : 'the original app';
  stream.respond({ ':status': 502, 'content-type': 'text/plain' });
  stream.end(`kubectl-mirrord: ${who} did not answer: ${err.message}\n`);
}
