import { GoAwayCode, ResetReason } from './constants.ts';

/** Stable codes of session-level failures. */
export const ProtocolErrorCode = {
  /** A frame could not be parsed: short payload, bad field, bad UTF-8 length. */
  malformed: 'EPROTO_MALFORMED',
  /** A frame type this version does not know. */
  unknownType: 'EPROTO_UNKNOWN_TYPE',
  /** A frame length above MAX_FRAME_PAYLOAD. */
  frameTooLarge: 'EPROTO_FRAME_TOO_LARGE',
  /** A frame that is valid alone but not here: data before HELLO, OPEN of a used id, ... */
  unexpected: 'EPROTO_UNEXPECTED',
  /** The peer sent more than the window it was given. */
  windowViolation: 'EPROTO_WINDOW',
  /** The HELLO's token did not match. */
  authFailed: 'EAUTH',
  /** The peers speak different protocol versions. */
  versionMismatch: 'EVERSION',
  /** The peer stopped answering pings. */
  keepaliveTimeout: 'ETIMEDOUT',
  /** The transport closed before the session ended in order. */
  transportClosed: 'ECONNRESET',
  /** The peer sent GOAWAY with an error code. */
  peerGoAway: 'EGOAWAY',
} as const;
export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];

/** A failure of the whole session. Its message names the problem, e.g. which frame was bad. */
export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;
  /** The GOAWAY code to send the peer for this error. */
  readonly goAwayCode: GoAwayCode;

  constructor(code: ProtocolErrorCode, message: string, goAwayCode: GoAwayCode = GoAwayCode.protocolError) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
    this.goAwayCode = goAwayCode;
  }
}

/** Node-style error codes for each reset reason, so callers can treat a reset like a socket error. */
const resetCodes: Record<ResetReason, string> = {
  [ResetReason.cancelled]: 'ECANCELED',
  [ResetReason.refused]: 'ECONNREFUSED',
  [ResetReason.hostUnreachable]: 'EHOSTUNREACH',
  [ResetReason.networkUnreachable]: 'ENETUNREACH',
  [ResetReason.dnsFailure]: 'ENOTFOUND',
  [ResetReason.timeout]: 'ETIMEDOUT',
  [ResetReason.connectionReset]: 'ECONNRESET',
  [ResetReason.notAllowed]: 'EACCES',
  [ResetReason.protocolError]: 'EPROTO',
  [ResetReason.internal]: 'EINTERNAL',
  [ResetReason.goingAway]: 'ESHUTDOWN',
  [ResetReason.unsupported]: 'EAFNOSUPPORT',
};

/** The code a stream reset carries, as `code` on StreamResetError. */
export function resetReasonCode(reason: ResetReason): string {
  return resetCodes[reason] ?? 'EINTERNAL';
}

/** Maps a Node socket or DNS error code to the reset reason that best tells the peer what happened. */
export function resetReasonForErrno(code: string | undefined): ResetReason {
  switch (code) {
    case 'ECONNREFUSED': return ResetReason.refused;
    case 'EHOSTUNREACH': case 'EHOSTDOWN': return ResetReason.hostUnreachable;
    case 'ENETUNREACH': case 'ENETDOWN': case 'EADDRNOTAVAIL': return ResetReason.networkUnreachable;
    case 'ENOTFOUND': case 'EAI_AGAIN': case 'EAI_NONAME': case 'ENODATA': return ResetReason.dnsFailure;
    case 'ETIMEDOUT': case 'ETIMEOUT': return ResetReason.timeout;
    case 'ECONNRESET': case 'EPIPE': case 'ECONNABORTED': return ResetReason.connectionReset;
    case 'EACCES': case 'EPERM': return ResetReason.notAllowed;
    case 'EAFNOSUPPORT': case 'EPROTONOSUPPORT': return ResetReason.unsupported;
    default: return ResetReason.internal;
  }
}

/** A stream was reset, by the peer or by this side. `code` is Node-style (ECONNREFUSED, ...). */
export class StreamResetError extends Error {
  readonly code: string;
  readonly reason: ResetReason;
  /** True when the peer sent the reset; false when this side reset the stream. */
  readonly byPeer: boolean;

  constructor(reason: ResetReason, message: string, byPeer: boolean) {
    super(message);
    this.name = 'StreamResetError';
    this.reason = reason;
    this.code = resetReasonCode(reason);
    this.byPeer = byPeer;
  }
}
