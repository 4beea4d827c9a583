/**
 * One `-L` listener: every accepted connection becomes one stream on the shared session, opened
 * lazily (nothing is opened until a user connects). Bytes the user sends before the agent has
 * connected to the destination are sent right behind the stream's OPEN, with no round trip.
 */
import type net from 'node:net';
import { formatHostPort } from './address-spec.ts';
import type { ForwardSpec } from './forward-spec.ts';
import { boundPort, listenTcp } from './listen.ts';
import { splice } from '../session/splice.ts';
import type { SessionSource } from '../link/session-source.ts';
import type { ConnectionEvent, ConnectionLog } from './connection-events.ts';

export class LocalForward {
  readonly spec: ForwardSpec;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();

  private constructor(spec: ForwardSpec, server: net.Server, sockets: Set<net.Socket>) {
    this.spec = spec;
    this.#server = server;
    this.#sockets = sockets;
  }

  /**
   * Binds the listener (so a port in use fails before any agent exists) and serves connections
   * through `source`.
   * @throws LocalError when the port cannot be bound.
   */
  static async bind(spec: ForwardSpec, address: string, source: SessionSource, log: ConnectionLog): Promise<LocalForward> {
    const sockets = new Set<net.Socket>();
    const destination = formatHostPort(spec.host, spec.port);
    const server = await listenTcp(address, spec.localPort, `-L ${spec.text}`, (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      void serve(socket, spec, destination, source, log);
    });
    return new LocalForward(spec, server, sockets);
  }

  /** The port actually bound (the spec may say 0). */
  get port(): number {
    return boundPort(this.#server);
  }

  /** Stops listening and resets the connections still open. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.resetAndDestroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

async function serve(socket: net.Socket, spec: ForwardSpec, destination: string, source: SessionSource, log: ConnectionLog): Promise<void> {
  const started = Date.now();
  const peer = formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
  const listener = `port ${socket.localPort ?? spec.localPort}`;
  const event = (outcome: ConnectionEvent['outcome'], sent: number, received: number, error?: Error, failedToConnect = false) =>
    log({ via: `-L ${spec.text}`, listener, peer, destination, outcome, sent, received, error, failedToConnect, durationMs: Date.now() - started });
  socket.on('error', () => {});
  try {
    const session = await source.session();
    if (socket.destroyed) return;
    const stream = session.openStream({ host: spec.host, port: spec.port });
    const result = await splice(socket, stream);
    // A reset before 'established' is the agent's answer to the OPEN: it could not resolve or connect.
    event(result.error ? 'failed' : 'closed', result.sent, result.received, result.error, result.error !== undefined && !stream.established);
  } catch (err) {
    // No session (reconnecting too long) or the session refused to open: the user sees a reset.
    if (!socket.destroyed) socket.resetAndDestroy();
    event('failed', 0, 0, err instanceof Error ? err : new Error(String(err)), true);
  }
}
