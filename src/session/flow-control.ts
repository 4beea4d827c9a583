/**
 * Receive-side flow control: how much a peer may send on a stream, and when to let it send more.
 *
 * Each stream starts with INITIAL_WINDOW of credit. As the application consumes bytes, they are
 * returned to the peer in WINDOW_UPDATE frames, batched until half a window is due. The window
 * grows (doubles) when it is being used up faster than the link's round trip, which means the peer
 * is waiting on credit: the same rule as QUIC's receive-window auto-tuning (RFC 9000 leaves the
 * policy to implementations; quic-go and Chromium double the window when an update is due within
 * a few RTTs of the previous one). A stream that stops being read never grows: it holds at most
 * the window it had, and the other streams keep flowing.
 *
 * A session-wide budget caps how far all the windows together may grow past their initial size,
 * so many fast streams cannot make the session's memory unbounded.
 */
import { INITIAL_WINDOW } from '../protocol/constants.ts';

/** Largest window one stream can grow to. */
export const MAX_STREAM_WINDOW = 4 * 1024 * 1024;

/**
 * How many bytes of growth past INITIAL_WINDOW all streams of a session may hold at once. Enough for
 * one stream to reach MAX_STREAM_WINDOW; several bulk streams share it. Everything granted can sit
 * in the transport's queues ahead of an interactive stream's next frame, so this also bounds how
 * long that frame waits (npm run bench: interactive echo p50 about 6 ms with 4 bulk streams at
 * 0.8 GB/s with 4 MiB, about 12 ms with 16 MiB, and the same bulk throughput).
 */
export const SESSION_WINDOW_BUDGET = 4 * 1024 * 1024;

/** The session-wide cap on window growth, shared by every stream's ReceiveWindow. */
export class WindowBudget {
  #available: number;

  constructor(bytes: number = SESSION_WINDOW_BUDGET) {
    this.#available = bytes;
  }

  get available(): number {
    return this.#available;
  }

  /** Takes `bytes` if they are all available. */
  take(bytes: number): boolean {
    if (bytes > this.#available) return false;
    this.#available -= bytes;
    return true;
  }

  give(bytes: number): void {
    this.#available += bytes;
  }
}

/** Round-trip time as the session currently estimates it, in milliseconds. */
export type RttSource = () => number;

export class ReceiveWindow {
  /** The window this stream grants: how far ahead of consumption the peer may be. */
  #size = INITIAL_WINDOW;
  /** Credit the peer still holds: bytes it may send that have not arrived yet. */
  #peerCredit = INITIAL_WINDOW;
  /** Bytes consumed by the application and not yet returned to the peer. */
  #unreturned = 0;
  #lastUpdateAt = 0;
  readonly #budget: WindowBudget;
  readonly #rtt: RttSource;
  readonly #maxSize: number;

  constructor(budget: WindowBudget, rtt: RttSource, maxSize: number = MAX_STREAM_WINDOW) {
    this.#budget = budget;
    this.#rtt = rtt;
    this.#maxSize = maxSize;
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Accounts for a DATA frame of `length` bytes announced by the peer. Returns false if the peer
   * had no credit for it: a window violation, which ends the session.
   */
  receive(length: number): boolean {
    if (length > this.#peerCredit) return false;
    this.#peerCredit -= length;
    return true;
  }

  /**
   * Records that the application consumed `bytes`. Returns the WINDOW_UPDATE increment to send now,
   * or 0 when it is better to wait and batch.
   */
  consume(bytes: number, now: number): number {
    this.#unreturned += bytes;
    if (this.#unreturned < this.#size / 2) return 0;
    let increment = this.#unreturned;
    this.#unreturned = 0;
    if (this.#lastUpdateAt !== 0 && now - this.#lastUpdateAt < 2 * this.#rtt()) {
      increment += this.#grow();
    }
    this.#lastUpdateAt = now;
    this.#peerCredit += increment;
    return increment;
  }

  /** Returns this stream's growth to the session budget. Call once, when the stream is gone. */
  release(): void {
    this.#budget.give(this.#size - INITIAL_WINDOW);
    this.#size = INITIAL_WINDOW;
  }

  #grow(): number {
    const extra = Math.min(this.#size, this.#maxSize - this.#size);
    if (extra <= 0 || !this.#budget.take(extra)) return 0;
    this.#size += extra;
    return extra;
  }
}
