/**
 * A datagram stream (OPEN with Transport.udp): each `send` is one DATA frame, each DATA frame one
 * 'message'. Datagrams are never split or joined, so this is not a Duplex: a byte stream's queue
 * joins writes and splits them at the credit limit (MuxStream), which would break datagrams.
 *
 * Flow control is the session's usual byte credit, with UDP's rule for what does not fit: a
 * datagram that would take the queue past the credit the peer has granted is dropped and counted,
 * never queued without bound (UDP may lose; memory must not grow). The receiver hands each datagram
 * to the application as it completes and returns its credit then.
 *
 * A datagram stream ends with an empty DATA frame with FIN, from either side; the other side answers
 * with its own FIN. Each side also ends the stream by itself after `idleMs` with no datagram either
 * way (default 120 s: RFC 4787 REQ-5 asks NATs to keep a UDP mapping at least 2 minutes, and Linux
 * conntrack's nf_conntrack_udp_timeout_stream is 120 s).
 */
import { EventEmitter } from 'node:events';
import { INITIAL_WINDOW, MAX_DATAGRAM, ResetReason } from '../protocol/constants.ts';
import type { Destination } from '../protocol/address.ts';
import { ProtocolError, ProtocolErrorCode, StreamResetError } from '../protocol/errors.ts';
import type { Open, OpenOk } from '../protocol/frames.ts';
import type { ReceiveWindow } from './flow-control.ts';
import type { SessionStream, StreamHost } from './stream-host.ts';

/** How long a datagram stream lives with no datagram either way, ms, unless the session says otherwise. */
export const DEFAULT_DATAGRAM_IDLE_MS = 120_000;

/**
 * Most datagrams one stream queues for sending. Credit bounds the bytes; this bounds the count,
 * since an empty datagram takes no credit.
 */
export const MAX_QUEUED_DATAGRAMS = 1024;

/** Why a datagram was dropped on this side. */
export type DropReason = 'window' | 'tooLarge' | 'closed';

/** Counts of one stream, for logs and tests. */
export interface DatagramCounts {
  /** Datagrams handed to the session for the peer. */
  sent: number;
  /** Datagrams that arrived from the peer. */
  received: number;
  sentBytes: number;
  receivedBytes: number;
  /** Datagrams `send` refused, by reason. */
  dropped: Record<DropReason, number>;
}

/**
 * Events:
 * - 'established' (peer?: Destination): the peer's socket is connected; `peer` is its address.
 * - 'message' (datagram: Buffer): one datagram from the peer.
 * - 'drop' (reason: DropReason, size: number): `send` dropped a datagram.
 * - 'close' (err?: StreamResetError): the stream is gone; `err` when it was reset (by the peer,
 *   or because the session ended), undefined after FINs both ways (idle or `close()`).
 * - 'idle': this side is ending the stream because nothing moved for `idleMs`.
 */
export class DatagramStream extends EventEmitter implements SessionStream {
  readonly id: number;
  readonly open: Open;
  readonly counts: DatagramCounts = {
    sent: 0, received: 0, sentBytes: 0, receivedBytes: 0, dropped: { window: 0, tooLarge: 0, closed: 0 },
  };
  readonly #host: StreamHost;
  readonly #window: ReceiveWindow;
  readonly #idleMs: number;
  #credit = INITIAL_WINDOW;
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  /** Pieces of the DATA frame arriving now. */
  #incoming: Buffer[] = [];
  #incomingLength = 0;
  #finQueued = false;
  #finSent = false;
  #finReceived = false;
  #reset = false;
  #established = false;
  #released = false;
  #peer: Destination | undefined;
  #lastActivity = performance.now();
  #idleTimer: NodeJS.Timeout | undefined;

  constructor(id: number, open: Open, host: StreamHost, window: ReceiveWindow, idleMs: number = DEFAULT_DATAGRAM_IDLE_MS) {
    super();
    this.id = id;
    this.open = open;
    this.#host = host;
    this.#window = window;
    this.#idleMs = idleMs;
    this.#armIdle(idleMs);
  }

  get established(): boolean {
    return this.#established;
  }

  /** This side's idle timeout, ms. */
  get idleMs(): number {
    return this.#idleMs;
  }

  /** Where the peer's socket is connected (from OPEN_OK), when it said. */
  get peer(): Destination | undefined {
    return this.#peer;
  }

  get receiveWindow(): number {
    return this.#window.size;
  }

  get sendCredit(): number {
    return this.#credit;
  }

