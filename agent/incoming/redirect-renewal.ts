/**
 * Keeps the agent's expiring redirects alive (ipset.ts): every RENEW_MS it re-adds each redirected
 * port's element with a fresh TTL. A stopped agent (SIGSTOP, a frozen cgroup, a node under memory
 * pressure) renews nothing, so its steal lapses after REDIRECT_TTL_S and the target answers its own
 * traffic; when the agent runs again the next renewal re-adds the element and the steal resumes,
 * with a log line saying how long it had lapsed. One round is one `ipset restore` run for every
 * port (50 ports cost one process every RENEW_MS, not 50); only when that fails are the ports
 * renewed one by one, to find and name the one that fails.
 */
import type { AgentLog } from '../log.ts';
import { REDIRECT_TTL_S, RENEW_MS, type Ipset } from './ipset.ts';

interface Renewed {
  set: string;
  /** Date.now() of the last renewal that succeeded. */
  renewedAt: number;
  /** Whether the last failure was logged, so a failing renewal logs once until it succeeds. */
  failing: boolean;
}

export class RedirectRenewal {
  readonly #ipset: Ipset;
  readonly #log: AgentLog;
  readonly #ports = new Map<number, Renewed>();
  #timer: NodeJS.Timeout | undefined;

  constructor(ipset: Ipset, log: AgentLog) {
    this.#ipset = ipset;
    this.#log = log;
  }

  /** Starts renewing `port`'s element of `set` (which was just created with a live element). */
  add(port: number, set: string): void {
    this.#ports.set(port, { set, renewedAt: Date.now(), failing: false });
    if (!this.#timer) {
      this.#timer = setInterval(() => this.renewAll(), RENEW_MS);
      this.#timer.unref();
    }
  }

  delete(port: number): void {
    this.#ports.delete(port);
    if (this.#ports.size === 0) this.stop();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One round of renewals; resolves when every one has finished. */
  async renewAll(): Promise<void> {
    const entries = [...this.#ports];
    if (entries.length === 0) return;
    const started = Date.now();
    const batched = entries.length > 1 && await this.#ipset.renewMany(entries.map(([port, e]) => ({ set: e.set, port }))).then(() => true, () => false);
    if (batched) {
      for (const [port, entry] of entries) this.#renewed(port, entry, started);
      return;
    }
    await Promise.all(entries.map(([port, entry]) => this.#renew(port, entry)));
  }

  async #renew(port: number, entry: Renewed): Promise<void> {
    const started = Date.now();
    try {
      await this.#ipset.renew(entry.set, port);
    } catch (err) {
      if (this.#ports.get(port) !== entry || entry.failing) return;
      entry.failing = true;
      this.#log.warn('cannot renew the redirect; it lapses unless a later renewal succeeds', { port, set: entry.set, ttlSeconds: REDIRECT_TTL_S, error: (err as Error).message });
      return;
    }
    this.#renewed(port, entry, started);
  }

  #renewed(port: number, entry: Renewed, started: number): void {
    const gapMs = started - entry.renewedAt;
    if (gapMs > REDIRECT_TTL_S * 1000) {
      this.#log.warn('the redirect had lapsed (the agent did not run for a while) and is renewed: the port\'s new connections come to the agent again',
        { port, lapsedForMs: gapMs - REDIRECT_TTL_S * 1000 });
    }
    entry.renewedAt = started;
    entry.failing = false;
  }
}
