/**
 * Datagrams the kernel dropped on one of our UDP sockets because its receive buffer was full: they
 * never reach the process, so only the kernel can count them. Linux shows the count per socket in
 * the last column (`drops`) of /proc/net/udp and /proc/net/udp6 (net/ipv4/udp.c, udp4_format_sock:
 * `atomic_read(&sp->sk_drops)`); local_address is the address in hex, in the kernel's byte order,
 * and the port in hex. Elsewhere there is no such file and the count is unknown.
 */
import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';

/** The IPv4 address as /proc/net/udp writes it on a little-endian machine: 127.0.0.1 → 0100007F. */
function procIpv4(address: string): string {
  return address.split('.').reverse().map((part) => Number(part).toString(16).padStart(2, '0')).join('').toUpperCase();
}

/**
 * The kernel's drop count for the UDP socket bound to `address:port`, or undefined when it cannot
 * be read (not Linux, no such socket). Never throws.
 */
export function kernelDrops(address: string, port: number): number | undefined {
  const v6 = isIPv6(address);
  const portHex = port.toString(16).padStart(4, '0').toUpperCase();
  const want = v6 ? undefined : `${procIpv4(address)}:${portHex}`;
  let text: string;
  try {
    text = readFileSync(v6 ? '/proc/net/udp6' : '/proc/net/udp', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 13) continue;
    const local = fields[1];
    if (want ? local === want : local.endsWith(`:${portHex}`)) return Number(fields[fields.length - 1]);
  }
  return undefined;
}
