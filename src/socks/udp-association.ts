/**
 * SOCKS5 UDP ASSOCIATE (RFC 1928 section 7). Each association has a relay socket of its own, bound
 * on the address of the control connection's local end (so BND.ADDR is an address the client can
 * reach, never 0.0.0.0). The relay takes datagrams only from the client that asked: RFC 1928 filters
 * by the client's address, but every local client here is 127.0.0.1, so the relay is locked to the
 * request's DST.ADDR and DST.PORT; a zero address means the control connection's peer address,
 * and a zero port the source port of the first datagram from that address.
 *
 * Each destination the client sends to gets a datagram stream of its own on the session (one
 * stream is one 5-tuple, see docs/protocol.md), opened by its first datagram. Answers carry the
 * header with the address the agent's socket is connected to. The association, its relay and its
 * streams end when the TCP control connection closes.
 */
import type dgram from 'node:dgram';
import type net from 'node:net';
import { formatHostPort } from '../forward/address-spec.ts';
import type { ConnectionLog } from '../forward/connection-events.ts';
import { bindUdp } from '../forward/listen.ts';
import type { SessionSource } from '../link/session-source.ts';
import type { Destination } from '../protocol/address.ts';
import type { DatagramStream } from '../session/datagram-stream.ts';
import { encodeReply, SocksReply } from './reply-codes.ts';
import { encodeUdpDatagram, parseUdpDatagram } from './udp-header.ts';

/** Most destinations one association talks to at once; datagrams to further ones are dropped. */
export const MAX_ASSOCIATION_DESTINATIONS = 256;
/** Datagrams to a new destination that wait while its session is fetched. */
const MAX_WAITING_DATAGRAMS = 64;
/** Answers waiting in the relay's send queue before further answers are dropped. */
const MAX_SEND_QUEUE = 256;

/** What an association dropped, by reason, and what it carried. */
export interface AssociationCounts {
  fromClient: number;
  toClient: number;
  /** From an address or port other than the client's. */
  strangers: number;
  /** Not a SOCKS UDP header (short, RSV not zero, bad address type). */
  malformed: number;
  /** FRAG not zero: this relay does not reassemble (RFC 1928 section 7 lets it drop them). */
  fragments: number;
  /** Beyond a stream's window or queue, too large, or beyond the destination limit. */
  overflow: number;
}

export interface AssociateRequest {
  dstAddr: string;
  dstPort: number;
}

export interface AssociationOptions {
  /** A destination's stream ends after this long with no datagram either way, ms. */
  idleMs?: number;
}

interface DestinationEntry {
  stream: DatagramStream | undefined;
  waiting: Buffer[] | undefined;
}

/** `::ffff:127.0.0.1` (an IPv4 client on a dual-stack socket) as the IPv4 address it is. */
export function plainAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function isUnspecified(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || /^[0:]+$/.test(host);
}

export class UdpAssociation {
  readonly counts: AssociationCounts = { fromClient: 0, toClient: 0, strangers: 0, malformed: 0, fragments: 0, overflow: 0 };
  readonly #relay: dgram.Socket;
  readonly #control: net.Socket;
  readonly #source: SessionSource;
  readonly #log: ConnectionLog;
  readonly #options: AssociationOptions;
  readonly #clientHost: string;
  /** `SOCKS port 1080 (UDP)`, for the failure lines. */
  readonly #listener: string;
  #clientPort: number | undefined;
  readonly #destinations = new Map<string, DestinationEntry>();
  readonly #started = Date.now();
  #closed = false;

