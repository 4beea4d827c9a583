/**
 * The one agent connection of a command, kept alive across drops. Every -L and SOCKS connection asks
 * the link for the current session; while the link reconnects, they wait (bounded) for the next one.
 *
 * On a drop the link emits 'disconnected' once, then calls `connect` again with exponential backoff
 * (the `connect` function decides whether the old agent is still there or a new one is needed), and
 * emits 'reconnected' when a session is up. With `exitOnDisconnect` it emits 'lost' instead and stops.
 * An agent that was told to stop (`kubectl mirrord kill`: GOAWAY `stopped`) ends the link for good:
 * it emits 'ended' and starts no other agent. `close()` is the command's end: it tells the agent
 * (sessionEnd) that nothing will reconnect, so the agent exits at once instead of after its idle
 * timeout (an ephemeral container cannot be deleted).
 */
import { EventEmitter } from 'node:events';
import type { Session } from '../session/session.ts';
import { AgentError, MirrordError } from '../errors.ts';
import { GoAwayCode } from '../protocol/constants.ts';
import { Requests } from '../protocol/requests.ts';
import type { SessionSource } from './session-source.ts';

/** How long close() waits for the agent to acknowledge sessionEnd, ms. */
const SESSION_END_MS = 2_000;

/** Makes a new session to an agent (re-using or replacing the agent as needed). */
export type ConnectAgent = (attempt: number) => Promise<Session>;

export interface AgentLinkOptions {
  connect: ConnectAgent;
  /** How long a new connection waits for a session while reconnecting, ms. Default 20000. */
  waitForSessionMs?: number;
  /** First and largest delay between reconnect attempts, ms. Defaults 250 and 10000. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Do not reconnect: emit 'lost' with the error when the session ends. */
  exitOnDisconnect?: boolean;
}

export interface AgentLinkEvents {
  /** The session ended unexpectedly; emitted once per drop. */
  disconnected: [err: Error | undefined];
  /** A reconnect attempt failed; the link will retry after `delayMs`. */
  retrying: [err: Error, attempt: number, delayMs: number];
  /** A new session is up. */
  reconnected: [session: Session];
  /** exitOnDisconnect: the session dropped and nothing will reconnect. */
  lost: [err: Error | undefined];
  /** The agent was stopped (`kubectl mirrord kill`); `reason` is its GOAWAY message. Nothing reconnects. */
  ended: [reason: string];
}

export class AgentLink extends EventEmitter<AgentLinkEvents> implements SessionSource {
  readonly #options: AgentLinkOptions;
  #session: Session | undefined;
  #waiters: Array<{ resolve(s: Session): void; reject(e: Error): void; timer: NodeJS.Timeout }> = [];
  #closed = false;
  #retryTimer: NodeJS.Timeout | undefined;

  constructor(options: AgentLinkOptions) {
    super();
    this.#options = options;
  }

  /** Adopts the first session (made by the caller so startup errors surface directly). */
  start(session: Session): void {
    this.#adopt(session);
  }

  /** The session now, if one is up. */
  get current(): Session | undefined {
    return this.#session;
  }

  /**
   * The live session, waiting for a reconnect if there is none.
   * @throws AgentError `ENOSESSION` when none came within `waitForSessionMs`, or the link is closed.
   */
  session(): Promise<Session> {
    if (this.#session && !this.#session.closed) return Promise.resolve(this.#session);
    if (this.#closed) return Promise.reject(new AgentError('ENOSESSION', 'the agent connection is closed'));
    const waitMs = this.#options.waitForSessionMs ?? 20_000;
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(new AgentError('ENOSESSION', `no agent connection within ${waitMs} ms (reconnecting)`));
        }, waitMs),
      };
      this.#waiters.push(waiter);
    });
  }

  /**
   * Ends the link for good (the command is over): tells the agent so (sessionEnd; an older agent
   * answers ENOTSUP and keeps its idle timeout), closes the session in order and fails every waiter.
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#failWaiters(new AgentError('ENOSESSION', 'the agent connection is closed'));
    const session = this.#session;
    this.#session = undefined;
    if (!session || session.closed) return;
    await session.call(Requests.sessionEnd, {}, { timeoutMs: SESSION_END_MS }).catch(() => {});
    await session.close(1000).catch(() => {});
  }

  #adopt(session: Session): void {
    this.#session = session;
    let stopped: string | undefined;
    session.on('goaway', ({ code, message }: { code: number; message: string }) => {
      if (code === GoAwayCode.stopped) stopped = message;
    });
    session.once('close', (err?: Error) => {
      if (stopped !== undefined) this.#onStopped(session, stopped);
      else this.#onSessionClose(session, err);
    });
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.resolve(session);
    }
  }

  #onSessionClose(session: Session, err: Error | undefined): void {
    if (this.#session !== session || this.#closed) return;
    this.#session = undefined;
    if (this.#options.exitOnDisconnect) {
      this.#closed = true;
      this.#failWaiters(new AgentError('ENOSESSION', 'the agent connection dropped'));
      this.emit('lost', err);
      return;
    }
    this.emit('disconnected', err);
    this.#scheduleReconnect(1);
  }

  #onStopped(session: Session, reason: string): void {
    if (this.#session !== session || this.#closed) return;
    this.#session = undefined;
    this.#closed = true;
    this.#failWaiters(new AgentError('ENOSESSION', `the session was ended: ${reason}`));
    this.emit('ended', reason);
  }

  #scheduleReconnect(attempt: number): void {
    const min = this.#options.minBackoffMs ?? 250;
    const max = this.#options.maxBackoffMs ?? 10_000;
    // Full jitter on an exponential base, so many CLIs reconnecting to one API server spread out.
    const delay = attempt === 1 ? 0 : Math.min(max, min * 2 ** (attempt - 2)) * (0.5 + Math.random() / 2);
    this.#retryTimer = setTimeout(() => void this.#reconnect(attempt), delay);
  }

  async #reconnect(attempt: number): Promise<void> {
    if (this.#closed) return;
    try {
      const session = await this.#options.connect(attempt);
      if (this.#closed) {
        await session.close(1000).catch(() => {});
        return;
      }
      this.#adopt(session);
      this.emit('reconnected', session);
    } catch (err) {
      if (this.#closed) return;
      const error = err instanceof Error ? err : new Error(String(err));
      const max = this.#options.maxBackoffMs ?? 10_000;
      this.emit('retrying', error, attempt, Math.min(max, (this.#options.minBackoffMs ?? 250) * 2 ** (attempt - 1)));
      if (error instanceof MirrordError && error.exitCode === 4) {
        // The cluster refuses (RBAC, admission): retrying cannot help, but listeners stay up in case
        // an admin fixes it; back off to the maximum.
        this.#scheduleReconnect(Math.max(attempt + 1, 10));
        return;
      }
      this.#scheduleReconnect(attempt + 1);
    }
  }

  #failWaiters(err: Error): void {
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(err);
    }
  }
}
