/**
 * Filtered steal for HTTP/1.1: each request on a redirected connection goes, unchanged, either to
 * the user's app (through a stream toward the CLI) or to the original app (127.0.0.1:<port>), as
 * the filter decides; its response goes back to the client.
 *
 * Requests are handled one at a time: the next request is read only when the previous one and its
 * response are complete. So responses stay in request order even when a client pipelines and
 * consecutive requests go to different places, and nothing needs reordering. Each place gets one
 * keep-alive connection per client connection, opened when first needed.
 *
 * Interim responses (100 Continue, for `Expect: 100-continue`) are passed to the client and the
 * final response is awaited. A request that switches protocols (Upgrade, CONNECT) goes to the
 * original app, and if it agrees (101, or 2xx to CONNECT) the two connections are spliced raw from
 * then on: the filter cannot look inside what follows, so the client keeps its original app.
 */
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { Http1Parser, HttpParseError, type BodyFraming, type MessageHead } from './http1-parser.ts';
import { isUpgrade, keepsAlive, requestFraming, responseFraming } from './http1-framing.ts';
import { connectOriginalApp } from './original-app.ts';
import { openUserAppStream, type RedirectedConnection } from './redirected.ts';

/** Where a request goes. */
export type Place = 'userApp' | 'originalApp';
/** Decides where a request goes; called once per request head. */
export type Router = (head: MessageHead) => Place;

interface Upstream {
  place: Place;
  io: Duplex;
  alive: boolean;
}

interface Exchange {
  upstream: Upstream;
  method: string;
  parser: Http1Parser;
  requestDone: boolean;
  responseDone: boolean;
  responseStarted: boolean;
  interim: boolean;
  closeAfter: boolean;
}

/** Serves one redirected connection whose first bytes (`head`) look like HTTP/1. */
export function filterHttp1(conn: RedirectedConnection, route: Router, head: Buffer): void {
  new FilteredHttp1(conn, route).start(head);
}

class FilteredHttp1 {
  readonly #conn: RedirectedConnection;
  readonly #client: Socket;
  readonly #route: Router;
  readonly #requests: Http1Parser;
  readonly #upstreams = new Map<Place, Upstream>();
  readonly #holds = new Set<'between' | 'upstreamFull'>();
  #current: Exchange | undefined;
  #clientEnded = false;
  #closed = false;
  #tunnel = false;

