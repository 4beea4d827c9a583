/**
 * `-R` on the CLI side, and exec's incoming traffic. For each session (the first and every one
 * after a reconnect) it subscribes every planned pod port, answers the agent's notices, and serves
 * the streams the agent opens for incoming connections: each goes to the user's app on
 * <userAppHost, 127.0.0.1 by default>:<local port>, spliced both ways with half-close. Steal,
 * filtered steal and mirror all look the same from here: the agent decides which connections (or
 * copies) to send.
 *
 * -R's plans are fixed at the start. exec adds and removes plans while the session runs, as the
 * program listens and closes (add/remove); every change is serialized, so a port that is closed and
 * listened again in a loop is unsubscribed and subscribed in that order.
 *
 * A user app that is not listening gets the stream refused at once (RESET refused), so the remote
 * client's connection fails instead of hanging.
 */
import net from 'node:net';
import { Capability, ResetReason } from '../protocol/constants.ts';
import { Requests, type NoticeBody, type PortSubscribeBody } from '../protocol/requests.ts';
import { ResponseErrorCode } from '../protocol/request-errors.ts';
import { route } from '../session/requests.ts';
import type { Session } from '../session/session.ts';
import type { MuxStream } from '../session/stream.ts';
import { AgentError, ClusterError, MirrordError, UsageError } from '../errors.ts';
import { formatHostPort } from './address-spec.ts';
import type { ConnectionLog } from './connection-events.ts';
import type { ReversePlan } from './reverse-spec.ts';
import { describeMode } from './reverse-spec.ts';
import { splice } from '../session/splice.ts';
import { FILE_STREAM_DESTINATION } from '../protocol/file-requests.ts';

/** Where the user's app listens. */
const USER_APP_HOST = '127.0.0.1';

/** Sees every connection made to the user's app (exec: the accepted socket's real client). */
export interface DeliveryTracker {
  /** A connection to the user's app for `source` starts; the handle follows it. */
  connecting(source: { host: string; port: number } | undefined): { connected(socket: net.Socket): void; done(): void };
}

export interface ReverseOptions {
  /** The target, for messages: `pod/web-1` (known once the target is resolved). */
  target: () => string;
  log: ConnectionLog;
  /** One line for the user (notices, re-subscribe failures). */
  say: (line: string) => void;
  /** Follows the connections to the user's app. */
  tracker?: DeliveryTracker;
  /**
   * What a plan is called in messages: `-R 80` by default; exec says `port 80`. When set, a port
   * the agent refuses on a re-subscribe after a reconnect is said, not thrown (exec's ports come
   * and go with the program, so one refusal must not fail the reconnect of all of them).
   */
  name?: (plan: ReversePlan) => string;
}

export class ReverseForwards {
  readonly #byRemotePort: Map<number, ReversePlan>;
  readonly #options: ReverseOptions;
  readonly #lastDropped = new Map<number, number>();
  #session: Session | undefined;
  /** The subscription numbers in #session, by remote port. */
  #subscriptions = new Map<number, number>();
  /** Every add, remove and attach, in order. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(plans: ReversePlan[], options: ReverseOptions) {
    this.#byRemotePort = new Map(plans.map((p) => [p.remotePort, p]));
    this.#options = options;
  }

  /** The plans in force now. */
  get plans(): readonly ReversePlan[] {
    return [...this.#byRemotePort.values()];
  }

  /** How many ports are subscribed in the current session. */
  get subscribed(): number {
    return this.#subscriptions.size;
  }

  #serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(work, work);
    this.#queue = next.catch(() => {});
    return next;
  }

  /**
   * Serves the session's incoming streams and subscribes every port.
   * @throws AgentError EAGENTINCOMING when the agent cannot do incoming traffic; the mapped
   *   subscribe error (see subscribeError) when the agent refuses a port.
   */
  async attach(session: Session): Promise<void> {
    if (!(session.capabilities & Capability.incoming)) {
      throw new AgentError('EAGENTINCOMING', `the agent (${session.peerName}) cannot receive incoming traffic, which ${this.#options.name ? 'exec\'s incoming traffic' : '-R'} needs`, {
        hint: 'the agent image is too old: use the image matching this CLI (drop --agent-image / agent.image)',
      });
    }
    session.on('stream', (stream: MuxStream) => this.#serve(stream));
    session.serveRequests([route(Requests.notice, (notice) => {
      this.#onNotice(notice);
      return null;
    })]);
    await this.#serial(async () => {
      this.#session = session;
      this.#subscriptions = new Map();
      for (const plan of this.#byRemotePort.values()) {
        try {
          await this.#subscribe(session, plan);
        } catch (err) {
          if (!this.#options.name) throw err;
          this.#options.say(err instanceof MirrordError ? err.message : String(err));
        }
      }
    });
  }

