import { isIPv4, isIPv6 } from 'node:net';
import { AddressType } from './constants.ts';
import { ProtocolError, ProtocolErrorCode } from './errors.ts';

/** Where a stream goes (or comes from): an IPv4 or IPv6 literal, or a hostname, and a port. */
export interface Destination {
  host: string;
  port: number;
}

/** Largest hostname, in bytes: the length is one byte, as in SOCKS5 (RFC 1928 section 5). */
export const MAX_HOSTNAME_BYTES = 255;

/**
 * Checks a destination the way both sides accept it. Returns the reason it is not acceptable, or
 * undefined. Callers that take user input use this to name the field that was wrong.
 */
export function destinationProblem(dest: Destination): string | undefined {
  if (!Number.isInteger(dest.port) || dest.port < 1 || dest.port > 65535) {
    return `port ${dest.port} is not a TCP port (1-65535)`;
  }
  if (dest.host.length === 0) return 'the host is empty';
  if (!isIPv4(dest.host) && !isIPv6(dest.host) && Buffer.byteLength(dest.host) > MAX_HOSTNAME_BYTES) {
    return `the hostname is longer than ${MAX_HOSTNAME_BYTES} bytes`;
  }
  return undefined;
}

/** Size of a destination on the wire: type u8, address, port u16. */
export function encodedDestinationSize(dest: Destination): number {
  if (isIPv4(dest.host)) return 1 + 4 + 2;
  if (isIPv6(dest.host)) return 1 + 16 + 2;
  return 1 + 1 + Buffer.byteLength(dest.host) + 2;
}

/** Writes `dest` at `offset`; returns the offset after it. The destination must be valid. */
export function writeDestination(buf: Buffer, offset: number, dest: Destination): number {
  let at = offset;
  if (isIPv4(dest.host)) {
    buf[at++] = AddressType.ipv4;
    for (const part of dest.host.split('.')) buf[at++] = Number(part);
  } else if (isIPv6(dest.host)) {
    buf[at++] = AddressType.ipv6;
    ipv6ToBytes(dest.host).copy(buf, at);
    at += 16;
  } else {
    buf[at++] = AddressType.hostname;
    const len = buf.write(dest.host, at + 1, 'utf8');
    buf[at] = len;
    at += 1 + len;
  }
  buf.writeUInt16BE(dest.port, at);
  return at + 2;
}

/** Reads a destination at `offset`. Throws a ProtocolError naming `what` when it is malformed. */
export function readDestination(buf: Buffer, offset: number, what: string): { dest: Destination; next: number } {
  const bad = (why: string) => new ProtocolError(ProtocolErrorCode.malformed, `${what}: ${why}`);
  if (offset >= buf.length) throw bad('missing address type');
  const type = buf[offset];
  let at = offset + 1;
  let host: string;
  if (type === AddressType.ipv4) {
    if (at + 4 > buf.length) throw bad('IPv4 address cut short');
    host = `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
    at += 4;
  } else if (type === AddressType.ipv6) {
    if (at + 16 > buf.length) throw bad('IPv6 address cut short');
    host = bytesToIpv6(buf.subarray(at, at + 16));
    at += 16;
  } else if (type === AddressType.hostname) {
    if (at >= buf.length) throw bad('hostname length missing');
    const len = buf[at];
    if (len === 0) throw bad('empty hostname');
    if (at + 1 + len > buf.length) throw bad('hostname cut short');
    host = buf.toString('utf8', at + 1, at + 1 + len);
    at += 1 + len;
  } else {
    throw bad(`unknown address type ${type} (expected ${AddressType.ipv4}, ${AddressType.hostname} or ${AddressType.ipv6})`);
  }
  if (at + 2 > buf.length) throw bad('port missing');
  const port = buf.readUInt16BE(at);
  if (port === 0) throw bad('port 0');
  return { dest: { host, port }, next: at + 2 };
}

/** The 16 bytes of an IPv6 literal (with `::` compression and an optional dotted IPv4 tail). */
export function ipv6ToBytes(address: string): Buffer {
  const out = Buffer.alloc(16);
  let text = address.replace(/%.*$/, '');
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4tail) {
    const [a, b, c, d] = v4tail[1].split('.').map(Number);
    text = text.slice(0, -v4tail[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** The canonical text of 16 IPv6 bytes (RFC 5952: lower case, longest zero run as `::`). */
export function bytesToIpv6(bytes: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