  constructor(conn: RedirectedConnection, route: Router) {
    this.#conn = conn;
    this.#client = conn.socket;
    this.#route = route;
    this.#requests = new Http1Parser('request', {
      head: (head) => this.#onRequestHead(head),
      body: (raw) => this.#toUpstream(raw),
      end: () => this.#onRequestEnd(),
    });
  }

  start(head: Buffer): void {
    this.#client.on('data', this.#onClientData);
    this.#client.on('end', () => this.#onClientEnd());
    this.#client.on('error', () => this.#close());
    this.#client.on('close', () => this.#close());
    this.#onClientData(head);
    if (this.#holds.size === 0) this.#client.resume();
  }

  #onClientData = (chunk: Buffer): void => {
    try {
      this.#requests.push(chunk);
    } catch (err) {
      this.#fail(err as Error, 400);
    }
  };

  #onRequestHead(head: MessageHead): BodyFraming {
    const framing = requestFraming(head);
    const upgrade = isUpgrade(head);
    const place = upgrade ? 'originalApp' : this.#route(head);
    const upstream = this.#upstream(place);
    const exchange: Exchange = {
      upstream, method: head.method, requestDone: false, responseDone: false, responseStarted: false,
      interim: false, closeAfter: !keepsAlive(head),
      parser: new Http1Parser('response', {
        head: (h) => this.#onResponseHead(exchange, h),
        body: (raw) => this.#toClient(exchange, raw),
        end: () => this.#onResponseEnd(exchange),
      }),
    };
    this.#current = exchange;
    this.#conn.log.debug('http request routed', { port: this.#conn.port, method: head.method, target: head.target, place });
    this.#toUpstream(head.raw);
    return framing;
  }

  #onRequestEnd(): 'pause' {
    const exchange = this.#current;
    if (exchange) exchange.requestDone = true;
    this.#hold('between');
    queueMicrotask(() => this.#maybeNext());
    return 'pause';
  }

  #onResponseHead(exchange: Exchange, head: MessageHead): BodyFraming {
    const framing = responseFraming(head, exchange.method);
    exchange.responseStarted = true;
    exchange.interim = head.status >= 100 && head.status < 200 && framing.type !== 'tunnel';
    if (!exchange.interim && (!keepsAlive(head) || framing.type === 'close')) exchange.closeAfter = true;
    this.#client.write(head.raw);
    return framing;
  }

  #onResponseEnd(exchange: Exchange): 'continue' {
    if (exchange.interim) {
      exchange.interim = false;
      return 'continue';
    }
    if (exchange.parser.tunnelling) {
      queueMicrotask(() => this.#startTunnel(exchange));
      return 'continue';
    }
    exchange.responseDone = true;
    queueMicrotask(() => this.#maybeNext());
    return 'continue';
  }

  /** After a request and its response are complete: the next request, or the end. */
  #maybeNext(): void {
    const exchange = this.#current;
    if (this.#closed || !exchange || !exchange.requestDone || !exchange.responseDone) return;
    this.#current = undefined;
    if (exchange.closeAfter || this.#clientEnded) {
      this.#endAll();
      return;
    }
    this.#release('between');
    try {
      this.#requests.resume();
    } catch (err) {
      this.#fail(err as Error, 400);
    }
  }

  #upstream(place: Place): Upstream {
    const existing = this.#upstreams.get(place);
    if (existing?.alive) return existing;
    const io = place === 'userApp' ? openUserAppStream(this.#conn) : connectOriginalApp(this.#conn.port);
    if (!io) throw new HttpParseError('the session to the CLI is closing', 503);
    const upstream: Upstream = { place, io, alive: true };
    this.#upstreams.set(place, upstream);
    io.on('data', (chunk: Buffer) => this.#onUpstreamData(upstream, chunk));
    io.on('end', () => this.#onUpstreamGone(upstream, undefined));
    io.on('error', (err: Error) => this.#onUpstreamGone(upstream, err));
    io.on('drain', () => this.#release('upstreamFull'));
    return upstream;
  }

  #onUpstreamData(upstream: Upstream, chunk: Buffer): void {
    const exchange = this.#current;
    // Bytes with no request waiting (an idle server's 408 before it closes) have no reader.
    if (!exchange || exchange.upstream !== upstream) return;
    try {
      exchange.parser.push(chunk);
    } catch (err) {
      this.#fail(err as Error, 502);
    }
  }

  #onUpstreamGone(upstream: Upstream, err: Error | undefined): void {
    if (!upstream.alive) return;
    upstream.alive = false;
    if (this.#tunnel) {
      // The pipes pass a clean end on; an error resets the client, as a spliced connection would.
      if (err && !this.#client.destroyed) this.#client.resetAndDestroy();
      return;
    }
    if (!upstream.io.destroyed) upstream.io.end();
    const exchange = this.#current;
    if (!exchange || exchange.upstream !== upstream || exchange.responseDone) return;
    if (!err && exchange.parser.finish() && exchange.responseDone) return;
    const who = upstream.place === 'userApp' ? 'the user\'s app (through kubectl-mirrord)' : 'the original app';
    this.#fail(new HttpParseError(`${who} closed before a complete response${err ? `: ${err.message}` : ''}`, 502), 502);
  }

  #toUpstream(raw: Buffer): void {
    const upstream = this.#current?.upstream;
    if (!upstream?.alive || raw.length === 0) return;
    if (!upstream.io.write(raw)) this.#hold('upstreamFull');
  }

  #toClient(exchange: Exchange, raw: Buffer): void {
    if (raw.length === 0 || this.#client.destroyed) return;
    if (!this.#client.write(raw)) {
      exchange.upstream.io.pause();
      this.#client.once('drain', () => exchange.upstream.io.resume());
    }
  }

  /** The upgrade was accepted: from now on the client and the original app talk raw. */
  #startTunnel(exchange: Exchange): void {
    const up = exchange.upstream.io;
    this.#tunnel = true;
    this.#client.off('data', this.#onClientData);
    up.removeAllListeners('data');
    const fromUpstream = exchange.parser.takeBuffered();
    if (fromUpstream.length > 0) this.#client.write(fromUpstream);
    const fromClient = this.#requests.takeBuffered();
    if (fromClient.length > 0) up.write(fromClient);
    this.#holds.clear();
    this.#client.pipe(up);
    up.pipe(this.#client);
    up.resume();
    this.#client.resume();
  }

  #onClientEnd(): void {
    this.#clientEnded = true;
    const exchange = this.#current;
    if (exchange && !exchange.requestDone) {
      this.#close(); // the request was cut short: nothing complete to forward
    } else if (!exchange) {
      this.#endAll();
    }
  }

  /** Answers the client with an error status (if no response has started) and closes. */
  #fail(err: Error, status: number): void {
    const started = this.#current?.responseStarted ?? false;
    this.#conn.log.debug('filtered http connection failed', { port: this.#conn.port, error: err.message });
    if (started || this.#client.destroyed) {
      this.#close();
      return;
    }
    const code = err instanceof HttpParseError ? err.status : status;
    const text = `kubectl-mirrord: ${err.message}\n`;
    this.#client.end(`HTTP/1.1 ${code} ${REASONS[code] ?? 'Error'}\r\ncontent-type: text/plain\r\n` +
      `content-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
    this.#closeUpstreams();
  }

  #endAll(): void {
    if (!this.#client.destroyed) this.#client.end();
    for (const up of this.#upstreams.values()) if (!up.io.destroyed) up.io.end();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#client.destroyed) this.#client.destroy();
    this.#closeUpstreams();
  }

  #closeUpstreams(): void {
    for (const up of this.#upstreams.values()) {
      up.alive = false;
      if (!up.io.destroyed) up.io.destroy();
    }
  }

  #hold(reason: 'between' | 'upstreamFull'): void {
    this.#holds.add(reason);
    this.#client.pause();
  }

  #release(reason: 'between' | 'upstreamFull'): void {
    this.#holds.delete(reason);
    if (this.#holds.size === 0 && !this.#closed) this.#client.resume();
  }
}

const REASONS: Record<number, string> = {
  400: 'Bad Request', 431: 'Request Header Fields Too Large', 502: 'Bad Gateway', 503: 'Service Unavailable',
};
