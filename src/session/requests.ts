/**
 * REQUEST and RESPONSE on a session: the asking side numbers its requests and waits for each answer;
 * the answering side routes each op to its handler, after checking the body against the op's
 * contract (src/protocol/requests.ts) and the capability the op needs. The session owns the frames;
 * this file owns the bookkeeping, so session.ts stays about streams.
 */
import { Capability, ResponseStatus } from '../protocol/constants.ts';
import { ProtocolError, ProtocolErrorCode } from '../protocol/errors.ts';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../protocol/frames.ts';
import { RequestError, ResponseErrorCode } from '../protocol/request-errors.ts';
import { contractFor, type RequestContract } from '../protocol/requests.ts';
import type { RequestOp } from '../protocol/constants.ts';

/** A request handler on the answering side. Throw a RequestError (or an Error with a `code`) to answer with an error. */
export type RequestHandler = (op: number, body: unknown) => Promise<unknown>;

/** One op a side answers: its contract and the function that answers a checked body. */
export interface Route<Body = unknown, Answer = unknown> {
  contract: RequestContract<Body, Answer>;
  answer(body: Body): Promise<Answer> | Answer;
}

/** Pairs a contract with its answering function, keeping the body's type. */
export function route<Body, Answer>(contract: RequestContract<Body, Answer>, answer: (body: Body) => Promise<Answer> | Answer): Route {
  return { contract, answer } as Route;
}

function capabilityName(bit: number): string {
  return Object.entries(Capability).find(([, v]) => v === bit)?.[0] ?? `bit ${Math.log2(bit)}`;
}

/**
 * A handler that answers `routes`: an op without a route is ENOTSUP, an op whose capability the
 * handshake did not agree is ENOTSUP, and a body that breaks the op's contract is EINVAL naming the
 * field. `side` names this end in messages ("agent", "CLI").
 */
export function routeRequests(routes: readonly Route[], capabilities: number, side: string): RequestHandler {
  const byOp = new Map(routes.map((r) => [r.contract.op as number, r]));
  return async (op, body) => {
    const found = byOp.get(op);
    if (!found) {
      const known = contractFor(op);
      throw new RequestError(ResponseErrorCode.notSupported, `request op ${op}${known ? ` (${known.name})` : ''} is not supported by this ${side}`);
    }
    const { contract } = found;
    if (contract.capability && !(capabilities & contract.capability)) {
      throw new RequestError(ResponseErrorCode.notSupported,
        `${contract.name} needs capability ${capabilityName(contract.capability)}, which the handshake did not agree`);
    }
    return await found.answer(contract.checkBody(body));
  };
}

interface Pending {
  resolve(body: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout | undefined;
}

/** How long a request waits for its answer unless the session or the call says otherwise, ms. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * The peer sent no answer to a request in time. Pings may still flow (a stalled handler, a hung
 * iptables), so keepalive alone would wait forever. `op` names the request.
 */
export class RequestTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  readonly op: string;
  readonly timeoutMs: number;

  constructor(op: string, peer: string, timeoutMs: number) {
    super(`the ${peer} did not answer ${op} within ${formatSeconds(timeoutMs)}`);
    this.name = 'RequestTimeoutError';
    this.op = op;
    this.timeoutMs = timeoutMs;
  }
}

function formatSeconds(ms: number): string {
  return ms >= 1000 ? `${+(ms / 1000).toFixed(1)} s` : `${ms} ms`;
}

/** The op's name for messages: `portSubscribe`, else `request op 42`. */
function opName(op: number): string {
  return contractFor(op)?.name ?? `request op ${op}`;
}

/** The request bookkeeping of one session. `send` queues a control frame. */
export class RequestTable {
  readonly #send: (frame: Buffer) => void;
  readonly #side: string;
  readonly #pending = new Map<number, Pending>();
  /** Ids given up on: their answer may still come, and is then dropped rather than a protocol error. */
  readonly #timedOut = new Set<number>();
  readonly #defaultTimeoutMs: number;
  #nextId = 1;
  #handler: RequestHandler | undefined;

  /**
   * @param side this end's name in messages ("CLI", "agent").
   * @param defaultTimeoutMs how long a request waits for its answer; 0 waits for ever.
   */
  constructor(send: (frame: Buffer) => void, side: string, defaultTimeoutMs = DEFAULT_REQUEST_TIMEOUT_MS) {
    this.#send = send;
    this.#side = side;
    this.#defaultTimeoutMs = defaultTimeoutMs;
  }

  /**
   * Sends a request and resolves with the peer's answer, unchecked. Rejects with a RequestError,
   * or a RequestTimeoutError after `timeoutMs` (default: the table's) without an answer.
   */
  request(op: RequestOp, body: unknown, timeoutMs = this.#defaultTimeoutMs): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = timeoutMs > 0 ? setTimeout(() => {
        this.#pending.delete(id);
        this.#timedOut.add(id);
        reject(new RequestTimeoutError(opName(op), this.#side === 'CLI' ? 'agent' : 'CLI', timeoutMs));
      }, timeoutMs) : undefined;
      this.#pending.set(id, { resolve, reject, timer });
      this.#send(encodeRequest(id, op, body));
    });
  }

  setHandler(handler: RequestHandler): void {
    this.#handler = handler;
  }

  /** A REQUEST frame arrived: answer it (once, always). */
  onRequest(id: number, payload: Buffer): void {
    const { op, body } = decodeRequest(payload);
    const handler = this.#handler;
    const answer = handler
      ? handler(op, body)
      : Promise.reject(new RequestError(ResponseErrorCode.notSupported, `request op ${op} is not supported by this ${this.#side}`));
    answer.then(
      (result) => this.#send(encodeResponse(id, ResponseStatus.ok, result ?? null)),
      (err: Error & { code?: string }) => this.#send(encodeResponse(id, ResponseStatus.error, {
        code: err.code ?? ResponseErrorCode.internal,
        message: err.message,
      })),
    );
  }

  /** A RESPONSE frame arrived. One for an id never sent, or already answered, breaks the protocol. */
  onResponse(id: number, payload: Buffer): void {
    const pending = this.#pending.get(id);
    if (!pending && this.#timedOut.delete(id)) return;
    if (!pending) throw new ProtocolError(ProtocolErrorCode.unexpected, `RESPONSE to request ${id}, which was never sent or already answered`);
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    const { status, body } = decodeResponse(payload);
    if (status === ResponseStatus.ok) pending.resolve(body);
    else pending.reject(RequestError.fromAnswer(body));
  }

  /** The session ended: every request still waiting fails with `err`. */
  rejectAll(err: Error): void {
    for (const pending of this.#pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(err);
    }
    this.#pending.clear();
    this.#timedOut.clear();
  }
}
