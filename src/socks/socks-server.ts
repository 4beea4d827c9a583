/**
 * The SOCKS5 server. Its handshake and request parsing, and the username/password sub-negotiation
 * (RFC 1929), come from @mongodb-js/socksv5 (`lib/server.parser` and `lib/auth/*`, imported directly,
 * as a bundle must; types in socksv5-lib.d.ts). The reply is ours: the library's `Server` answers CONNECT success before we know
 * whether the agent reached the destination, and its deny can only say "not allowed" in a truncated
 * reply. Here each CONNECT opens one stream on the session, waits for 'established', and then
 * answers success, or the reply code that says why it failed. UDP ASSOCIATE is udp-association.ts.
 */
import type net from 'node:net';
import ParserClass from '@mongodb-js/socksv5/lib/server.parser.js';
import NoneAuth from '@mongodb-js/socksv5/lib/auth/None.js';
import UserPassword from '@mongodb-js/socksv5/lib/auth/UserPassword.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import { isIPv6 } from 'node:net';
import type { EventEmitter } from 'node:events';
import { formatHostPort } from '../forward/address-spec.ts';
import type { ConnectionEvent, ConnectionLog } from '../forward/connection-events.ts';
import type { SessionSource } from '../link/session-source.ts';
import { boundPort, listenTcp } from '../forward/listen.ts';
import { splice } from '../session/splice.ts';
import { encodeReply, replyForErrorCode, SocksReply } from './reply-codes.ts';
import { UdpAssociation, type AssociationOptions } from './udp-association.ts';
import type { SocksCredentials, SocksListenSpec } from './socks-spec.ts';

interface SocksRequest {
  cmd: 'connect' | 'bind' | 'udp';
  dstAddr: string;
  dstPort: number;
}

interface AuthHandler {
  METHOD: number;
  server(stream: net.Socket, done: (result: unknown) => void): void;
}

type ParserInstance = EventEmitter & { authed: boolean; start(): void; stop(): void };

const Parser = ParserClass as new (socket: net.Socket) => ParserInstance;
const NoAuth = NoneAuth as () => AuthHandler;
const UserPasswordAuth = UserPassword as (
  check: (user: string, password: string, done: (ok: boolean) => void) => void,
) => AuthHandler;

/** "No acceptable methods" (RFC 1928 section 3). */
const NO_ACCEPTABLE_METHODS = Buffer.from([0x05, 0xff]);

/** A client that has not finished method selection, authentication and its request by then is dropped. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

export interface SocksServerOptions {
  /** A SOCKS UDP association's datagram stream ends after this long idle, ms. */
  udpIdleMs?: number;
  /** Method selection, authentication and the request must be done within this long, ms. Default 10 s. */
  handshakeTimeoutMs?: number;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * Checks RFC 1929 credentials in constant time: both sides are hashed to equal-length digests
 * first (timingSafeEqual needs equal lengths, and comparing lengths would leak them), and both
 * comparisons always run, so the time taken says nothing about which part or how much matched.
 */
export function credentialsChecker(expected: SocksCredentials): (user: string, password: string) => boolean {
  const user = digest(expected.username);
  const password = digest(expected.password);
  return (givenUser, givenPassword) => {
    const userOk = timingSafeEqual(digest(givenUser), user);
    const passwordOk = timingSafeEqual(digest(givenPassword), password);
    return userOk && passwordOk;
  };
}

export class SocksServer {
  readonly spec: SocksListenSpec;
  readonly #server: net.Server;
  readonly #sockets: Set<net.Socket>;

  private constructor(spec: SocksListenSpec, server: net.Server, sockets: Set<net.Socket>) {
    this.spec = spec;
    this.#server = server;
    this.#sockets = sockets;
  }

  /**
   * Binds the server (before any agent exists, so a port in use leaves nothing behind).
   * @param credentials when set, clients must authenticate with them (RFC 1929) and no other method.
   * @throws LocalError when the port cannot be bound.
   */
  static async bind(spec: SocksListenSpec, credentials: SocksCredentials | undefined, source: SessionSource, log: ConnectionLog, options: SocksServerOptions = {}): Promise<SocksServer> {
    const udp: AssociationOptions = { idleMs: options.udpIdleMs };
    const check = credentials ? credentialsChecker(credentials) : undefined;
    const auth = check ? UserPasswordAuth((user, password, done) => done(check(user, password))) : NoAuth();
    const handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    const sockets = new Set<net.Socket>();
    const server = await listenTcp(spec.address, spec.port, `--socks ${spec.text}`, (socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      negotiate(socket, auth, handshakeTimeoutMs, (request) => {
        if (request.cmd === 'udp') void UdpAssociation.start(socket, { dstAddr: normalHost(request.dstAddr), dstPort: request.dstPort }, source, log, udp);
        else void connect(socket, request, source, log);
      });
    });
    return new SocksServer(spec, server, sockets);
  }

