/**
 * Keepalive and round-trip measurement for a session. Each side pings every `intervalMs`; any frame
 * from the peer proves it alive. If nothing arrives for `timeoutMs`, the session is dead: this is how
 * a half-open transport (a laptop that slept, a NAT that forgot the flow) is noticed.
 *
 * The same pings measure the round-trip time that window auto-tuning uses. Extra probes may be sent
 * while data flows (see `probe`), so the estimate reflects the link under load, not only when idle.
 */
import { randomBytes } from 'node:crypto';
import { PING_PAYLOAD } from '../protocol/constants.ts';

export interface KeepaliveOptions {
  intervalMs: number;
  timeoutMs: number;
  sendPing(opaque: Buffer): void;
  onTimeout(): void;
}

/** Smallest interval between two round-trip probes, in milliseconds. */
const PROBE_INTERVAL_MS = 50;

export class Keepalive {
  readonly #options: KeepaliveOptions;
  #timer: NodeJS.Timeout | undefined;
  #lastHeard = performance.now();
  #outstanding: { opaque: Buffer; sentAt: number } | undefined;
  #lastProbeAt = 0;
  /** Smoothed round-trip time in ms (RFC 6298's estimator, alpha 1/8). */
  #srtt = 1;
  #samples = 0;

  constructor(options: KeepaliveOptions) {
    this.#options = options;
    const tick = Math.max(10, Math.min(options.intervalMs, options.timeoutMs / 2));
    this.#timer = setInterval(() => this.#tick(), tick);
    this.#timer.unref();
  }

  /** The smoothed round-trip time in milliseconds. */
  get rtt(): number {
    return this.#srtt;
  }

  /** Any frame arrived from the peer. */
  heard(): void {
    this.#lastHeard = performance.now();
  }

  /** A PING with ACK arrived. */
  onPong(opaque: Buffer): void {
    const out = this.#outstanding;
    if (!out || !out.opaque.equals(opaque)) return;
    this.#outstanding = undefined;
    const sample = performance.now() - out.sentAt;
    this.#srtt = this.#samples === 0 ? sample : (7 * this.#srtt + sample) / 8;
    this.#samples++;
  }

  /** Sends a round-trip probe unless one is in flight or one was sent very recently. */
  probe(): void {
    const now = performance.now();
    if (this.#outstanding || now - this.#lastProbeAt < PROBE_INTERVAL_MS) return;
    this.#ping(now);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(): void {
    const now = performance.now();
    if (now - this.#lastHeard > this.#options.timeoutMs) {
      this.stop();
      this.#options.onTimeout();
      return;
    }
    if (now - this.#lastProbeAt >= this.#options.intervalMs) this.#ping(now);
  }

  #ping(now: number): void {
    const opaque = randomBytes(PING_PAYLOAD);
    this.#outstanding = { opaque, sentAt: now };
    this.#lastProbeAt = now;
    this.#options.sendPing(opaque);
  }
}
