/**
 * The agent's server: accepts TCP connections (through pods/portforward they arrive on the pod's
 * loopback), authenticates each as a session, and serves it. Several sessions may be open at once
 * (a reconnecting CLI overlaps its old one); a failure in one never touches the others.
 *
 * The agent exits by itself once no session has been connected for its idle timeout, so a CLI that
 * was killed with SIGKILL still leaves nothing running. A CLI whose command is over says so
 * (sessionEnd): then nothing will reconnect, and the agent exits as soon as no session is left.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Requests } from '../src/protocol/requests.ts';
import { route } from '../src/session/requests.ts';
import { Session } from '../src/session/session.ts';
import { connectOutgoing } from './outgoing.ts';
import { relayDatagrams } from './outgoing-udp.ts';
import { PodResolver, reverseLookup } from './dns.ts';
import { targetEnvironment } from './env.ts';
import { TargetFiles } from './files/target-files.ts';
import { TargetProcess } from './target-process.ts';
import { IncomingTraffic } from './incoming/incoming-traffic.ts';
import type { AgentLog } from './log.ts';
import { AGENT_NAME } from '../src/version.ts';
import { AgentEvent } from '../src/sessions/agent-events.ts';
import { GoAwayCode } from '../src/protocol/constants.ts';
import { ProtocolError, ProtocolErrorCode } from '../src/protocol/errors.ts';

export interface AgentOptions {
  host: string;
  port: number;
  /** SHA-256 of the session token, as 32 bytes. Only a client holding the token is accepted. */
  tokenSha256: Buffer;
  /** Exit after this long with no session connected, ms. */
  idleTimeoutMs: number;
  keepaliveMs?: number;
  log: AgentLog;
  /**
   * Called when the idle timeout expires (`idle`), or when the last session has closed after its
   * CLI said its command is over (`ended`).
   */
  onIdle(why: 'idle' | 'ended'): void;
  /** Name and version in WELCOME; default AGENT_NAME, with package.json's version. */
  agentName?: string;
  /** Incoming traffic (-R) for every session; by default one with a random agent id. */
  incoming?: IncomingTraffic;
  /** The target container's main process (targetEnv and the file requests); targetless by default. */
  target?: TargetProcess;
}

export class AgentServer {
  readonly #options: AgentOptions;
  readonly #server: Server;
  readonly #sessions = new Set<Session>();
  readonly #sockets = new Set<Socket>();
  readonly #incoming: IncomingTraffic;
  readonly #target: TargetProcess;
  readonly #files: TargetFiles;
  readonly #resolver: PodResolver;
  #idleTimer: NodeJS.Timeout | undefined;
  #closing = false;
  /** A CLI said its command is over (sessionEnd): the idle timeout no longer waits for a reconnect. */
  #ended = false;
  /** Numbers the accepted sessions in the log (`connection`), so a disconnect pairs with its connect. */
  #connections = 0;

  constructor(options: AgentOptions) {
    this.#options = options;
    this.#incoming = options.incoming ?? new IncomingTraffic({ log: options.log });
    this.#target = options.target ?? new TargetProcess({});
    this.#files = new TargetFiles(this.#target, options.log);
    this.#resolver = new PodResolver(this.#target);
    this.#server = createServer({ noDelay: true, allowHalfOpen: false }, (socket) => this.#onConnection(socket));
  }

  /** Starts listening; resolves with the bound address. */
  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port, this.#options.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#armIdleTimer();
    return this.#server.address() as AddressInfo;
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  /** Stops listening, removes the incoming-traffic rules, and ends every session. */
  async close(): Promise<void> {
    this.#closing = true;
    this.#disarmIdleTimer();
    await this.#incoming.close();
    await Promise.all([...this.#sessions].map((s) => s.close(1000)));
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /**
   * Told to stop (`kubectl mirrord kill`): every session gets GOAWAY `stopped`, so its CLI ends
   * instead of starting another agent; then the same as close().
   */
  async stop(why: string): Promise<void> {
    this.#options.log.info('stopping', { event: AgentEvent.agentStopping, why });
    this.#closing = true;
    this.#disarmIdleTimer();
    for (const session of this.#sessions) session.destroy(new ProtocolError(ProtocolErrorCode.transportClosed, why, GoAwayCode.stopped));
    await this.close();
  }

  /** Blocking removal of the iptables rules, for exit paths where the event loop stops (uncaught errors). */
  closeSync(): void {
    this.#incoming.closeSync();
  }

  #verifyToken = (token: Buffer): boolean => {
    const digest = createHash('sha256').update(token).digest();
    return timingSafeEqual(digest, this.#options.tokenSha256);
  };

  async #onConnection(socket: Socket): Promise<void> {
    const log = this.#options.log;
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    socket.on('error', () => {});
    let session: Session;
    try {
      session = await Session.accept(socket, {
        verifyToken: this.#verifyToken,
        agent: this.#options.agentName ?? AGENT_NAME,
        keepaliveMs: this.#options.keepaliveMs,
      });
    } catch (err) {
      log.warn('session refused', { peer: socket.remoteAddress, error: (err as Error).message });
      return;
    }
    this.#sessions.add(session);
    this.#disarmIdleTimer();
    const connection = ++this.#connections;
    log.info('client connected', { event: AgentEvent.clientConnected, connection, client: session.peerName, sessions: this.#sessions.size });
    session.on('stream', (stream) => connectOutgoing(stream, log));
    session.on('datagramStream', (stream) => relayDatagrams(stream, log));
    session.serveRequests([
      route(Requests.dnsLookup, this.#resolver.lookup),
      route(Requests.portSubscribe, (body) => this.#incoming.subscribe(session, body)),
      route(Requests.portUnsubscribe, (body) => this.#incoming.unsubscribe(session, body)),
      route(Requests.targetEnv, () => targetEnvironment(this.#target)),
      route(Requests.fileStat, (body) => this.#files.stat(body)),
      route(Requests.fileRead, (body) => this.#files.read(session, body)),
      route(Requests.dirList, (body) => this.#files.list(body)),
      route(Requests.readLink, (body) => this.#files.readLink(body)),
      route(Requests.dnsReverse, reverseLookup),
      route(Requests.sessionEnd, async () => {
        this.#ended = true;
        log.info('the client\'s command is over; exiting when no session is left', { connection });
        return null;
      }),
    ]);
    session.on('close', (err?: Error) => {
      this.#sessions.delete(session);
      this.#incoming.endSession(session).catch((e: Error) => log.warn('cannot end the session\'s subscriptions', { error: e.message }));
      log.info('client disconnected', { event: AgentEvent.clientDisconnected, connection, reason: err?.message ?? 'closed by client', sessions: this.#sessions.size });
      this.#armIdleTimer();
    });
  }

  #armIdleTimer(): void {
    // Sessions that end during close() must not start a new countdown that keeps the process alive.
    if (this.#closing || this.#sessions.size > 0) return;
    if (this.#ended) {
      this.#disarmIdleTimer();
      this.#options.onIdle('ended');
      return;
    }
    if (this.#idleTimer) return;
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined;
      if (this.#sessions.size === 0) this.#options.onIdle('idle');
    }, this.#options.idleTimeoutMs);
  }

  #disarmIdleTimer(): void {
    if (this.#idleTimer) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }
}
