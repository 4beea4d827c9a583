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
 * dies, by the guard.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { RequestError, ResponseErrorCode } from '../../src/protocol/request-errors.ts';
import type { PortSubscribeAnswer, PortSubscribeBody, PortUnsubscribeBody } from '../../src/protocol/requests.ts';
import type { Session } from '../../src/session/session.ts';
import type { AgentLog } from '../log.ts';
import { GuardHandle } from './guard-handle.ts';
import { Iptables, IptablesError, chainName } from './iptables.ts';
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
}

interface PortRedirect {
  port: number;
  server: Server;
  listenerPort: number;
  /** Oldest first; the last one gets new connections. */
  subscriptions: Subscription[];
}

export class IncomingTraffic {
  readonly agentId: string;
  readonly chain: string;
  readonly #log: AgentLog;
  readonly #iptables: Iptables;
  readonly #comment: string;
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
    this.#iptables = options.iptables ?? new Iptables();
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

  /** Ends every subscription of `session` (its session ended). */
  async endSession(session: Session): Promise<void> {
    const subs = [...this.#subscriptions.values()].filter((s) => s.session === session);
    if (subs.length === 0) return;
    await this.#serial(async () => {
      for (const sub of subs) await this.#drop(sub);
    });
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
    this.#guard?.stop();
    this.#guard = undefined;
  }

  /** For exit paths where the event loop will not run again (an uncaught error): blocking removal. */
  closeSync(): void {
    this.#closed = true;
    if (this.#chainCreated) {
      try {
        this.#iptables.removeChainSync(this.chain);
      } catch (err) {
        this.#log.warn('cannot remove the iptables chain; the guard will try', { chain: this.chain, error: (err as Error).message });
        return;
      }
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
      await cleanLeftovers(this.#iptables, this.chain, this.#log);
      this.#guard ??= new GuardHandle(this.#iptables.binary, this.chain, this.#log);
      await this.#iptables.removeChain(this.chain);
      await this.#iptables.createChain(this.chain, this.#comment);
    } catch (err) {
      throw asRequestError(err);
    }
    this.#chainCreated = true;
    this.#log.info('iptables chain created', { chain: this.chain, guard: this.#guard.pid });
  }

  async #redirectPort(port: number): Promise<PortRedirect> {
    const server = createServer({ allowHalfOpen: true, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '0.0.0.0', () => { server.off('error', reject); resolve(); });
    });
    const listenerPort = (server.address() as AddressInfo).port;
    const redirect: PortRedirect = { port, server, listenerPort, subscriptions: [] };
    server.on('connection', (socket: Socket) => this.#onConnection(redirect, socket));
    try {
      await this.#iptables.addRedirect(this.chain, port, listenerPort, this.#comment);
    } catch (err) {
      server.close();
      throw asRequestError(err);
    }
    this.#ports.set(port, redirect);
    return redirect;
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
    // Rule first, then the listener: a connection redirected in between still finds the listener,
    // which hands it to the original app since no subscription is left.
    try {
      await this.#iptables.removeRedirect(this.chain, sub.port, redirect.listenerPort, this.#comment);
    } finally {
      redirect.server.close();
    }
    if (this.#ports.size === 0 && this.#chainCreated) {
      await this.#iptables.removeChain(this.chain);
      this.#chainCreated = false;
    }
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
