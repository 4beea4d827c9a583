/**
 * The error answers of requests: RESPONSE with status `error` carries `{code, message}`, and `code`
 * is one of this table. docs/protocol.md lists them ("Response error codes") and a test checks that
 * the two agree. New codes go at the end; a receiver keeps a code it does not know as it came.
 */

/** Every code a RESPONSE error may carry, and what each means. */
export const ResponseErrorCode = {
  /** A body field is missing or wrong; the message names the field and what is accepted. */
  invalid: 'EINVAL',
  /** The op is unknown to the answering side, or needs a capability the handshake did not agree. */
  notSupported: 'ENOTSUP',
  /** dnsLookup: the name does not exist in the cluster. */
  notFound: 'ENOTFOUND',
  /** dnsLookup: the cluster's resolver failed for now; asking again later may work. */
  tryAgain: 'EAI_AGAIN',
  /** portSubscribe: nothing in the pod listens on the port. */
  notListening: 'ENOTLISTENING',
  /** portSubscribe: iptables was refused (the agent lacks NET_ADMIN). */
  notPermitted: 'EPERM',
  /** portSubscribe: iptables failed for another reason (missing binary, bad rule); the message has its output. */
  iptables: 'EIPTABLES',
  /** portSubscribe: this session already subscribed the port. */
  exists: 'EEXIST',
  /** The answering side is shutting down and takes no new work. */
  shuttingDown: 'ESHUTDOWN',
  /** The answer did not have the shape the op's contract gives (found by the asking side). */
  badAnswer: 'EBADANSWER',
  /** Something failed inside the answering side. */
  internal: 'EINTERNAL',
} as const;
export type ResponseErrorCode = (typeof ResponseErrorCode)[keyof typeof ResponseErrorCode];

const KNOWN = new Set<string>(Object.values(ResponseErrorCode));

/** Whether `code` is one of this build's response error codes. */
export function isResponseErrorCode(code: unknown): code is ResponseErrorCode {
  return typeof code === 'string' && KNOWN.has(code);
}

/**
 * An error answer to a request: thrown by a request handler to answer with `{code, message}`, and
 * the rejection of `Session.request` when the peer answered with an error.
 */
export class RequestError extends Error {
  /** One of ResponseErrorCode; from a newer peer, possibly a code this build does not know. */
  readonly code: string;

  constructor(code: ResponseErrorCode, message: string) {
    super(message);
    this.name = 'RequestError';
    this.code = code;
  }

  /** The rejection for an error answer `{code, message}` from the peer. An unknown code is kept as it came. */
  static fromAnswer(body: unknown): RequestError {
    const { code, message } = (body ?? {}) as { code?: unknown; message?: unknown };
    const err = new RequestError(ResponseErrorCode.internal, typeof message === 'string' ? message : 'request failed');
    if (typeof code === 'string' && code.length > 0) (err as { code: string }).code = code;
    return err;
  }
}