  /**
   * Adds a plan and subscribes it in the current session (if any; else at the next attach).
   * @throws MirrordError the mapped subscribe error; the plan is then dropped.
   */
  add(plan: ReversePlan): Promise<void> {
    return this.#serial(async () => {
      this.#byRemotePort.set(plan.remotePort, plan);
      const session = this.#session;
      if (!session || session.closed) return;
      try {
        await this.#subscribe(session, plan);
      } catch (err) {
        // A session that died meanwhile is not the port's fault: the next attach subscribes it.
        if (session.closed) return;
        this.#byRemotePort.delete(plan.remotePort);
        throw err;
      }
    });
  }

  /** Drops the plan of `remotePort` and unsubscribes it. Never throws: a failure is said. */
  remove(remotePort: number): Promise<void> {
    return this.#serial(async () => {
      const plan = this.#byRemotePort.get(remotePort);
      this.#byRemotePort.delete(remotePort);
      const subscription = this.#subscriptions.get(remotePort);
      this.#subscriptions.delete(remotePort);
      const session = this.#session;
      if (subscription === undefined || !session || session.closed) return;
      try {
        await session.call(Requests.portUnsubscribe, { subscription });
      } catch (err) {
        if (!session.closed) this.#options.say(`${plan ? this.#name(plan) : `port ${remotePort}`}: unsubscribing failed: ${(err as Error).message}`);
      }
    });
  }

  async #subscribe(session: Session, plan: ReversePlan): Promise<void> {
    const body: PortSubscribeBody = { port: plan.remotePort, mode: plan.mode, ...(plan.filter ? { filter: plan.filter } : {}) };
    try {
      const { subscription } = await session.call(Requests.portSubscribe, body);
      this.#subscriptions.set(plan.remotePort, subscription);
    } catch (err) {
      throw this.#subscribeError(err, plan);
    }
  }

  #name(plan: ReversePlan): string {
    return this.#options.name ? this.#options.name(plan) : `-R ${plan.remotePort}`;
  }

  #subscribeError(err: unknown, plan: ReversePlan): MirrordError {
    const code = (err as { code?: unknown }).code;
    const message = (err as Error).message;
    const what = `${this.#name(plan)} (${describeMode(plan)}) on ${this.#options.target()}`;
    switch (code) {
      case ResponseErrorCode.notListening:
        return new ClusterError('ENOTLISTENING', `${what}: ${message}`, { hint: 'give a port the target container listens on (see its containerPort or kubectl describe pod)' });
      case ResponseErrorCode.notPermitted:
        return new ClusterError('EAGENTPERM', `${what}: the agent may not change the pod's iptables: ${message}`, { hint: 'the agent needs NET_ADMIN; a policy may have removed it (see --agent-mode job)' });
      case ResponseErrorCode.invalid:
        return new UsageError('EREVERSEFILTER', `${what}: the agent refused the subscription: ${message}`, { hint: 'check the http_filter regexes and ports in the config file' });
      default:
        return new AgentError('EREVERSE', `${what}: ${code ? `${code}: ` : ''}${message}`, { hint: 'run again with -v for details' });
    }
  }

  #onNotice(notice: NoticeBody): void {
    // A kind this CLI does not know (from a newer agent) is not an error: there is just nothing to say.
    if (notice.kind !== 'mirrorDropped') return;
    if (this.#lastDropped.get(notice.port) === notice.dropped) return;
    this.#lastDropped.set(notice.port, notice.dropped);
    const plan = this.#byRemotePort.get(notice.port);
    const app = plan ? formatHostPort(plan.userAppHost ?? USER_APP_HOST, plan.localPort) : 'your app';
    this.#options.say(`mirror of port ${notice.port}: ${notice.dropped} of ${notice.total} copies dropped so far (${app} is slow or not listening); the pod keeps answering`);
  }

  #serve(stream: MuxStream): void {
    const started = Date.now();
    const { host: destHost, port: remotePort } = stream.open.destination;
    // File streams (exec's fileRead answers) are FileStreams' own.
    if (destHost === FILE_STREAM_DESTINATION.host && remotePort === FILE_STREAM_DESTINATION.port) return;
    const source = stream.open.source;
    const peer = source ? formatHostPort(source.host, source.port) : 'cluster';
    const plan = this.#byRemotePort.get(remotePort);
    if (!plan) {
      stream.reject(ResetReason.notAllowed, this.#options.name ? `the program does not listen on port ${remotePort} now` : `no -R for port ${remotePort} in this CLI`);
      return;
    }
    const via = this.#name(plan);
    const host = plan.userAppHost ?? USER_APP_HOST;
    const destination = formatHostPort(host, plan.localPort);
    const log = (outcome: 'closed' | 'failed', sent: number, received: number, error?: Error, failedToConnect = false) =>
      this.#options.log({ via, listener: via, peer, destination, outcome, sent, received, error, failedToConnect, durationMs: Date.now() - started });
    stream.on('error', () => {});
    const tracked = this.#options.tracker?.connecting(source);
    const socket = net.connect({ host, port: plan.localPort, allowHalfOpen: true, noDelay: true });
    socket.once('close', () => tracked?.done());
    // The remote client gave up (or the session dropped) before the user's app answered.
    stream.once('close', () => {
      if (!stream.established) socket.destroy();
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (stream.established) return;
      stream.reject(ResetReason.refused, `nothing listens on ${destination} on the user's machine (${err.code ?? err.message})`);
      log('failed', 0, 0, err, true);
    });
    socket.once('connect', () => {
      tracked?.connected(socket);
      stream.accept();
      void splice(socket, stream).then((r) => log(r.error ? 'failed' : 'closed', r.received, r.sent, r.error));
    });
  }
}