  private constructor(control: net.Socket, relay: dgram.Socket, client: { host: string; port: number | undefined }, source: SessionSource, log: ConnectionLog, options: AssociationOptions) {
    this.#control = control;
    this.#relay = relay;
    this.#clientHost = client.host;
    this.#listener = `SOCKS port ${control.localPort ?? '?'} (UDP)`;
    this.#clientPort = client.port;
    this.#source = source;
    this.#log = log;
    this.#options = options;
    relay.on('message', (datagram, rinfo) => this.#fromClient(datagram, plainAddress(rinfo.address), rinfo.port));
    relay.on('error', () => {});
    // Nothing more is said on the control connection; its end ends the association.
    // The listener allows half-open connections, so the client's FIN ends it too.
    control.on('data', () => {});
    control.once('end', () => this.close());
    control.once('close', () => this.close());
  }

  /**
   * Binds the relay and answers the request: success with BND.ADDR:BND.PORT of the relay, or a
   * failure reply (the agent has no UDP: command not supported) after which the control closes.
   */
  static async start(control: net.Socket, request: AssociateRequest, source: SessionSource, log: ConnectionLog, options: AssociationOptions = {}): Promise<UdpAssociation | undefined> {
    const peer = formatHostPort(plainAddress(control.remoteAddress ?? '?'), control.remotePort ?? 0);
    const fail = (reply: SocksReply, error: Error) => {
      if (!control.destroyed) control.end(encodeReply(reply));
      log({ via: 'socks udp', listener: `SOCKS port ${control.localPort ?? '?'} (UDP)`, peer, destination: 'UDP ASSOCIATE', outcome: 'failed', sent: 0, received: 0, error, failedToConnect: true, durationMs: 0 });
      return undefined;
    };
    try {
      const session = await source.session();
      if (!session.supportsDatagrams) {
        return fail(SocksReply.commandNotSupported, Object.assign(new Error(`the agent (${session.peerName}) does not support UDP, so UDP ASSOCIATE is refused`), { code: 'EAFNOSUPPORT' }));
      }
    } catch (err) {
      return fail(SocksReply.generalFailure, err instanceof Error ? err : new Error(String(err)));
    }
    const localAddress = plainAddress(control.localAddress ?? '127.0.0.1');
    let relay: dgram.Socket;
    try {
      relay = await bindUdp(localAddress, 0, 'socks UDP ASSOCIATE');
    } catch (err) {
      return fail(SocksReply.generalFailure, err as Error);
    }
    // The client may have gone while the relay was being bound (a FIN alone leaves it open: the
    // listener allows half-open connections).
    if (control.destroyed || control.readableEnded) {
      relay.close();
      if (!control.destroyed) control.destroy();
      return undefined;
    }
    const host = isUnspecified(request.dstAddr) ? plainAddress(control.remoteAddress ?? '') : plainAddress(request.dstAddr);
    const association = new UdpAssociation(control, relay, { host, port: request.dstPort || undefined }, source, log, options);
    control.write(encodeReply(SocksReply.succeeded, { host: localAddress, port: relay.address().port }));
    return association;
  }

  /** The relay's port. */
  get port(): number {
    return this.#relay.address().port;
  }

  /** Ends the association: its streams and its relay. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const d of this.#destinations.values()) d.stream?.close();
    this.#relay.close();
    if (!this.#control.destroyed) this.#control.destroy();
    const c = this.counts;
    const dropped = c.strangers + c.malformed + c.fragments + c.overflow;
    this.#log({
      via: 'socks udp', peer: formatHostPort(this.#clientHost, this.#clientPort ?? 0), destination: `${this.#destinations.size} destination(s)`,
      outcome: 'closed', sent: 0, received: 0, durationMs: Date.now() - this.#started,
      datagrams: { sent: c.fromClient, received: c.toClient, dropped },
    });
  }

  #fromClient(datagram: Buffer, host: string, port: number): void {
    if (this.#closed) return;
    if (host !== this.#clientHost || (this.#clientPort !== undefined && port !== this.#clientPort)) {
      this.counts.strangers++;
      return;
    }
    const parsed = parseUdpDatagram(datagram);
    if ('problem' in parsed) {
      this.counts.malformed++;
      return;
    }
    // Only now is the first datagram known to be the client's: lock the port to it.
    this.#clientPort ??= port;
    if (parsed.frag !== 0) {
      this.counts.fragments++;
      return;
    }
    this.counts.fromClient++;
    const destination = parsed.destination;
    const key = formatHostPort(destination.host, destination.port);
    let entry = this.#destinations.get(key);
    if (!entry) {
      if (this.#destinations.size >= MAX_ASSOCIATION_DESTINATIONS) {
        this.counts.overflow++;
        return;
      }
      entry = { stream: undefined, waiting: [] };
      this.#destinations.set(key, entry);
      void this.#open(key, entry, destination);
    }
    if (entry.stream) {
      if (!entry.stream.send(parsed.data)) this.counts.overflow++;
    } else if (entry.waiting && entry.waiting.length < MAX_WAITING_DATAGRAMS) {
      entry.waiting.push(parsed.data);
    } else {
      this.counts.overflow++;
    }
  }

  async #open(key: string, entry: DestinationEntry, destination: Destination): Promise<void> {
    let stream: DatagramStream;
    try {
      const session = await this.#source.session();
      if (this.#closed) return;
      stream = session.openDatagramStream(destination, { idleMs: this.#options.idleMs });
    } catch (err) {
      this.#destinations.delete(key);
      this.counts.overflow += entry.waiting?.length ?? 0;
      this.#log({
        via: 'socks udp', listener: this.#listener, peer: formatHostPort(this.#clientHost, this.#clientPort ?? 0), destination: key, outcome: 'failed',
        sent: 0, received: 0, error: err instanceof Error ? err : new Error(String(err)), failedToConnect: true, durationMs: 0,
      });
      return;
    }
    entry.stream = stream;
    stream.on('message', (answer: Buffer) => this.#toClient(stream.peer ?? destination, answer));
    stream.on('close', (err?: Error) => {
      if (this.#destinations.get(key) === entry) this.#destinations.delete(key);
      if (err && !this.#closed) {
        this.#log({
          via: 'socks udp', listener: this.#listener, peer: formatHostPort(this.#clientHost, this.#clientPort ?? 0), destination: key, outcome: 'failed',
          sent: stream.counts.sentBytes, received: stream.counts.receivedBytes, error: err, failedToConnect: !stream.established || stream.counts.received === 0, durationMs: Date.now() - this.#started,
        });
      }
    });
    const waiting = entry.waiting ?? [];
    entry.waiting = undefined;
    for (const data of waiting) if (!stream.send(data)) this.counts.overflow++;
  }

  #toClient(from: Destination, answer: Buffer): void {
    if (this.#closed || this.#clientPort === undefined || this.#relay.getSendQueueCount() >= MAX_SEND_QUEUE) {
      this.counts.overflow++;
      return;
    }
    this.counts.toClient++;
    this.#relay.send(encodeUdpDatagram(from, answer), this.#clientPort, this.#clientHost);
  }
}
