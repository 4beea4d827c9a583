/**
 * The session-wide cap on bytes that applications have written into its byte streams and the
 * writer has not taken yet: sender-side memory, the counterpart of the receive windows.
 *
 * Each stream queues at most SEND_BUFFER (stream.ts) before it holds its writer back, and the
 * transport takes bytes no faster than the link carries them. Without a cap across streams, many
 * streams written at once would all queue in memory: with the bench's 1,000 SOCKS connections of
 * 64 KiB each, the whole 64 MB sat in the CLI as socket reads waiting for the transport (peak RSS
 * 175 MB against 113 MB before that phase). With the cap, a stream whose queue is over
 * STREAM_QUEUE_FLOOR while the session is over budget is held back too, and a socket is not read
 * at all until the budget has room (splice.ts), so the bytes wait in the kernel, where TCP's own
 * flow control pushes back on the sender.
 *
 * The floor keeps interactive streams out of it: a keystroke or a small request is always queued
 * and sent at once, however much bulk data is waiting.
 */

/** Most bytes all of a session's streams may queue for sending at once (before the floor). */
export const SESSION_SEND_BUDGET = 4 * 1024 * 1024;

/** A stream may always queue this much, whatever the session holds. */
export const STREAM_QUEUE_FLOOR = 16 * 1024;

export class SendBudget {
  readonly #limit: number;
  #queued = 0;
  /** Who waits for room, in the order they started waiting. */
  readonly #waiting = new Set<() => void>();
  #wakeScheduled = false;

  constructor(limit: number = SESSION_SEND_BUDGET) {
    this.#limit = limit;
  }

  /** Bytes queued now, across the session's streams. */
  get queued(): number {
    return this.#queued;
  }

  get exhausted(): boolean {
    return this.#queued >= this.#limit;
  }

  add(bytes: number): void {
    this.#queued += bytes;
  }

  /** The writer took `bytes`, or a stream dropped them. Wakes waiters once there is room. */
  remove(bytes: number): void {
    this.#queued -= bytes;
    if (this.#waiting.size > 0 && !this.exhausted && !this.#wakeScheduled) {
      // Not from inside the stream that gave the bytes back: a woken writer writes at once.
      this.#wakeScheduled = true;
      queueMicrotask(() => this.#wake());
    }
  }

  /**
   * Calls `wake` once there is room, after those already waiting. Waiting twice with the same
   * function waits once.
   */
  wait(wake: () => void): void {
    this.#waiting.add(wake);
  }

  cancel(wake: () => void): void {
    this.#waiting.delete(wake);
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
