/**
 * `-R` on the CLI side. For each session (the first and every one after a reconnect) it subscribes
 * every planned pod port, answers the agent's notices, and serves the streams the agent opens for
 * incoming connections: each goes to the user's app on 127.0.0.1:<local port>, spliced both ways
 * with half-close. Steal, filtered steal and mirror all look the same from here: the agent decides
 * which connections (or copies) to send.
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

/** Where the user's app listens. */
const USER_APP_HOST = '127.0.0.1';

export interface ReverseOptions {
  /** The target, for messages: `pod/web-1` (known once the target is resolved). */
  target: () => string;
  log: ConnectionLog;
  /** One line for the user (notices, re-subscribe failures). */
  say: (line: string) => void;
}

export class ReverseForwards {
  readonly plans: readonly ReversePlan[];
  readonly #byRemotePort: Map<number, ReversePlan>;
  readonly #options: ReverseOptions;
  readonly #lastDropped = new Map<number, number>();

  constructor(plans: ReversePlan[], options: ReverseOptions) {
    this.plans = plans;
    this.#byRemotePort = new Map(plans.map((p) => [p.remotePort, p]));
    this.#options = options;
  }

  /**
   * Serves the session's incoming streams and subscribes every port.
   * @throws AgentError EAGENTINCOMING when the agent cannot do incoming traffic; the mapped
   *   subscribe error (see subscribeError) when the agent refuses a port.
   */
  async attach(session: Session): Promise<void> {
    if (!(session.capabilities & Capability.incoming)) {
      throw new AgentError('EAGENTINCOMING', `the agent (${session.peerName}) cannot receive incoming traffic, which -R needs`, {
        hint: 'the agent image is too old: use the image matching this CLI (drop --agent-image / agent.image)',
      });
    }
    session.on('stream', (stream: MuxStream) => this.#serve(stream));
    session.serveRequests([route(Requests.notice, (notice) => {
      this.#onNotice(notice);
      return null;
    })]);
    for (const plan of this.plans) {
      const body: PortSubscribeBody = { port: plan.remotePort, mode: plan.mode, ...(plan.filter ? { filter: plan.filter } : {}) };
      try {
        await session.call(Requests.portSubscribe, body);
      } catch (err) {
        throw this.#subscribeError(err, plan);
      }
    }
  }

  #subscribeError(err: unknown, plan: ReversePlan): MirrordError {
    const code = (err as { code?: unknown }).code;
    const message = (err as Error).message;
    const what = `-R ${plan.remotePort} (${describeMode(plan)}) on ${this.#options.target()}`;
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
    const app = plan ? formatHostPort(USER_APP_HOST, plan.localPort) : 'your app';
    this.#options.say(`mirror of port ${notice.port}: ${notice.dropped} of ${notice.total} copies dropped so far (${app} is slow or not listening); the pod keeps answering`);
  }

  #serve(stream: MuxStream): void {
    const started = Date.now();
    const remotePort = stream.open.destination.port;
    const source = stream.open.source;
    const peer = source ? formatHostPort(source.host, source.port) : 'cluster';
    const plan = this.#byRemotePort.get(remotePort);
    const via = `-R ${remotePort}`;
    if (!plan) {
      stream.reject(ResetReason.notAllowed, `no -R for port ${remotePort} in this CLI`);
      return;
    }
    const destination = formatHostPort(USER_APP_HOST, plan.localPort);
    const log = (outcome: 'closed' | 'failed', sent: number, received: number, error?: Error, failedToConnect = false) =>
      this.#options.log({ via, listener: `-R ${remotePort}`, peer, destination, outcome, sent, received, error, failedToConnect, durationMs: Date.now() - started });
    stream.on('error', () => {});
    const socket = net.connect({ host: USER_APP_HOST, port: plan.localPort, allowHalfOpen: true, noDelay: true });
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
      stream.accept();
      void splice(socket, stream).then((r) => log(r.error ? 'failed' : 'closed', r.received, r.sent, r.error));
    });
  }
}
