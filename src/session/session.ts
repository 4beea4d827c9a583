/**
 * A multiplexed session over one duplex byte stream (a TCP socket, the portforward WebSocket, an
 * in-memory pair). The CLI and the agent both use this class: the CLI calls `Session.connect`, the
 * agent `Session.accept`. See docs/protocol.md for the wire format.
 *
 * Streams opened by the CLI have odd ids, streams opened by the agent even ids (as in yamux, see
 * FirstStreamId), so the two sides never collide. Requests use their own id space (requests.ts).
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import {
  Capability, FirstStreamId, FrameFlag, FrameType, GoAwayCode, INITIAL_WINDOW, MAX_DATAGRAM_IDLE_MS, ResetReason,
  Transport, type RequestOp,
} from '../protocol/constants.ts';
import { FrameDecoder, type FrameSink } from '../protocol/decoder.ts';
import { ProtocolError, ProtocolErrorCode, StreamResetError } from '../protocol/errors.ts';
import {
  checkPing, decodeGoAway, decodeOpen, decodeOpenOk, decodeReset, decodeWindowUpdate,
  encodeDataHeader, encodeGoAway, encodeOpen, encodeOpenOk, encodePing, encodeReset,
  encodeWindowUpdate, type Open, type OpenOk,
} from '../protocol/frames.ts';
import { Requests, type DnsLookupAnswer, type RequestContract } from '../protocol/requests.ts';
import { destinationProblem, type Destination } from '../protocol/address.ts';
import { ReceiveWindow, WindowBudget } from './flow-control.ts';
import { FrameWriter } from './writer.ts';
import { SendBudget, SESSION_SEND_BUDGET } from './send-budget.ts';
import { Keepalive } from './keepalive.ts';
import { MuxStream } from './stream.ts';
import { DatagramStream, DEFAULT_DATAGRAM_IDLE_MS } from './datagram-stream.ts';
import type { SessionStream, StreamHost } from './stream-host.ts';
import { clientHandshake, serverHandshake, type AcceptOptions, type ConnectOptions, type Handshaken } from './handshake.ts';
import { RequestTable, routeRequests, type RequestHandler, type Route } from './requests.ts';

export type Role = 'client' | 'agent';

export interface SessionOptions {
  /** Interval between keepalive pings, ms. */
  keepaliveMs?: number;
  /** The session is dead after this long with nothing from the peer, ms. Default 3 × keepaliveMs. */
  keepaliveTimeoutMs?: number;
  /** Most streams the peer may have open at once; further opens are reset. */
  maxStreams?: number;
  /** A datagram stream with no datagram either way for this long ends, ms. Default 120 s. */
  datagramIdleMs?: number;
  /** A request with no answer for this long rejects with RequestTimeoutError, ms; 0: never. Default 30 s. */
  requestTimeoutMs?: number;
}

/** Per call: `timeoutMs` overrides the session's requestTimeoutMs (0: wait for ever). */
export interface RequestOptions {
  timeoutMs?: number;
}

const DEFAULT_KEEPALIVE_MS = 10_000;
const DEFAULT_MAX_STREAMS = 4096;

