/**
 * Test support: plays the CLI for the incoming-traffic tests. Connects a session to the agent,
 * pipes every stream the agent opens to the "user app" on the host (by the stream's destination
 * port), resets a stream with reason refused when the user app does not listen (as the CLI does),
 * and records the notices the agent sends.
 */
import { connect } from 'node:net';
import { once } from 'node:events';
import { ResetReason, RequestOp } from '../../../src/protocol/constants.ts';
import { Session } from '../../../src/session/session.ts';
import type { MuxStream } from '../../../src/session/stream.ts';

export class CliPeer {
  readonly session: Session;
  /** Destination port in the pod → port of the user app on 127.0.0.1. */
  readonly userPorts = new Map<number, number>();
  readonly notices: unknown[] = [];
  readonly streams: MuxStream[] = [];

  private constructor(session: Session) {
    this.session = session;
    session.on('stream', (stream: MuxStream) => this.#onStream(stream));
    session.handleRequests(async (op, body) => {
      if (op === RequestOp.notice) { this.notices.push(body); return null; }
      throw new Error(`unexpected request ${op}`);
    });
  }

  static async connect(host: string, port: number, token: Buffer): Promise<CliPeer> {
    const socket = connect({ host, port, noDelay: true });
    await once(socket, 'connect');
    return new CliPeer(await Session.connect(socket, { token, client: 'incoming-test', keepaliveMs: 60_000 }));
  }

  subscribe(body: unknown): Promise<{ subscription: number }> {
    return this.session.request(RequestOp.portSubscribe, body) as Promise<{ subscription: number }>;
  }

  unsubscribe(subscription: number): Promise<unknown> {
    return this.session.request(RequestOp.portUnsubscribe, { subscription });
  }

  #onStream(stream: MuxStream): void {
    this.streams.push(stream);
    const userPort = this.userPorts.get(stream.open.destination.port);
    if (!userPort) {
      stream.reject(ResetReason.refused, `no user app for port ${stream.open.destination.port}`);
      return;
    }
    const socket = connect({ host: '127.0.0.1', port: userPort, allowHalfOpen: true, noDelay: true });
    socket.once('connect', () => stream.accept());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (!stream.established) stream.reject(ResetReason.refused, `user app: ${err.code}`);
      else stream.destroy(err);
    });
    stream.on('error', () => socket.destroy());
    stream.pipe(socket);
    socket.pipe(stream);
  }
}
