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
 * Growing on a short round trip alone feeds on itself: the bytes a large window puts in flight
 * queue in the transport (kernel socket buffers, the API server and kubelet relays), the queue
 * lengthens the measured round trip, and a longer round trip lets the windows grow further, until
 * the session cap. Every queued byte delays the next interactive frame behind it. So the windows
 * also watch the queue, the way delay-based congestion control does (TCP Vegas, LEDBAT, RFC 6817):
 * when the smoothed round trip is well above the smallest one seen, the link is queueing, and a
 * window that has grown gives its growth back (it returns less credit than was consumed) instead
 * of growing. The queue then settles near the link's own round trip instead of the session cap.
 *
 * A queue only costs latency to the frames of other streams waiting behind it, so the check holds
 * only while the link is shared: while another stream has received data within SHARED_LINK_MS. A
 * stream alone on the session grows to what its round trip needs, queue or not (before this rule,
 * the session's one-stream throughput over loopback fell from 1.0x to 0.8x a two-process relay's,
 * because its window stayed at INITIAL_WINDOW on any link with a millisecond of queue).
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
 * long that frame waits when the queue check below does not hold the windows back (npm run bench,
 * before that check: interactive echo p50 about 6 ms with 4 bulk streams at 0.8 GB/s with 4 MiB,
 * about 12 ms with 16 MiB, and the same bulk throughput).
 */
export const SESSION_WINDOW_BUDGET = 4 * 1024 * 1024;

/**
 * The link counts as queueing when its smoothed round trip exceeds QUEUE_RTT_FACTOR times the
 * smallest one plus QUEUE_SLACK_MS: the queue then holds more than the link's own delay's worth of
 * bytes. The slack keeps a short link (loopback, a node-local kubelet) from reacting to scheduling
 * jitter of a millisecond.
 */
export const QUEUE_RTT_FACTOR = 2;
export const QUEUE_SLACK_MS = 1;

/**
 * How long a stream that received data keeps the link counted as shared. An interactive stream
 * (a shell, a request now and then) is seen at each exchange; a second is long enough to cover its
 * pauses while it types or waits, and short enough that a bulk stream left alone grows again soon.
 */
export const SHARED_LINK_MS = 1000;

/** The session's round-trip estimates in milliseconds (the session's Keepalive measures them). */
export interface RoundTrips {
  /** Smoothed over recent probes: the link as loaded now, queues included. */
  readonly rtt: number;
  /** The smallest seen: the link's own delay, without queues. */
  readonly minRtt: number;
}

/** True when the link holds a queue of more than its own round trip (see QUEUE_RTT_FACTOR). */
export function queueing(roundTrips: RoundTrips): boolean {
  return roundTrips.rtt > QUEUE_RTT_FACTOR * roundTrips.minRtt + QUEUE_SLACK_MS;
}

/**
 * What every stream's ReceiveWindow in a session shares: the cap on window growth, and whether more
 * than one stream is receiving (see SHARED_LINK_MS).
 */
export class WindowBudget {
  #available: number;
  /** The window that consumed data last, and when. */
  #lastConsumer: ReceiveWindow | undefined;
  #lastConsumedAt = -Infinity;
  /** Until when the link counts as shared. */
  #sharedUntil = -Infinity;

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

  /**
   * Records that `window`'s stream consumed data at `now`. Two different streams consuming within
   * SHARED_LINK_MS of each other make the link shared for the next SHARED_LINK_MS.
   */
  consumed(window: ReceiveWindow, now: number): void {
    if (window !== this.#lastConsumer) {
      if (now - this.#lastConsumedAt < SHARED_LINK_MS) this.#sharedUntil = now + SHARED_LINK_MS;
      this.#lastConsumer = window;
    }
    this.#lastConsumedAt = now;
  }

  /** True while more than one stream has been receiving (see consumed()). */
  shared(now: number): boolean {
    return now < this.#sharedUntil;
  }
}

export class ReceiveWindow {
  /** The window this stream grants: how far ahead of consumption the peer may be. */
  #size = INITIAL_WINDOW;
  /** Credit the peer still holds: bytes it may send that have not arrived yet. */
  #peerCredit = INITIAL_WINDOW;
  /** Bytes consumed by the application and not yet returned to the peer. */
  #unreturned = 0;
  #lastUpdateAt = 0;
  readonly #budget: WindowBudget;
  readonly #roundTrips: RoundTrips;
  readonly #maxSize: number;

  constructor(budget: WindowBudget, roundTrips: RoundTrips, maxSize: number = MAX_STREAM_WINDOW) {
    this.#budget = budget;
    this.#roundTrips = roundTrips;
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
   * or 0 when it is better to wait and batch (or when a shrinking window keeps this credit back).
   */
  consume(bytes: number, now: number): number {
    this.#unreturned += bytes;
    this.#budget.consumed(this, now);
    if (this.#unreturned < this.#size / 2) return 0;
    let increment = this.#unreturned;
    this.#unreturned = 0;
    if (queueing(this.#roundTrips) && this.#budget.shared(now)) {
      increment -= this.#shrink(increment);
    } else if (this.#lastUpdateAt !== 0 && now - this.#lastUpdateAt < 2 * this.#roundTrips.rtt) {
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

  /**
   * Halves the growth (all of it once it is no more than INITIAL_WINDOW), out of the credit about
   * to be returned (at most `due`): the peer gets that much less back, so the bytes it can have in
   * flight shrink with the window. Never below INITIAL_WINDOW. Returns the bytes kept back.
   */
  #shrink(due: number): number {
    const growth = this.#size - INITIAL_WINDOW;
    const cut = Math.min(due, growth <= INITIAL_WINDOW ? growth : Math.ceil(growth / 2));
    if (cut <= 0) return 0;
    this.#size -= cut;
    this.#budget.give(cut);
    return cut;
  }

  #grow(): number {
    const extra = Math.min(this.#size, this.#maxSize - this.#size);
    if (extra <= 0 || !this.#budget.take(extra)) return 0;
    this.#size += extra;
    return extra;
  }
}