export class Session extends EventEmitter implements FrameSink, StreamHost {
  readonly role: Role;
  /** Capabilities both sides have. */
  readonly capabilities: number;
  /** The peer's name and version, from its HELLO or WELCOME. */
  readonly peerName: string;
  readonly #transport: Duplex;
  readonly #decoder: FrameDecoder;
  readonly #writer: FrameWriter;
  readonly #keepalive: Keepalive;
  readonly #budget = new WindowBudget();
  readonly sendBudget = new SendBudget(SESSION_SEND_BUDGET, () => this.#writer.waitingForDrain);
  readonly #streams = new Map<number, SessionStream>();
  readonly #requests: RequestTable;
  readonly #maxStreams: number;
  readonly #datagramIdleMs: number;
  #nextStreamId: number;
  /** Highest stream id the peer has opened: data for lower closed ids is a harmless race. */
  #peerHighestId = 0;
  #goingAway = false;
  #closed = false;
  #dataStream: SessionStream | undefined;

  /** Opens a session as the CLI: sends HELLO, waits for WELCOME. Rejects with a ProtocolError. */
  static async connect(transport: Duplex, options: ConnectOptions & SessionOptions): Promise<Session> {
    const done = await clientHandshake(transport, options);
    return new Session(transport, 'client', done, options);
  }

  /** Accepts a session as the agent: checks HELLO (token first), sends WELCOME. */
  static async accept(transport: Duplex, options: AcceptOptions & SessionOptions): Promise<Session> {
    const done = await serverHandshake(transport, options);
    return new Session(transport, 'agent', done, options);
  }

  private constructor(transport: Duplex, role: Role, done: Handshaken, options: SessionOptions) {
    super();
    this.role = role;
    this.capabilities = done.capabilities;
    this.peerName = done.peerName;
    this.#transport = transport;
    this.#nextStreamId = role === 'client' ? FirstStreamId.cli : FirstStreamId.agent;
    this.#maxStreams = options.maxStreams ?? DEFAULT_MAX_STREAMS;
    this.#datagramIdleMs = options.datagramIdleMs ?? DEFAULT_DATAGRAM_IDLE_MS;
    this.#writer = new FrameWriter(transport);
    this.#requests = new RequestTable((frame) => this.#writer.control(frame), role === 'client' ? 'CLI' : 'agent', options.requestTimeoutMs);
    this.#decoder = new FrameDecoder(this);
    const intervalMs = options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
    this.#keepalive = new Keepalive({
      intervalMs,
      timeoutMs: options.keepaliveTimeoutMs ?? 3 * intervalMs,
      sendPing: (opaque) => this.#writer.control(encodePing(opaque, false)),
      onTimeout: () => this.#fail(new ProtocolError(ProtocolErrorCode.keepaliveTimeout,
        `the peer sent nothing for ${options.keepaliveTimeoutMs ?? 3 * intervalMs} ms (keepalive timeout)`)),
    });
    transport.on('data', (chunk: Buffer) => this.#onTransportData(chunk));
    transport.on('error', (err: Error) => this.#fail(new ProtocolError(ProtocolErrorCode.transportClosed, `transport failed: ${err.message}`)));
    transport.on('close', () => this.#onTransportClosed());
    transport.on('end', () => this.#onTransportClosed());
    for (const chunk of done.leftover) this.#onTransportData(chunk);
    transport.resume();
  }

  /** Smoothed round-trip time to the peer, ms. */
  get rtt(): number {
    return this.#keepalive.rtt;
  }

  /** Streams open now. */
  get streamCount(): number {
    return this.#streams.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Opens a byte stream (TCP) to `destination`. Returns at once; bytes written now are sent right
   * behind the OPEN. The stream emits 'established' when the peer connected, or 'error'
   * (StreamResetError). Throws if the destination is invalid or the session is closing.
   */
  openStream(destination: Destination, extra: { source?: Destination } = {}): MuxStream {
    const { id, open } = this.#nextOpen(destination, Transport.tcp, extra.source);
    const stream = new MuxStream(id, open, this, this.#newWindow());
    this.#streams.set(id, stream);
    this.#writer.control(encodeOpen(id, open));
    return stream;
  }

  /** True when the peer agreed to datagram streams (the udp capability). */
  get supportsDatagrams(): boolean {
    return (this.capabilities & Capability.udp) !== 0;
  }

  /**
   * Opens a datagram stream (UDP, one 5-tuple) to `destination`. Datagrams sent now go right behind
   * the OPEN. Emits 'established' (with the peer's address), 'message', and 'close'. `idleMs`
   * overrides the session's idle timeout for this stream.
   * @throws StreamResetError EAFNOSUPPORT when the peer did not agree to the udp capability (an
   *   agent older than UDP support); RangeError for a bad destination; ProtocolError when closing.
   */
  openDatagramStream(destination: Destination, extra: { source?: Destination; idleMs?: number } = {}): DatagramStream {
    if (!this.supportsDatagrams) {
      throw new StreamResetError(ResetReason.unsupported,
        `${this.peerName || 'the peer'} does not support UDP (the handshake did not agree to the udp capability): ` +
        'it is older than this CLI; use an agent image of the same version', false);
    }
    const { id, open } = this.#nextOpen(destination, Transport.udp, extra.source);
    // The responder takes the same timeout, so neither side ends the stream before the other would.
    const idleMs = extra.idleMs ?? this.#datagramIdleMs;
    open.idleTimeoutMs = idleMs;
    const stream = new DatagramStream(id, open, this, this.#newWindow(), idleMs);
    this.#streams.set(id, stream);
    this.#writer.control(encodeOpen(id, open));
    return stream;
  }

  #nextOpen(destination: Destination, transport: Transport, source: Destination | undefined): { id: number; open: Open } {
    const problem = destinationProblem(destination);
    if (problem) throw new RangeError(`cannot open a stream to ${destination.host}:${destination.port}: ${problem}`);
    if (this.#closed || this.#goingAway) throw new ProtocolError(ProtocolErrorCode.unexpected, 'the session is closing and opens no new streams');
    const id = this.#nextStreamId;
    this.#nextStreamId += 2;
    return { id, open: { window: INITIAL_WINDOW, transport, destination, source } };
  }

  /** Resolves `host` in the cluster. Rejects with a RequestError (code ENOTFOUND, ...). */
  lookup(host: string, family?: 4 | 6): Promise<DnsLookupAnswer> {
    return this.call(Requests.dnsLookup, family === undefined ? { host } : { host, family });
  }

  /**
   * Sends a request with any body and resolves with the answer as it came. Rejects with a
   * RequestError for an error answer, a RequestTimeoutError (code ETIMEDOUT, naming the op) when
   * no answer came in time, or a ProtocolError once the session is closed. Prefer `call`.
   */
  request(op: RequestOp, body: unknown, options: RequestOptions = {}): Promise<unknown> {
    if (this.#closed) return Promise.reject(new ProtocolError(ProtocolErrorCode.transportClosed, 'the session is closed'));
    return this.#requests.request(op, body, options.timeoutMs);
  }

  /** Sends a typed request and checks the answer against its contract (src/protocol/requests.ts). */
  async call<Body, Answer>(contract: RequestContract<Body, Answer>, body: Body, options: RequestOptions = {}): Promise<Answer> {
    return contract.checkAnswer(await this.request(contract.op, body, options));
  }

  /** Sets the function that answers the peer's requests. */
  handleRequests(handler: RequestHandler): void {
    this.#requests.setHandler(handler);
  }

  /**
   * Answers the ops in `routes`, each body checked against its contract and each op's capability
   * against the handshake's; any other op is answered ENOTSUP.
   */
  serveRequests(routes: readonly Route[]): void {
    this.#requests.setHandler(routeRequests(routes, this.capabilities, this.role === 'client' ? 'CLI' : 'agent'));
  }

  /** Orderly shutdown: GOAWAY, then close once the open streams are done (or after `graceMs`). */
  async close(graceMs = 5_000): Promise<void> {
    if (this.#closed) return;
    if (!this.#goingAway) {
      this.#goingAway = true;
      this.#writer.control(encodeGoAway(GoAwayCode.normal, 'session closed'));
    }
    const closed = new Promise<void>((resolve) => this.once('close', () => resolve()));
    if (this.#streams.size === 0) this.#finish(undefined);
    const timer = setTimeout(() => this.#finish(undefined), graceMs);
    await closed;
    clearTimeout(timer);
  }

  /** Ends the session at once. With `err`, the peer is told why in a GOAWAY. */
  destroy(err?: Error): void {
    if (err) this.#fail(err instanceof ProtocolError ? err : new ProtocolError(ProtocolErrorCode.transportClosed, err.message, GoAwayCode.internal));
    else this.#finish(undefined);
  }

  // ---- StreamHost ----

  wake(stream: SessionStream, batch = false): void {
    this.#writer.wake(stream, batch);
  }

  dataHeader(streamId: number, length: number, fin: boolean): Buffer {
    return encodeDataHeader(streamId, length, fin);
  }

  sendWindowUpdate(streamId: number, increment: number): void {
    this.#writer.control(encodeWindowUpdate(streamId, increment));
    this.#keepalive.probe();
  }

  sendOpenOk(streamId: number, window: number, peer?: Destination): void {
    this.#writer.control(encodeOpenOk(streamId, window, peer));
  }

  sendReset(streamId: number, reason: ResetReason, message: string): void {
    this.#writer.control(encodeReset(streamId, reason, message));
  }

  release(stream: SessionStream): void {
    if (this.#streams.get(stream.id) !== stream) return;
    this.#streams.delete(stream.id);
    this.#writer.forget(stream);
    if (this.#goingAway && this.#streams.size === 0) this.#finish(undefined);
  }

  // ---- FrameSink ----

  onDataStart(streamId: number, _flags: number, length: number): void {
    const stream = this.#streamFor(streamId, 'DATA');
    this.#dataStream = stream;
    if (stream && !stream.onDataStart(length)) {
      throw new ProtocolError(ProtocolErrorCode.windowViolation,
        `DATA of ${length} bytes on stream ${streamId} exceeds the credit the peer was given (window ${stream.receiveWindow})`);
    }
  }

  onData(_streamId: number, piece: Buffer): void {
    this.#dataStream?.onData(piece);
  }

  onDataEnd(_streamId: number, flags: number): void {
    const stream = this.#dataStream;
    this.#dataStream = undefined;
    stream?.onDataEnd((flags & FrameFlag.fin) !== 0);
  }

  onFrame(type: FrameType, flags: number, streamId: number, payload: Buffer): void {
    switch (type) {
      case FrameType.open: return this.#onOpen(streamId, payload);
      case FrameType.openOk: return this.#streamFor(streamId, 'OPEN_OK')?.onOpenOk(this.#checkOpenOk(payload, streamId));
      case FrameType.windowUpdate: return this.#streamFor(streamId, 'WINDOW_UPDATE')?.onWindowUpdate(decodeWindowUpdate(payload));
      case FrameType.reset: {
        const { reason, message } = decodeReset(payload);
        return this.#streamFor(streamId, 'RESET')?.onReset(reason, message);
      }
      case FrameType.ping: return this.#onPing(flags, payload);
      case FrameType.goAway: return this.#onGoAway(payload);
      case FrameType.request: return this.#requests.onRequest(streamId, payload);
      case FrameType.response: return this.#requests.onResponse(streamId, payload);
      default:
        throw new ProtocolError(ProtocolErrorCode.unexpected, `frame type ${type} is only valid during the handshake`);
    }
  }

  // ---- frame handlers ----

  #onOpen(streamId: number, payload: Buffer): void {
    const peerParity = (this.role === 'client' ? FirstStreamId.agent : FirstStreamId.cli) % 2;
    if (streamId === 0 || streamId % 2 !== peerParity || streamId <= this.#peerHighestId) {
      throw new ProtocolError(ProtocolErrorCode.unexpected, `OPEN with stream id ${streamId}, which the peer may not use (reused, zero or wrong parity)`);
    }
    this.#peerHighestId = streamId;
    const open = decodeOpen(payload);
    if (this.#goingAway || this.#streams.size >= this.#maxStreams) {
      const why = this.#goingAway ? 'the session is going away' : `too many open streams (limit ${this.#maxStreams})`;
      this.#writer.control(encodeReset(streamId, ResetReason.goingAway, why));
      return;
    }
    if (open.transport === Transport.udp && this.supportsDatagrams) {
      const asked = open.idleTimeoutMs;
      const idleMs = asked !== undefined && asked > 0 ? Math.min(asked, MAX_DATAGRAM_IDLE_MS) : this.#datagramIdleMs;
      const stream = new DatagramStream(streamId, open, this, this.#newWindow(), idleMs);
      this.#streams.set(streamId, stream);
      stream.onWindowUpdate(open.window - INITIAL_WINDOW);
      if (this.listenerCount('datagramStream') === 0) {
        stream.reject(ResetReason.notAllowed, `this ${this.role} accepts no datagram streams`);
        return;
      }
      this.emit('datagramStream', stream);
      return;
    }
    if (open.transport !== Transport.tcp) {
      const why = open.transport === Transport.udp
        ? 'UDP was not agreed in the handshake (capability udp)'
        : `transport ${open.transport} is not supported (TCP ${Transport.tcp}, UDP ${Transport.udp})`;
      this.#writer.control(encodeReset(streamId, ResetReason.unsupported, why));
      return;
    }
    const stream = new MuxStream(streamId, open, this, this.#newWindow());
    this.#streams.set(streamId, stream);
    stream.onWindowUpdate(open.window - INITIAL_WINDOW);
    if (this.listenerCount('stream') === 0) {
      stream.reject(ResetReason.notAllowed, `this ${this.role} accepts no streams`);
      return;
    }
    this.emit('stream', stream);
  }

  #checkOpenOk(payload: Buffer, streamId: number): OpenOk {
    const ok = decodeOpenOk(payload);
    if (ok.window < INITIAL_WINDOW) {
      throw new ProtocolError(ProtocolErrorCode.malformed, `OPEN_OK on stream ${streamId} grants ${ok.window} bytes, less than the initial ${INITIAL_WINDOW}`);
    }
    return ok;
  }

  #onPing(flags: number, payload: Buffer): void {
    checkPing(payload);
    if (flags & FrameFlag.ack) this.#keepalive.onPong(payload);
    else this.#writer.control(encodePing(Buffer.from(payload), true));
  }

  #onGoAway(payload: Buffer): void {
    const { code, message } = decodeGoAway(payload);
    this.emit('goaway', { code, message });
    if (code !== GoAwayCode.normal) {
      this.#finish(new ProtocolError(ProtocolErrorCode.peerGoAway, `the peer ended the session: ${message}`));
      return;
    }
    this.#goingAway = true;
    if (this.#streams.size === 0) this.#finish(undefined);
  }

  /**
   * The stream a frame is for. A frame for a stream that is already gone is a harmless race (it
   * was reset or finished while the frame was in flight) and is ignored; a frame for a stream that
   * never existed is a protocol error.
   */
  #streamFor(streamId: number, what: string): SessionStream | undefined {
    const stream = this.#streams.get(streamId);
    if (stream) return stream;
    const ours = streamId % 2 === (this.role === 'client' ? FirstStreamId.cli : FirstStreamId.agent) % 2;
    const existed = streamId !== 0 && (ours ? streamId < this.#nextStreamId : streamId <= this.#peerHighestId);
    if (!existed) throw new ProtocolError(ProtocolErrorCode.unexpected, `${what} on stream ${streamId}, which was never opened`);
    return undefined;
  }

  #newWindow(): ReceiveWindow {
    return new ReceiveWindow(this.#budget, this.#keepalive);
  }

  // ---- transport and shutdown ----

  #onTransportData(chunk: Buffer): void {
    if (this.#closed) return;
    this.#keepalive.heard();
    try {
      this.#decoder.push(chunk);
    } catch (err) {
      this.#fail(err instanceof ProtocolError ? err : new ProtocolError(ProtocolErrorCode.malformed, String(err)));
    }
  }

  #onTransportClosed(): void {
    if (this.#closed) return;
    this.#finish(this.#goingAway ? undefined : new ProtocolError(ProtocolErrorCode.transportClosed, 'the connection to the peer closed'));
  }

  /** Ends the session because of `err`, telling the peer why first. */
  #fail(err: ProtocolError): void {
    if (this.#closed) return;
    this.#writer.control(encodeGoAway(err.goAwayCode, err.message));
    this.#finish(err);
  }

  #finish(err: Error | undefined): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#keepalive.stop();
    this.#writer.flushAndEnd();
    for (const stream of [...this.#streams.values()]) stream.onSessionClosed(err);
    this.#streams.clear();
    this.#requests.rejectAll(err ?? new ProtocolError(ProtocolErrorCode.transportClosed, 'the session closed'));
    // Give the GOAWAY a moment to leave, then make sure the transport is gone.
    const transport = this.#transport;
    setTimeout(() => transport.destroy(), 1000).unref();
    this.emit('close', err);
  }
}

