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
  /** dnsLookup, dnsReverse: the name (or address) does not exist in the cluster; targetEnv: the agent has no target. */
  notFound: 'ENOTFOUND',
  /** dnsLookup: the cluster's resolver failed for now; asking again later may work. */
  tryAgain: 'EAI_AGAIN',
  /** portSubscribe: nothing in the pod listens on the port. */
  notListening: 'ENOTLISTENING',
  /** portSubscribe: iptables was refused (the agent lacks NET_ADMIN); targetEnv: the agent may not read the target's environment. */
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
  /**
   * A file operation failed as the system call would: the message starts with the POSIX error name
   * and a colon (`ENOENT: /etc/x does not exist in the target container`), so the asker can give
   * the program that errno. See posixErrorName.
   */
  posix: 'EPOSIX',
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

/** POSIX error names a file operation answers with (errno(3)); the agent sends no other. */
export const POSIX_ERROR_NAMES = [
  'ENOENT', 'EACCES', 'EPERM', 'ENOTDIR', 'EISDIR', 'ELOOP', 'ENAMETOOLONG', 'EFBIG', 'EINVAL', 'EIO', 'ENOMEM', 'EMFILE', 'ENFILE', 'EOVERFLOW', 'ENXIO', 'ENODEV', 'ESTALE',
] as const;
export type PosixErrorName = (typeof POSIX_ERROR_NAMES)[number];

/** The EPOSIX answer for `name`, with `message` after the name. */
export function posixError(name: PosixErrorName, message: string): RequestError {
  return new RequestError(ResponseErrorCode.posix, `${name}: ${message}`);
}

/**
 * The POSIX error name an EPOSIX answer carries (`ENOENT`...), or undefined when `err` is not an
 * EPOSIX answer or names no error this build knows (a caller then uses EIO).
 */
export function posixErrorName(err: unknown): PosixErrorName | undefined {
  if (!(err instanceof RequestError) || err.code !== ResponseErrorCode.posix) return undefined;
  const name = /^(E[A-Z0-9]+):/.exec(err.message)?.[1];
  return (POSIX_ERROR_NAMES as readonly string[]).includes(name ?? '') ? name as PosixErrorName : undefined;
}
