/**
 * The session-wide cap on bytes that applications have written into its byte streams and the
 * writer has not taken yet: sender-side memory, the counterpart of the receive windows.
 *
 * Each stream queues at most SEND_BUFFER (stream.ts) before it holds its writer back, and the
 * transport takes bytes no faster than the link carries them. Without a cap across streams, many
 * streams written at once would all queue in memory: with the bench's 1,000 SOCKS connections of
 * 64 KiB each, the whole 64 MB sat in the CLI as socket reads waiting for the transport. With the
 * cap, a stream whose queue is over STREAM_QUEUE_FLOOR while the session is over budget is held
 * back too, and a new stream is not read from (splice.ts; the SOCKS server does not even answer
 * its client) before it is admitted: admission reserves ADMISSION_BYTES, its likely first read,
 * until that read arrives or ADMISSION_MS pass, so a burst of new streams cannot all be let in
 * before any of them has sent a byte. The bytes then wait on the sender's side, where TCP's own
 * flow control holds the program back.
 *
 * The floor keeps interactive streams out of it: a keystroke or a small request is always queued
 * and sent at once, however much bulk data is waiting. And the budget never stops the session:
 * when nothing it holds has been sent for STALL_MS although the transport could take more (so
 * every stream with bytes queued waits for a peer that does not read; a slow link, whose writer
 * waits for the transport to drain, is not a stall), every waiter is woken as if there were room.
 * New streams are then admitted; a held writer finds its stream still over the floor and waits
 * again.
 */

/** Most bytes all of a session's streams may queue (or have reserved) for sending at once. */
export const SESSION_SEND_BUDGET = 4 * 1024 * 1024;

/** A stream may always queue this much, whatever the session holds. */
export const STREAM_QUEUE_FLOOR = 16 * 1024;

/** What admitting a new stream reserves: one socket read (libuv reads 64 KiB at a time). */
export const ADMISSION_BYTES = 64 * 1024;

/** How long an admission's reservation waits for the stream's first bytes. */
export const ADMISSION_MS = 50;

/** With waiters and no progress for this long, they are all woken anyway. */
export const STALL_MS = 100;

export class SendBudget {
  readonly #limit: number;
  readonly #transportBusy: () => boolean;
  #queued = 0;
  #reserved = 0;
  /** Who waits for room, in the order they started waiting. */
  readonly #waiting = new Set<() => void>();
  #wakeScheduled = false;
  /** Bytes given back so far: progress, for the stall check. */
  #progress = 0;
  #stallTimer: NodeJS.Timeout | undefined;

  /** `transportBusy`: true while the session's writer waits for its transport to drain. */
  constructor(limit: number = SESSION_SEND_BUDGET, transportBusy: () => boolean = () => false) {
    this.#limit = limit;
    this.#transportBusy = transportBusy;
  }

  /** Bytes queued now, across the session's streams (reservations not included). */
  get queued(): number {
    return this.#queued;
  }

  get exhausted(): boolean {
    return this.#queued + this.#reserved >= this.#limit;
  }

  add(bytes: number): void {
    this.#queued += bytes;
  }

  /** The writer took `bytes`, or a stream dropped them. Wakes waiters once there is room. */
  remove(bytes: number): void {
    this.#queued -= bytes;
    this.#progress += bytes;
    this.#maybeWake();
  }

  reserve(bytes: number): void {
    this.#reserved += bytes;
  }

  unreserve(bytes: number): void {
    this.#reserved -= bytes;
    this.#maybeWake();
  }

  /**
   * Calls `wake` once there is room, after those already waiting. Waiting twice with the same
   * function waits once.
   */
  wait(wake: () => void): void {
    this.#waiting.add(wake);
    if (!this.#stallTimer) {
      let seen = this.#progress;
      this.#stallTimer = setInterval(() => {
        if (this.#waiting.size === 0) {
          clearInterval(this.#stallTimer);
          this.#stallTimer = undefined;
          return;
        }
        if (this.#progress === seen && !this.#transportBusy()) {
          const stalled = [...this.#waiting];
          this.#waiting.clear();
          for (const wake of stalled) wake();
        }
        seen = this.#progress;
      }, STALL_MS);
      this.#stallTimer.unref();
    }
  }

  cancel(wake: () => void): void {
    this.#waiting.delete(wake);
  }

  #maybeWake(): void {
    if (this.#waiting.size > 0 && !this.exhausted && !this.#wakeScheduled) {
      // Not from inside the stream that gave the bytes back: a woken writer writes at once.
      this.#wakeScheduled = true;
      queueMicrotask(() => this.#wake());
    }
  }

  #wake(): void {
    this.#wakeScheduled = false;
    for (const wake of this.#waiting) {
      if (this.exhausted) return;
      this.#waiting.delete(wake);
      wake();
    }
  }
}
