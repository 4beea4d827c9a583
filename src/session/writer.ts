/**
 * The session's single writer. Everything the session sends goes through here, in this order:
 * control frames first (pings, window updates, opens, resets: small and latency-sensitive), then
 * DATA frames taken round-robin, one chunk of at most DATA_CHUNK bytes per stream per turn, so a
 * bulk stream cannot starve an interactive one.
 *
 * The writer keeps the transport's own buffer short (TRANSPORT_BUFFER): anything queued behind
 * it would delay the next interactive frame, and the streams' send queues already hold the rest.
 */
import type { Duplex } from 'node:stream';
import { DATA_CHUNK } from '../protocol/constants.ts';

/** How many bytes may sit in the transport's write buffer before the writer waits for 'drain'. */
export const TRANSPORT_BUFFER = 256 * 1024;

/**
 * How many flushes in a row may run from the microtask queue before the writer waits for the next
 * turn of the event loop. Over a transport that delivers synchronously (an in-memory pair) each
 * frame this writer sends makes the peer answer in a microtask, which wakes this writer again: two
 * sessions could hand frames back and forth forever without timers or I/O ever running. Over TCP
 * the writer is woken from I/O callbacks and runs from setImmediate or 'drain' often, so the limit
 * is rarely reached and deferring costs no latency there.
 */
const MICROTASK_FLUSHES_IN_A_ROW = 256;

/** A stream as the writer sees it: it can hand over its next DATA frame. */
export interface DataSource {
  /**
   * Returns the next DATA frame (header, then payload if any) of at most `max` payload bytes that
   * the stream has credit for, or undefined if it has nothing it may send now.
   */
  pullFrame(max: number): Buffer[] | undefined;
  /** True if pullFrame would return a frame. */
  readonly sendable: boolean;
}

export class FrameWriter {
  readonly #transport: Duplex;
  readonly #limit: number;
  #control: Buffer[] = [];
  /** Streams with something to send, in turn order. A Set keeps insertion order and dedupes. */
  #ready = new Set<DataSource>();
  #scheduled = false;
  /** Flushes run from the microtask queue since the writer last ran from a macrotask. */
  #microtaskFlushes = 0;
  #waitingForDrain = false;
  #closed = false;

  constructor(transport: Duplex) {
    this.#transport = transport;
    // The transport's own high-water mark is not the bound: the portforward transport's is 1 MiB,
    // and everything queued there waits ahead of the next interactive frame.
    this.#limit = TRANSPORT_BUFFER;
  }

  /** True while the transport is full and the writer waits for it to drain. */
  get waitingForDrain(): boolean {
    return this.#waitingForDrain;
  }

  /** Queues a control frame ahead of all data. */
  control(frame: Buffer): void {
    if (this.#closed) return;
    this.#control.push(frame);
    this.#schedule();
  }

  /**
   * Tells the writer that `source` may have a frame to send. With `batch`, the write waits for the
   * end of this turn of the event loop (setImmediate) instead of the current callback: datagrams
   * arrive one callback each, and a burst that arrived together then leaves in one writev instead
   * of one write per datagram (which cost more CPU than the rest of the -L /udp path).
   */
  wake(source: DataSource, batch = false): void {
    if (this.#closed) return;
    this.#ready.add(source);
    if (batch) this.#scheduleAfterTurn();
    else this.#schedule();
  }

  #scheduleAfterTurn(): void {
    if (this.#scheduled || this.#waitingForDrain) return;
    this.#scheduled = true;
    setImmediate(() => this.#flushNextTurn());
  }

  /** Forgets a stream (it was reset or closed); its queued data is dropped by the stream itself. */
  forget(source: DataSource): void {
    this.#ready.delete(source);
  }

  /** Stops writing. Frames still queued are dropped. */
  close(): void {
    this.#closed = true;
    this.#control = [];
    this.#ready.clear();
  }

  /** Writes whatever is queued now, synchronously, then ends the transport once it is flushed. */
  flushAndEnd(): void {
    this.#flush();
    this.#closed = true;
    this.#transport.end();
  }

  #schedule(): void {
    if (this.#scheduled || this.#waitingForDrain) return;
    this.#scheduled = true;
    if (this.#microtaskFlushes >= MICROTASK_FLUSHES_IN_A_ROW) {
      setImmediate(() => this.#flushNextTurn());
      return;
    }
    // Batch everything queued in this turn of the event loop into one writev.
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#microtaskFlushes++;
      this.#flush();
    });
  }

  /** Runs a flush scheduled with setImmediate: the event loop has turned since the last one. */
  #flushNextTurn(): void {
    this.#scheduled = false;
    this.#microtaskFlushes = 0;
    this.#flush();
  }

  #flush(): void {
    if (this.#closed || this.#waitingForDrain || this.#transport.destroyed) return;
    const transport = this.#transport;
    let more = true;
    transport.cork();
    try {
      while (transport.writableLength < this.#limit) {
        const frame = this.#control.shift();
        if (frame) {
          transport.write(frame);
          continue;
        }
        if (!this.#writeNextData()) {
          more = false;
          break;
        }
      }
    } finally {
      transport.uncork();
    }
    if (!more) return;
    if (transport.writableLength >= this.#limit) {
      // The transport is full: a write returned false, so 'drain' will come.
      this.#waitingForDrain = true;
      transport.once('drain', () => {
        this.#waitingForDrain = false;
        this.#microtaskFlushes = 0;
        this.#flush();
      });
    } else {
      // Uncorking flushed synchronously. Yield once so incoming frames (window updates, pings)
      // are read between batches, then go on.
      this.#scheduled = true;
      setImmediate(() => this.#flushNextTurn());
    }
  }

  /** Writes one DATA frame from the next stream in turn. Returns false when no stream can send. */
  #writeNextData(): boolean {
    for (const source of this.#ready) {
      this.#ready.delete(source);
      const frame = source.pullFrame(DATA_CHUNK);
      if (source.sendable) this.#ready.add(source);
      if (!frame) continue;
      for (const piece of frame) this.#transport.write(piece);
      return true;
    }
    return false;
  }
}
