/**
 * The numbers the layer hands to the program: Linux errno values (from Node's os.constants, which
 * are the platform's own) and glibc's EAI_* codes for getaddrinfo (glibc resolv/netdb.h; they are
 * not errno values and Node does not export them).
 */
import { constants } from 'node:os';
import { ResetReason } from '../protocol/constants.ts';
import { posixErrorName } from '../protocol/request-errors.ts';

export function errno(name: string): number {
  return (constants.errno as Record<string, number>)[name] ?? constants.errno.EIO;
}

/** glibc netdb.h. */
export const Eai = {
  noname: -2,
  again: -3,
  fail: -4,
  family: -6,
  system: -11,
} as const;

/** The errno for a failed file request: the POSIX name the agent sent, else EIO. */
export function fileErrno(err: unknown): number {
  const name = posixErrorName(err);
  return name ? errno(name) : errno('EIO');
}

/** The errno a connect() gets for the agent's RESET reason. */
export function connectErrno(reason: number): number {
  switch (reason) {
    case ResetReason.refused: return errno('ECONNREFUSED');
    case ResetReason.hostUnreachable: return errno('EHOSTUNREACH');
    case ResetReason.networkUnreachable: return errno('ENETUNREACH');
    case ResetReason.timeout: return errno('ETIMEDOUT');
    case ResetReason.connectionReset: return errno('ECONNRESET');
    case ResetReason.notAllowed: return errno('EACCES');
    case ResetReason.dnsFailure: return errno('EHOSTUNREACH');
    default: return errno('ECONNREFUSED');
  }
}