  /** Datagrams queued for the transport, and their bytes. */
  get queued(): { datagrams: number; bytes: number } {
    return { datagrams: this.#queue.length, bytes: this.#queuedBytes };
  }

  /** True once the stream is reset or finished both ways. */
  get closed(): boolean {
    return this.#released;
  }

  /**
   * Queues one datagram for the peer. Returns false when it was dropped (and counted, and 'drop'
   * emitted): larger than MAX_DATAGRAM, beyond the peer's credit or the queue's length, or the
   * stream is closing. Never throws and never blocks.
   */
  send(datagram: Buffer): boolean {
    let reason: DropReason | undefined;
    if (this.#reset || this.#finQueued) reason = 'closed';
    else if (datagram.length > MAX_DATAGRAM) reason = 'tooLarge';
    else if (this.#queuedBytes + datagram.length > this.#credit || this.#queue.length >= MAX_QUEUED_DATAGRAMS) reason = 'window';
    if (reason) {
      this.counts.dropped[reason]++;
      this.emit('drop', reason, datagram.length);
      return false;
    }
    this.#queue.push(datagram);
    this.#queuedBytes += datagram.length;
    this.#lastActivity = performance.now();
    this.#host.wake(this, true);
    return true;
  }

  /** Ends the stream in order: queued datagrams go first, then FIN. The peer answers with its FIN. */
  close(): void {
    if (this.#reset || this.#finQueued) return;
    this.#finQueued = true;
    this.#host.wake(this);
  }

  /** Aborts the stream (RESET with `reason`); queued datagrams are dropped. */
  destroy(reason: ResetReason = ResetReason.cancelled, message = 'cancelled'): void {
    if (this.#reset || this.#released) return;
    this.#reset = true;
    this.#host.sendReset(this.id, reason, message);
    this.#finish(undefined);
  }

  // ---- responder side ----

  /** Confirms the open (OPEN_OK), telling the opener where this side's socket is connected. */
  accept(peer?: Destination): void {
    if (this.#reset || this.#established) return;
    this.#established = true;
    this.#peer = peer;
    this.#host.sendOpenOk(this.id, this.#window.size, peer);
  }

  /** Refuses the open: RESET with `reason`. */
  reject(reason: ResetReason, message: string): void {
    this.destroy(reason, message);
  }

  // ---- SessionStream ----

  onOpenOk({ window, peer }: OpenOk): void {
    this.#established = true;
    this.#peer = peer;
    this.#credit += window - INITIAL_WINDOW;
    this.emit('established', peer);
  }

  onDataStart(length: number): boolean {
    if (length > MAX_DATAGRAM) {
      throw new ProtocolError(ProtocolErrorCode.malformed,
        `DATA of ${length} bytes on datagram stream ${this.id} exceeds the largest datagram (${MAX_DATAGRAM} bytes)`);
    }
    this.#incoming = [];
    this.#incomingLength = length;
    return this.#window.receive(length);
  }

  onData(piece: Buffer): void {
    this.#incoming.push(piece);
  }

  onDataEnd(fin: boolean): void {
    const pieces = this.#incoming;
    const length = this.#incomingLength;
    this.#incoming = [];
    this.#incomingLength = 0;
    // An empty DATA with FIN carries no datagram: it only ends the stream.
    if (!(fin && length === 0) && !this.#reset && !this.#released) {
      // A piece is a view of the transport's chunk: copy it, the application may keep the datagram.
      const datagram = pieces.length === 1 ? Buffer.from(pieces[0]) : Buffer.concat(pieces, length);
      this.counts.received++;
      this.counts.receivedBytes += length;
      this.#lastActivity = performance.now();
      this.emit('message', datagram);
    }
    if (length > 0 && !this.#finReceived && !this.#reset) {
      const increment = this.#window.consume(length, performance.now());
      if (increment > 0) this.#host.sendWindowUpdate(this.id, increment);
    }
    if (fin) this.#onFin();
  }

  onWindowUpdate(increment: number): void {
    this.#credit += increment;
    if (this.sendable) this.#host.wake(this);
  }

  onReset(reason: ResetReason, message: string): void {
    if (this.#reset || this.#released) return;
    this.#reset = true;
    this.#finish(new StreamResetError(reason, message || `stream reset by peer (${reason})`, true));
  }

  onSessionClosed(err: Error | undefined): void {
    if (this.#reset || this.#released) return;
    this.#reset = true;
    this.#finish(new StreamResetError(ResetReason.goingAway, err ? `session closed: ${err.message}` : 'session closed', false));
  }

  // ---- DataSource ----

  get sendable(): boolean {
    if (this.#reset || this.#released) return false;
    if (this.#queue.length > 0) return this.#queue[0].length <= this.#credit;
    return this.#finQueued && !this.#finSent;
  }

  /** One datagram per frame, whatever `max` says: a datagram is never split. */
  pullFrame(_max: number): Buffer[] | undefined {
    if (!this.sendable) return undefined;
    const datagram = this.#queue.shift();
    if (datagram === undefined) {
      this.#finSent = true;
      queueMicrotask(() => this.#maybeRelease());
      return [this.#host.dataHeader(this.id, 0, true)];
    }
    this.#queuedBytes -= datagram.length;
    this.#credit -= datagram.length;
    this.counts.sent++;
    this.counts.sentBytes += datagram.length;
    return [this.#host.dataHeader(this.id, datagram.length, false), datagram];
  }

  // ---- internals ----

  #onFin(): void {
    if (this.#finReceived) return;
    this.#finReceived = true;
    if (!this.#finQueued) this.close();
    this.#maybeRelease();
  }

  #maybeRelease(): void {
    if (this.#finSent && this.#finReceived) this.#finish(undefined);
  }

  #armIdle(delayMs: number): void {
    this.#idleTimer = setTimeout(() => {
      const quietFor = performance.now() - this.#lastActivity;
      if (quietFor < this.#idleMs) {
        this.#armIdle(this.#idleMs - quietFor);
        return;
      }
      this.#idleTimer = undefined;
      this.emit('idle');
      this.close();
    }, Math.max(1, delayMs));
    this.#idleTimer.unref();
  }

  #finish(err: StreamResetError | undefined): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#window.release();
    this.#host.release(this);
    this.emit('close', err);
  }
}