  /** The port actually bound. */
  get port(): number {
    return boundPort(this.#server);
  }

  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.resetAndDestroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/**
 * Method selection, authentication and the request, through the library's parser. A client that
 * stalls before its request is complete is dropped after `timeoutMs`, so idle or slow sockets
 * cannot pile up on the listener.
 */
function negotiate(socket: net.Socket, auth: AuthHandler, timeoutMs: number, onRequest: (request: SocksRequest) => void): void {
  const timer = setTimeout(() => socket.destroy(), timeoutMs);
  socket.once('close', () => clearTimeout(timer));
  const parser = new Parser(socket);
  parser.on('error', () => {
    // Not SOCKS5, or a malformed request: nothing sensible can be answered.
    if (!socket.destroyed) socket.destroy();
  });
  parser.on('methods', (methods: Buffer) => {
    if (!methods.includes(auth.METHOD)) {
      socket.end(NO_ACCEPTABLE_METHODS);
      return;
    }
    auth.server(socket, (result) => {
      if (result !== true) {
        socket.end();
        return;
      }
      parser.authed = true;
      parser.start();
    });
    socket.write(Buffer.from([0x05, auth.METHOD]));
    socket.resume();
  });
  parser.on('request', (request: SocksRequest) => {
    clearTimeout(timer);
    if (request.cmd !== 'connect' && request.cmd !== 'udp') {
      socket.end(encodeReply(SocksReply.commandNotSupported));
      return;
    }
    onRequest(request);
  });
}

/** The parser spells IPv6 in full (`fd00:0000:...`); the agent and logs get the short form. */
function normalHost(host: string): string {
  return isIPv6(host) ? new URL(`http://[${host}]/`).hostname.slice(1, -1) : host;
}

async function connect(socket: net.Socket, request: SocksRequest, source: SessionSource, log: ConnectionLog): Promise<void> {
  const started = Date.now();
  const host = normalHost(request.dstAddr);
  const destination = formatHostPort(host, request.dstPort);
  const peer = formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
  const listener = `SOCKS port ${socket.localPort ?? '?'}`;
  const event = (outcome: ConnectionEvent['outcome'], sent: number, received: number, error?: Error, failedToConnect = false) =>
    log({ via: 'socks', listener, peer, destination, outcome, sent, received, error, failedToConnect, durationMs: Date.now() - started });
  let stream;
  try {
    const session = await source.session();
    stream = session.openStream({ host, port: request.dstPort });
    await once(stream, 'established');
  } catch (err) {
    stream?.destroy();
    const code = (err as { code?: string }).code;
    if (!socket.destroyed) socket.end(encodeReply(replyForErrorCode(code)));
    event('failed', 0, 0, err instanceof Error ? err : new Error(String(err)), true);
    return;
  }
  // The client sends nothing before the reply, so while the session holds all it may queue for
  // sending (send-budget.ts), waiting here keeps the client's bytes on its own side.
  const admission = stream.sendAdmission();
  if (admission) {
    let failure: Error | undefined;
    const onError = (err: Error) => (failure = err);
    stream.on('error', onError);
    await admission;
    stream.off('error', onError);
    if (stream.destroyed) {
      // Reset (the destination closed, the session dropped) while it waited.
      const err = failure ?? new Error(`the stream to ${destination} closed while it waited for the session's send budget`);
      if (!socket.destroyed) socket.end(encodeReply(replyForErrorCode((err as { code?: string }).code)));
      event('failed', 0, 0, err, true);
      return;
    }
  }
  if (socket.destroyed) {
    stream.destroy();
    return;
  }
  socket.write(encodeReply(SocksReply.succeeded));
  const result = await splice(socket, stream);
  event(result.error ? 'failed' : 'closed', result.sent, result.received, result.error);
}
