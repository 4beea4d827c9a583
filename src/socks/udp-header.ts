/**
 * The header of every datagram between a SOCKS5 client and its UDP relay (RFC 1928 section 7):
 * RSV u16 (0), FRAG u8, ATYP, DST.ADDR, DST.PORT, then the data. The address encoding is the one
 * the session protocol also uses (src/protocol/address.ts), so it is read and written with it.
 */
import { encodedDestinationSize, readDestination, writeDestination, type Destination } from '../protocol/address.ts';

export interface SocksUdpDatagram {
  /** Fragment number; 0 for a whole datagram. This server drops any other (section 7 allows it). */
  frag: number;
  destination: Destination;
  data: Buffer;
}

/** Parses a client's datagram. Returns the reason when it is not a SOCKS UDP header. */
export function parseUdpDatagram(buf: Buffer): SocksUdpDatagram | { problem: string } {
  if (buf.length < 4) return { problem: `${buf.length} bytes, shorter than a SOCKS UDP header` };
  if (buf[0] !== 0 || buf[1] !== 0) return { problem: 'RSV is not zero' };
  try {
    const { dest, next } = readDestination(buf, 3, 'SOCKS UDP header');
    return { frag: buf[2], destination: dest, data: buf.subarray(next) };
  } catch (err) {
    return { problem: (err as Error).message };
  }
}

/** A reply datagram: the header naming where the data came from, then the data. */
export function encodeUdpDatagram(from: Destination, data: Buffer): Buffer {
  const size = 3 + encodedDestinationSize(from);
  const buf = Buffer.allocUnsafe(size + data.length);
  buf[0] = 0;
  buf[1] = 0;
  buf[2] = 0;
  writeDestination(buf, 3, from);
  data.copy(buf, size);
  return buf;
}
