/**
 * Incoming traffic (`-R`), agent-wide: the portSubscribe and portUnsubscribe requests of every
 * session, the iptables chain of this agent and its guard, and one listener per subscribed port,
 * to which iptables redirects the port's new connections.
 *
 * Several sessions may subscribe the same port (a reconnecting CLI overlaps its old session); the
 * newest subscription gets the new connections, and the port is redirected until the last one
 * ends. A connection that arrives when no subscription is left goes to the original app.
 *
 * The chain is created on the first subscription, after leftovers of dead agents are removed and
 * the guard is running, and removed on unsubscribe of the last port, on close(), and, if the agent
 * dies, by the guard. Each port's redirect also expires by itself unless the agent keeps renewing
 * it (ipset.ts), which covers the case the guard cannot: every process of the agent's container
 * killed at once. Where the kernel or the image lacks what that needs, the agent says so in a
 * warning and relies on the guard alone. The rules go into ip6tables too when the pod has IPv6
 * (redirect-rules.ts), and each listener then takes both families.
 *
 * An unsubscribe that leaves a port without subscriptions parks it rather than removing it: one
 * `ipset del` takes the port's element out of its set, so its REDIRECT stops matching at once and
 * new connections reach the original app, while the rules and the listener stay for PARK_MS. A
 * subscribe of the port in that time puts the element back (one `ipset add`), instead of a
 * listener, two sets of rules and a set made anew: a program that opens and closes a listener in
 * a loop costs one ipset run per change. A parked port's rules go when PARK_MS passes, when the
 * session that parked it ends, or when the agent closes; without expiring sets nothing is parked.
 */
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { RequestError, ResponseErrorCode } from '../../src/protocol/request-errors.ts';
import type { PortSubscribeAnswer, PortSubscribeBody, PortUnsubscribeBody } from '../../src/protocol/requests.ts';
import type { Session } from '../../src/session/session.ts';
import type { AgentLog } from '../log.ts';
import { GuardHandle } from './guard-handle.ts';
import { Iptables, IptablesError, chainName, ip6tablesBinary, type RedirectRule } from './iptables.ts';
import { RedirectRules } from './redirect-rules.ts';
import { Ipset, setName } from './ipset.ts';
import { RedirectRenewal } from './redirect-renewal.ts';
import { cleanLeftovers } from './leftovers.ts';
import { isListening } from './listening.ts';
import { currentOwner, ownerComment } from './owner.ts';
import { toSubscribeRequest } from './subscribe-request.ts';
import type { Subscription } from './subscription.ts';
import { MirrorStats } from './mirror-notices.ts';
import { dispatchConnection } from './dispatch.ts';
import { PARK_MS, asRequestError, describeFilter, openRedirectListener, type PortRedirect } from './port-redirect.ts';
import { AgentEvent } from '../../src/sessions/agent-events.ts';

export interface IncomingOptions {
  log: AgentLog;
  /** 8 hex digits naming this agent's chain; random by default. */
  agentId?: string;
  iptables?: Iptables;
  /** ip6tables for the pod's IPv6 traffic; null for IPv4 only. Default: the system's ip6tables. */
  ip6tables?: Iptables | null;
  ipset?: Ipset;
  /** How long an unsubscribed port stays parked, ms (PARK_MS). */
  parkMs?: number;
}

/** What endSession could not undo: the ports whose rules may still be in place, and why. */
export interface CleanupFailure {
  port: number;
  error: string;
}


