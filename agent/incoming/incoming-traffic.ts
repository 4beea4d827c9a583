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
 */
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
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
import type { HttpFilter } from './http-filter.ts';
import { MirrorStats } from './mirror-notices.ts';
import { dispatchConnection } from './dispatch.ts';
import { AgentEvent, type LoggedFilter } from '../../src/sessions/agent-events.ts';

export interface IncomingOptions {
  log: AgentLog;
  /** 8 hex digits naming this agent's chain; random by default. */
  agentId?: string;
  iptables?: Iptables;
  /** ip6tables for the pod's IPv6 traffic; null for IPv4 only. Default: the system's ip6tables. */
  ip6tables?: Iptables | null;
  ipset?: Ipset;
}

/** What endSession could not undo: the ports whose rules may still be in place, and why. */
export interface CleanupFailure {
  port: number;
  error: string;
}

interface PortRedirect {
  port: number;
  server: Server;
  listenerPort: number;
  rule: RedirectRule;
  /** Oldest first; the last one gets new connections. */
  subscriptions: Subscription[];
}

export class IncomingTraffic {
  readonly agentId: string;
  readonly chain: string;
  readonly #log: AgentLog;
  readonly #iptables: RedirectRules;
  readonly #ipset: Ipset;
  readonly #renewal: RedirectRenewal;
  readonly #comment: string;
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
  }

  /** Subscriptions in force. */
  get subscriptionCount(): number {
    return this.#subscriptions.size;
  }

  /** portSubscribe, with a checked body. Throws RequestError EINVAL, EEXIST, ENOTLISTENING, EPERM, EIPTABLES, ESHUTDOWN. */
  async subscribe(session: Session, body: PortSubscribeBody): Promise<PortSubscribeAnswer> {
    const request = toSubscribeRequest(body);
    const { port } = request;
    if ([...this.#subscriptions.values()].some((s) => s.session === session && s.port === port)) {
      throw new RequestError(ResponseErrorCode.exists, `port ${port} is already subscribed by this session`);
    }
    if (!await isListening(port)) {
      throw new RequestError(ResponseErrorCode.notListening, `nothing in the pod listens on TCP port ${port} (checked /proc/net/tcp and /proc/net/tcp6); -R needs a port the target listens on`);
    }
    return this.#serial(async () => {
      if (this.#closed) throw new RequestError(ResponseErrorCode.shuttingDown, 'the agent is shutting down');
      await this.#ensureChain();
      const redirect = this.#ports.get(port) ?? await this.#redirectPort(port);
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

  /** portUnsubscribe. Throws RequestError EINVAL for a subscription this session does not hold. */
  async unsubscribe(session: Session, { subscription: id }: PortUnsubscribeBody): Promise<null> {
    const sub = this.#subscriptions.get(id);
    if (!sub || sub.session !== session) {
      throw new RequestError(ResponseErrorCode.invalid, `subscription ${id} is not one of this session's subscriptions`);
    }
    await this.#serial(() => this.#drop(sub));
    return null;
  }

  /**
   * Ends every subscription of `session` (its session ended). Removes every rule it can: a failure
   * for one port does not stop the others. Never throws; returns (and logs) the ports whose rules
   * could not be removed.
   */
  async endSession(session: Session): Promise<CleanupFailure[]> {
    const subs = [...this.#subscriptions.values()].filter((s) => s.session === session);
    if (subs.length === 0) return [];
    let errors: { port: number; error: Error }[] = [];
    await this.#serial(async () => {
      for (const sub of subs) {
        await this.#drop(sub).catch((error: Error) => errors.push({ port: sub.port, error }));
      }
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
      for (const sub of [...this.#subscriptions.values()]) await this.#drop(sub).catch((err: Error) => this.#log.warn('cleanup failed', { error: err.message }));
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
    const server = createServer({ allowHalfOpen: true, noDelay: true });
    // Every address (of both families when IPv6 is redirected too: `::` takes IPv4 as well unless
    // IPV6_V6ONLY, ipv6(7)): REDIRECT sends each connection to the primary address of the interface
    // it came in on, which differs per interface. The filter rule keeps out what was not redirected.
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: 0, host: this.#iptables.ipv6 ? '::' : '0.0.0.0', ipv6Only: false }, () => { server.off('error', reject); resolve(); });
    });
    const listenerPort = (server.address() as AddressInfo).port;
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

  async #drop(sub: Subscription): Promise<void> {
    if (!this.#subscriptions.delete(sub.id)) return;
    sub.active = false;
    sub.stats?.stop();
    const redirect = this.#ports.get(sub.port);
    if (!redirect) return;
    redirect.subscriptions = redirect.subscriptions.filter((s) => s !== sub);
    this.#log.info('port unsubscribed', { event: AgentEvent.portUnsubscribed, port: sub.port, subscription: sub.id });
    if (redirect.subscriptions.length > 0) return;
    this.#ports.delete(sub.port);
    this.#renewal.delete(sub.port);
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

function asRequestError(err: unknown): RequestError {
  if (err instanceof IptablesError) return new RequestError(err.code === 'EPERM' ? ResponseErrorCode.notPermitted : ResponseErrorCode.iptables, err.message);
  if (err instanceof RequestError) return err;
  return new RequestError(ResponseErrorCode.internal, `incoming traffic setup failed: ${(err as Error).message}`);
}

/** The filter as the port-subscribed line carries it (src/sessions/agent-events.ts). */
function describeFilter(filter: HttpFilter | undefined): LoggedFilter | undefined {
  if (!filter) return undefined;
  return { header: filter.header?.source, path: filter.path?.source, ports: [...filter.ports] };
}
