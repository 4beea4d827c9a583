/**
 * Counts a mirror subscription's copies and tells the CLI when copies were dropped, at most once
 * per interval, so that a burst of drops does not become a burst of notices. The last count of a
 * burst is always sent (a trailing notice after the interval).
 */
import { Requests } from '../../src/protocol/requests.ts';
import type { Session } from '../../src/session/session.ts';

export const NOTICE_INTERVAL_MS = 1000;

export class MirrorStats {
  readonly #session: Session;
  readonly #port: number;
  readonly #intervalMs: number;
  #total = 0;
  #dropped = 0;
  #lastSentAt = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #reportedDropped = 0;

  constructor(session: Session, port: number, intervalMs = NOTICE_INTERVAL_MS) {
    this.#session = session;
    this.#port = port;
    this.#intervalMs = intervalMs;
  }

  get total(): number { return this.#total; }
  get dropped(): number { return this.#dropped; }

  /** A connection is being mirrored. */
  countConnection(): void {
    this.#total++;
  }

  /** A connection's copy was dropped. */
  countDrop(): void {
    this.#dropped++;
    this.#schedule();
  }

  /** Stops the trailing notice (the subscription ended). */
  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#timer) return;
    const wait = this.#lastSentAt + this.#intervalMs - performance.now();
    if (wait <= 0) {
      this.#send();
      return;
    }
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#send();
    }, wait);
    this.#timer.unref();
  }

  #send(): void {
    if (this.#dropped === this.#reportedDropped || this.#session.closed) return;
    this.#lastSentAt = performance.now();
    this.#reportedDropped = this.#dropped;
    // The answer is null; a CLI that does not handle notices answers ENOTSUP, which changes nothing.
    this.#session.call(Requests.notice, { kind: 'mirrorDropped', port: this.#port, dropped: this.#dropped, total: this.#total }).catch(() => {});
  }
}
