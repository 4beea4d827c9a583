/**
 * One `-L ...:port/udp` listener: a UDP socket on the user's machine. Each local peer (address and
 * port) gets a datagram stream of its own on the shared session, opened by its first datagram;
 * the answers go back to that peer from the listening socket, as a UDP server would send them.
 * A peer's stream ends after the idle timeout (both sides keep one) and the next datagram opens a
 * new one. Nothing a peer sends can disturb another peer: each has its own stream and credit.
 */
import type dgram from 'node:dgram';
import { formatHostPort } from './address-spec.ts';
import type { ForwardSpec } from './forward-spec.ts';
import { bindUdp } from './listen.ts';
import { kernelDrops } from './udp-kernel-drops.ts';
import type { SessionSource } from '../link/session-source.ts';
import type { DatagramStream } from '../session/datagram-stream.ts';
import type { ConnectionLog } from './connection-events.ts';

/** Most local peers with a stream at once; datagrams from further peers are dropped and counted. */
export const MAX_UDP_PEERS = 1024;
/** Datagrams a new peer may send while its session is being fetched; more are dropped and counted. */
const MAX_WAITING_DATAGRAMS = 64;
/** Answers waiting in the listening socket's send queue before further answers are dropped. */
const MAX_SEND_QUEUE = 256;
/**
 * Receive buffer asked for the listening socket: a burst from the user's app waits here while the
 * event loop is busy. Linux caps it at net.core.rmem_max (socket(7)).
 */
const RECEIVE_BUFFER = 4 * 1024 * 1024;

export interface UdpForwardOptions {
  /** A peer's stream ends after this long with no datagram either way, ms (default: the session's, 120 s). */
  idleMs?: number;
}

/** Totals of one listener since it was bound. */
export interface UdpForwardCounts {
  /** Datagrams from local peers, and how many of them were dropped here (window, queue, size, peer limit). */
  fromPeers: number;
  droppedFromPeers: number;
  /** Answers sent back to peers, and answers dropped because the socket's send queue was full. */
  toPeers: number;
  droppedToPeers: number;
}

class Peer {
  stream: DatagramStream | undefined;
  waiting: Buffer[] | undefined = [];
  readonly started = Date.now();
  dropped = 0;
  readonly address: string;
  readonly port: number;

  constructor(address: string, port: number) {
    this.address = address;
    this.port = port;
  }
}

export class UdpForward {
  readonly spec: ForwardSpec;
  readonly counts: UdpForwardCounts = { fromPeers: 0, droppedFromPeers: 0, toPeers: 0, droppedToPeers: 0 };
  readonly #socket: dgram.Socket;
  readonly #peers = new Map<string, Peer>();
  readonly #source: SessionSource;
  readonly #log: ConnectionLog;
  readonly #options: UdpForwardOptions;
  readonly #destination: string;
  readonly #address: string;
  readonly #port: number;
  #closed = false;

  private constructor(spec: ForwardSpec, socket: dgram.Socket, address: string, source: SessionSource, log: ConnectionLog, options: UdpForwardOptions) {
    this.spec = spec;
    this.#address = address;
    this.#port = socket.address().port;
    this.#socket = socket;
    this.#source = source;
    this.#log = log;
    this.#options = options;
    this.#destination = formatHostPort(spec.host, spec.port);
    socket.on('message', (datagram, rinfo) => this.#onDatagram(datagram, rinfo.address, rinfo.port));
    // Errors on an unconnected UDP socket are about one send; they never end the listener.
    socket.on('error', () => {});
  }

  /**
   * Binds the UDP socket (before any agent exists, so a port in use leaves nothing behind).
   * @throws LocalError when the port cannot be bound.
   */
  static async bind(spec: ForwardSpec, address: string, source: SessionSource, log: ConnectionLog, options: UdpForwardOptions = {}): Promise<UdpForward> {
    const socket = await bindUdp(address, spec.localPort, `-L ${spec.text}`);
    try {
      socket.setRecvBufferSize(RECEIVE_BUFFER);
    } catch {
      // Keep the system's default size.
    }
    return new UdpForward(spec, socket, address, source, log, options);
  }

  /** The port actually bound (the spec may say 0). */
  get port(): number {
    return this.#port;
  }

  /** Datagrams the kernel dropped on this listener since it was bound (receive buffer full), where known. */
  get kernelDropped(): number | undefined {
    return kernelDrops(this.#address, this.#port);
  }

  /** Local peers with a stream now. */
  get peerCount(): number {
    return this.#peers.size;
  }

  /** Stops listening and ends every peer's stream. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const peer of this.#peers.values()) peer.stream?.close();
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }

  #onDatagram(datagram: Buffer, address: string, port: number): void {
    this.counts.fromPeers++;
    const key = formatHostPort(address, port);
    let peer = this.#peers.get(key);
    if (!peer) {
      if (this.#peers.size >= MAX_UDP_PEERS) {
        this.counts.droppedFromPeers++;
        return;
      }
      peer = new Peer(address, port);
      this.#peers.set(key, peer);
      void this.#open(key, peer);
    }
    if (peer.stream) {
      if (!peer.stream.send(datagram)) this.#drop(peer);
    } else if (peer.waiting && peer.waiting.length < MAX_WAITING_DATAGRAMS) {
      peer.waiting.push(datagram);
    } else {
      this.#drop(peer);
    }
  }

  #drop(peer: Peer): void {
    peer.dropped++;
    this.counts.droppedFromPeers++;
  }

  async #open(key: string, peer: Peer): Promise<void> {
    const peerName = key;
    let stream: DatagramStream;
    try {
      const session = await this.#source.session();
      if (this.#closed) return;
      stream = session.openDatagramStream({ host: this.spec.host, port: this.spec.port }, { idleMs: this.#options.idleMs });
    } catch (err) {
      this.#peers.delete(key);
      this.counts.droppedFromPeers += (peer.waiting?.length ?? 0);
      this.#log({
        via: `-L ${this.spec.text}`, listener: `port ${this.#port}/udp`, peer: peerName, destination: this.#destination, outcome: 'failed', sent: 0, received: 0,
        error: err instanceof Error ? err : new Error(String(err)), failedToConnect: true, durationMs: Date.now() - peer.started,
      });
      return;
    }
    peer.stream = stream;
    stream.on('message', (answer: Buffer) => {
      if (this.#closed || this.#socket.getSendQueueCount() >= MAX_SEND_QUEUE) {
        this.counts.droppedToPeers++;
        return;
      }
      this.counts.toPeers++;
      this.#socket.send(answer, peer.port, peer.address);
    });
    stream.on('close', (err?: Error) => {
      if (this.#peers.get(key) === peer) this.#peers.delete(key);
      // An error before any answer (an ICMP port unreachable, say) means the destination was never reached.
      const c = stream.counts;
      this.#log({
        via: `-L ${this.spec.text}`, listener: `port ${this.#port}/udp`, peer: peerName, destination: this.#destination, outcome: err ? 'failed' : 'closed',
        sent: c.sentBytes, received: c.receivedBytes, error: err, failedToConnect: err !== undefined && (!stream.established || c.received === 0), durationMs: Date.now() - peer.started,
        datagrams: { sent: c.sent, received: c.received, dropped: peer.dropped, kernelDropped: this.kernelDropped },
      });
    });
    const waiting = peer.waiting ?? [];
    peer.waiting = undefined;
    for (const datagram of waiting) if (!stream.send(datagram)) this.#drop(peer);
  }
}
