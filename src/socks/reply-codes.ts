/**
 * SOCKS5 reply codes (RFC 1928 section 6) and how a failed agent stream maps onto them.
 */
import { encodedDestinationSize, writeDestination, type Destination } from '../protocol/address.ts';

/** The REP field of a SOCKS5 reply. */
export const SocksReply = {
  succeeded: 0x00,
  generalFailure: 0x01,
  notAllowed: 0x02,
  networkUnreachable: 0x03,
  hostUnreachable: 0x04,
  connectionRefused: 0x05,
  ttlExpired: 0x06,
  commandNotSupported: 0x07,
  addressTypeNotSupported: 0x08,
} as const;
export type SocksReply = (typeof SocksReply)[keyof typeof SocksReply];

/**
 * Maps the Node-style code of a stream failure (StreamResetError.code, see src/protocol/errors.ts) to
 * the reply the SOCKS client gets.
 */
export function replyForErrorCode(code: string | undefined): SocksReply {
  switch (code) {
    case 'ECONNREFUSED':
      return SocksReply.connectionRefused;
    case 'EHOSTUNREACH':
      return SocksReply.hostUnreachable;
    case 'ENETUNREACH':
      return SocksReply.networkUnreachable;
    case 'ENOTFOUND':
      // RFC 1928 has no code for a failed name lookup. "Host unreachable" is what microsocks, Dante
      // and Tor send for it (curl then reports "Can't complete SOCKS5 connection ... (4)").
      return SocksReply.hostUnreachable;
    case 'ETIMEDOUT':
      // A connect that timed out: RFC 1928's "TTL expired" is the closest, and what Tor sends.
      return SocksReply.ttlExpired;
    case 'EACCES':
      return SocksReply.notAllowed;
    case 'EAFNOSUPPORT':
      return SocksReply.addressTypeNotSupported;
    default:
      return SocksReply.generalFailure;
  }
}

/**
 * A complete reply: VER, REP, RSV, then BND.ADDR and BND.PORT. For CONNECT they are 0.0.0.0:0: the
 * agent's own address for the connection is not known here, RFC 1928 lets a server send zeros, and
 * clients doing CONNECT ignore it. UDP ASSOCIATE passes the relay's address, which clients send
 * their datagrams to. (The library's own deny reply is only two bytes, which some clients reject.)
 */
export function encodeReply(reply: SocksReply, bound?: Destination): Buffer {
  if (!bound) return Buffer.from([0x05, reply, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
  const buf = Buffer.alloc(3 + encodedDestinationSize(bound));
  buf[0] = 0x05;
  buf[1] = reply;
  writeDestination(buf, 3, bound);
  return buf;
}
