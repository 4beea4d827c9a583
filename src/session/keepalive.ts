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
  /** Smallest round trip seen so far, ms: the link without the queues the session itself builds. */
  #minRtt = Infinity;
  #samples = 0;

  constructor(options: KeepaliveOptions) {
    this.#options = options;
    const tick = Math.max(10, Math.min(options.intervalMs, options.timeoutMs / 2));
    this.#timer = setInterval(() => this.#tick(), tick);
    this.#timer.unref();
    // A first probe while the link is still idle, so the minimum round trip is known before bulk data queues up.
    this.#ping(performance.now());
  }

  /** The smoothed round-trip time in milliseconds. */
  get rtt(): number {
    return this.#srtt;
  }

  /** Any frame arrived from the peer. */
  heard(): void {
    this.#lastHeard = performance.now();
  }

  /**
   * The smallest round trip measured so far, in ms (the smoothed one until a sample came): the
   * link's own delay, without the bytes queued in it. A session runs over one transport
   * connection, so its path, and this floor, do not change under it.
   */
  get minRtt(): number {
    return this.#samples === 0 ? this.#srtt : this.#minRtt;
  }

  /** A PING with ACK arrived. */
  onPong(opaque: Buffer): void {
    const out = this.#outstanding;
    if (!out || !out.opaque.equals(opaque)) return;
    this.#outstanding = undefined;
    const sample = performance.now() - out.sentAt;
    this.#srtt = this.#samples === 0 ? sample : (7 * this.#srtt + sample) / 8;
    this.#minRtt = Math.min(this.#minRtt, sample);
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