export class IncomingTraffic {
  readonly agentId: string;
  readonly chain: string;
  readonly #log: AgentLog;
  readonly #iptables: RedirectRules;
  readonly #ipset: Ipset;
  readonly #renewal: RedirectRenewal;
  readonly #comment: string;
  readonly #parkMs: number;
  /** Why redirects cannot expire here, once found out; they are then guarded by the guard alone. */
  #noExpiry: string | undefined;
  readonly #ports = new Map<number, PortRedirect>();
  readonly #subscriptions = new Map<number, Subscription>();
  #guard: GuardHandle | undefined;
  #chainCreated = false;
  #nextId = 1;
  /** Serializes every change of rules and listeners, so concurrent requests never interleave them. */
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: IncomingOptions) {
    this.agentId = options.agentId ?? randomBytes(4).toString('hex');
    this.chain = chainName(this.agentId);
    this.#log = options.log;
    const ip6tables = options.ip6tables === undefined ? new Iptables(ip6tablesBinary()) : options.ip6tables ?? undefined;
    this.#iptables = new RedirectRules(options.iptables ?? new Iptables(), ip6tables, this.#log);
    this.#ipset = options.ipset ?? new Ipset();
    this.#renewal = new RedirectRenewal(this.#ipset, this.#log);
    this.#comment = ownerComment(currentOwner(this.agentId));
    this.#parkMs = options.parkMs ?? PARK_MS;
  }

  /** Subscriptions in force. */
  get subscriptionCount(): number {
    return this.#subscriptions.size;
  }

  /** portSubscribe, with a checked body. Throws RequestError EINVAL, EEXIST, ENOTLISTENING, EPERM, EIPTABLES, ESHUTDOWN. */
  async subscribe(session: Session, body: PortSubscribeBody): Promise<PortSubscribeAnswer> {
    const request = toSubscribeRequest(body);
    const { port } = request;
    this.#refuseTwice(session, port);
    if (!await isListening(port)) {
      throw new RequestError(ResponseErrorCode.notListening, `nothing in the pod listens on TCP port ${port} (checked /proc/net/tcp and /proc/net/tcp6); -R needs a port the target listens on`);
    }
    return this.#serial(async () => {
      if (this.#closed) throw new RequestError(ResponseErrorCode.shuttingDown, 'the agent is shutting down');
      this.#refuseTwice(session, port); // again: two concurrent subscribes of one session both passed the first check
      await this.#ensureChain();
      const parked = this.#ports.get(port);
      const redirect = (parked && await this.#unpark(parked)) || await this.#redirectPort(port);
      const sub: Subscription = {
        id: this.#nextId++, session, port, mode: request.mode, filter: request.filter, active: true,
        stats: request.mode === 'mirror' ? new MirrorStats(session, port) : undefined,
      };
      redirect.subscriptions.push(sub);
      this.#subscriptions.set(sub.id, sub);
      this.#log.info('port subscribed', { event: AgentEvent.portSubscribed, port, mode: sub.mode, subscription: sub.id, filter: describeFilter(sub.filter) });
      return { subscription: sub.id };
    });
  }

  #refuseTwice(session: Session, port: number): void {
    if ([...this.#subscriptions.values()].some((s) => s.session === session && s.port === port)) {
      throw new RequestError(ResponseErrorCode.exists, `port ${port} is already subscribed by this session`);
    }
  }

  /** portUnsubscribe. Throws RequestError EINVAL for a subscription this session does not hold. */
  async unsubscribe(session: Session, { subscription: id }: PortUnsubscribeBody): Promise<null> {
    const sub = this.#subscriptions.get(id);
    if (!sub || sub.session !== session) {
      throw new RequestError(ResponseErrorCode.invalid, `subscription ${id} is not one of this session's subscriptions`);
    }
    await this.#serial(async () => {
      const emptied = await this.#detach(sub, true);
      if (emptied) await this.#remove(emptied);
    });
    return null;
  }

  /**
   * Ends every subscription of `session` (its session ended). Removes every rule it can: a failure
   * for one port does not stop the others. Never throws; returns (and logs) the ports whose rules
   * could not be removed.
   */
  async endSession(session: Session): Promise<CleanupFailure[]> {
    const subs = [...this.#subscriptions.values()].filter((s) => s.session === session);
    if (subs.length === 0 && ![...this.#ports.values()].some((r) => r.parked?.session === session)) return [];
    let errors: { port: number; error: Error }[] = [];
    await this.#serial(async () => {
      const emptied: PortRedirect[] = [...this.#ports.values()].filter((r) => r.parked?.session === session);
      for (const sub of subs) {
        const redirect = await this.#detach(sub, false);
        if (redirect) emptied.push(redirect);
      }
      errors = await this.#removeMany(emptied);
    });
    // Removing the chain (the session held the last ports) took its rules along, failed or not.
    if (!this.#chainCreated) errors = errors.filter((e) => !(e.error instanceof IptablesError));
    const failures: CleanupFailure[] = errors.map((e) => ({ port: e.port, error: e.error.message }));
    if (failures.length > 0) {
      this.#log.warn('the ended session\'s redirects could not all be removed; the guard removes them when the agent exits, and they lapse by themselves where they expire',
        { chain: this.chain, failed: failures });
    }
    return failures;
  }

  /** Removes every rule and listener, then stops the guard. Never throws; failures are logged. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#serial(async () => {
      for (const sub of [...this.#subscriptions.values()]) await this.#detach(sub, false);
      for (const { port, error } of await this.#removeMany([...this.#ports.values()])) this.#log.warn('cleanup failed', { port, error: error.message });
      if (this.#chainCreated) {
        await this.#iptables.removeChain(this.chain).catch((err: Error) => this.#log.warn('cannot remove the iptables chain', { chain: this.chain, error: err.message }));
        this.#chainCreated = false;
      }
    }).catch(() => {});
    this.#renewal.stop();
    this.#guard?.stop();
    this.#guard = undefined;
  }

  /** For exit paths where the event loop will not run again (an uncaught error): blocking removal. */
  closeSync(): void {
    this.#closed = true;
    this.#renewal.stop();
    if (this.#chainCreated) {
      try {
        this.#iptables.removeChainSync(this.chain);
      } catch (err) {
        this.#log.warn('cannot remove the iptables chain; the guard will try', { chain: this.chain, error: (err as Error).message });
        return;
      }
      this.#ipset.destroyAgentSetsSync(this.agentId);
    }
    this.#guard?.stop();
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work, work);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #ensureChain(): Promise<void> {
    if (this.#chainCreated) return;
    try {
      // Leftovers first, so that a dead agent's rule for the same port cannot shadow ours.
      await this.#iptables.prepare();
      await cleanLeftovers(this.#iptables.families, this.#ipset, this.chain, this.#log);
      this.#guard ??= new GuardHandle(this.#iptables.ipv4.binary, this.#ipset.binary, this.chain, this.#log, this.#iptables.ip6tablesBinary);
      await this.#iptables.removeChain(this.chain);
      await this.#iptables.createChain(this.chain, this.#comment);
    } catch (err) {
      throw asRequestError(err);
    }
    this.#chainCreated = true;
    this.#log.info('iptables chain created', { chain: this.chain, guard: this.#guard.pid, ipv6: this.#iptables.ipv6 });
  }

  async #redirectPort(port: number): Promise<PortRedirect> {
    const { server, listenerPort } = await openRedirectListener(this.#iptables.ipv6);
    try {
      const rule = await this.#addRedirect(port, listenerPort);
      const redirect: PortRedirect = { port, server, listenerPort, rule, subscriptions: [] };
      server.on('connection', (socket: Socket) => this.#onConnection(redirect, socket));
      this.#ports.set(port, redirect);
      return redirect;
    } catch (err) {
      server.close();
      throw asRequestError(err);
    }
  }

  /** The port's rules, matching a fresh expiring set when this kernel and image allow it. */
  async #addRedirect(port: number, toPort: number): Promise<RedirectRule> {
    if (this.#noExpiry) return await this.#addPlainRedirect(port, toPort);
    const set = setName(this.agentId, port);
    try {
      await this.#ipset.createForPort(set, port);
      await this.#iptables.addRedirect(this.chain, { port, toPort, set }, this.#comment);
      this.#renewal.add(port, set);
      return { port, toPort, set };
    } catch (err) {
      if (err instanceof IptablesError && err.code === 'EPERM') throw err;
      await this.#iptables.removeRedirect(this.chain, { port, toPort, set }, this.#comment).catch(() => {});
      await this.#ipset.destroy(set).catch(() => {});
      // Only a plain redirect that works makes this a missing feature rather than a refusal
      // (no NET_ADMIN at all fails both ways, and says so through the plain one).
      const rule = await this.#addPlainRedirect(port, toPort);
      const message = (err as Error).message;
      this.#noExpiry = /can't open socket to ipset/i.test(message) ? `${message} (iptables' set match needs CAP_NET_RAW as well as CAP_NET_ADMIN)` : message;
      this.#log.warn('REDIRECTS WILL NOT EXPIRE BY THEMSELVES: this kernel or image cannot match an ipset with timeouts ' +
        '(needs ipset\'s bitmap:port type and iptables\' set match); only the guard process removes the redirect if the agent dies, ' +
        'and it dies too when the whole container is killed', { port, error: this.#noExpiry });
      return rule;
    }
  }

  async #addPlainRedirect(port: number, toPort: number): Promise<RedirectRule> {
    await this.#iptables.addRedirect(this.chain, { port, toPort }, this.#comment);
    return { port, toPort };
  }

  #onConnection(redirect: PortRedirect, socket: Socket): void {
    socket.on('error', () => {});
    const sub = redirect.subscriptions.at(-1);
    dispatchConnection(socket, redirect.port, sub, this.#log);
  }

  /** Puts a parked port's element back; undefined (and the port removed) when that fails. */
  async #unpark(redirect: PortRedirect): Promise<PortRedirect | undefined> {
    if (!redirect.parked) return redirect;
    clearTimeout(redirect.parked.timer);
    redirect.parked = undefined;
    try {
      await this.#ipset.renew(redirect.rule.set!, redirect.port);
    } catch (err) {
      this.#log.debug('cannot take a parked port back; making its redirect anew', { port: redirect.port, error: (err as Error).message });
      await this.#remove(redirect).catch(() => {});
      return undefined;
    }
    this.#renewal.add(redirect.port, redirect.rule.set!);
    return redirect;
  }

  /** Parks a port with no subscription left (see the file's comment); false when it cannot be. */
  async #park(redirect: PortRedirect, session: Session): Promise<boolean> {
    if (!redirect.rule.set || this.#closed) return false;
    this.#renewal.delete(redirect.port);
    if (!await this.#ipset.removeElement(redirect.rule.set, redirect.port).then(() => true, () => false)) return false;
    const timer = setTimeout(() => {
      void this.#serial(async () => { if (redirect.parked?.timer === timer) await this.#remove(redirect); })
        .catch((err: Error) => this.#log.warn('cannot remove a parked port\'s redirect', { port: redirect.port, error: err.message }));
    }, this.#parkMs);
    timer.unref();
    redirect.parked = { session, timer };
    return true;
  }

  /**
   * Ends `sub`. Returns its port's redirect when no subscription is left on it and it was not
   * parked (`park` asks for that): the caller removes it.
   */
  async #detach(sub: Subscription, park: boolean): Promise<PortRedirect | undefined> {
    if (!this.#subscriptions.delete(sub.id)) return undefined;
    sub.active = false;
    sub.stats?.stop();
    const redirect = this.#ports.get(sub.port);
    if (!redirect) return undefined;
    redirect.subscriptions = redirect.subscriptions.filter((s) => s !== sub);
    this.#log.info('port unsubscribed', { event: AgentEvent.portUnsubscribed, port: sub.port, subscription: sub.id });
    if (redirect.subscriptions.length > 0) return undefined;
    if (park && await this.#park(redirect, sub.session)) return undefined;
    return redirect;
  }

  /**
   * Removes `redirects`, each alone; or, when they are every port there is, the whole chain at
   * once (one restore per family flushes every rule), then their sets in one ipset run. Returns
   * what failed, per port.
   */
  async #removeMany(redirects: PortRedirect[]): Promise<{ port: number; error: Error }[]> {
    const errors: { port: number; error: Error }[] = [];
    const all = redirects.length > 1 && redirects.length === this.#ports.size && redirects.every((r) => this.#ports.get(r.port) === r);
    if (!all) {
      for (const r of redirects) await this.#remove(r).catch((error: Error) => errors.push({ port: r.port, error }));
      return errors;
    }
    for (const r of redirects) {
      if (r.parked) clearTimeout(r.parked.timer);
      this.#ports.delete(r.port);
      this.#renewal.delete(r.port);
    }
    const fail = (error: Error) => { for (const r of redirects) errors.push({ port: r.port, error }); };
    // Rules first, then the listeners, as in #remove.
    await this.#iptables.removeChain(this.chain).then(() => { this.#chainCreated = false; }, fail);
    for (const r of redirects) r.server.close();
    const sets = redirects.flatMap((r) => (r.rule.set ? [r.rule.set] : []));
    if (sets.length > 0 && this.#chainCreated === false) await this.#ipset.restore(sets.map((name) => `destroy ${name}`)).catch(fail);
    return errors;
  }

  /** Removes a port's rules, set and listener; with the last port, the chain. */
  async #remove(redirect: PortRedirect): Promise<void> {
    if (this.#ports.get(redirect.port) !== redirect) return;
    if (redirect.parked) clearTimeout(redirect.parked.timer);
    redirect.parked = undefined;
    this.#ports.delete(redirect.port);
    this.#renewal.delete(redirect.port);
    // Rule first, then the listener: a connection redirected in between still finds the listener,
    // which hands it to the original app since no subscription is left. The chain goes with the
    // last port even when a rule would not go, since removing the chain flushes it.
    let failure: unknown;
    try {
      await this.#iptables.removeRedirect(this.chain, redirect.rule, this.#comment);
      if (redirect.rule.set) await this.#ipset.destroy(redirect.rule.set);
    } catch (err) {
      failure = err;
    } finally {
      redirect.server.close();
    }
    if (this.#ports.size === 0 && this.#chainCreated) {
      await this.#iptables.removeChain(this.chain);
      this.#chainCreated = false;
      // The rule that would not go went with the chain; what is left to fail is its set.
      failure = undefined;
      if (redirect.rule.set) await this.#ipset.destroy(redirect.rule.set);
    }
    if (failure) throw failure;
  }
}
