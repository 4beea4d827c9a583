/**
 * mirrord's traffic filters: `feature.network.outgoing.filter` and `feature.network.dns.filter`,
 * each `{ "remote": [...] }` or `{ "local": [...] }` (one side, never both).
 *
 * An outgoing entry is `[tcp|udp|any://]name|address|subnet/mask[:port]` (mirrord's
 * mirrord/config/src/feature/network/filter.rs); a DNS entry is the same without the protocol.
 * Port 0 (or no port) means any port, an unspecified address (`0.0.0.0`, `::`) any address, and a
 * protocol alone (`tcp://`) everything of that protocol. An IPv6 address with a port is written in
 * brackets (`[fd00::1]:53`), as mirrord and RFC 3986 write it; without a port the brackets may be
 * left out. The layer does the matching (layer/src/filter.c); this file only checks and
 * normalises what the config says, so the layer gets nothing it would have to refuse.
 */
import { isIP } from 'node:net';

export type FilterProtocol = 'any' | 'tcp' | 'udp';
export type FilterSide = 'remote' | 'local';

/** One checked entry. JSON-safe: the exec plan travels to the proxy as JSON. */
export type FilterEntry =
  | { kind: 'port'; protocol: FilterProtocol; port: number }
  | { kind: 'address'; protocol: FilterProtocol; address: string; port: number }
  | { kind: 'subnet'; protocol: FilterProtocol; address: string; prefix: number; port: number }
  | { kind: 'name'; protocol: FilterProtocol; name: string; port: number };

export interface TrafficFilter {
  /** `remote`: only matching traffic goes through the pod. `local`: matching traffic stays here. */
  side: FilterSide;
  entries: FilterEntry[];
}

export const OUTGOING_FORMS = '[tcp|udp|any://]name|address|subnet/mask[:port], e.g. "db.default", "tcp://10.0.0.0/8:5432", "udp://[fd00::1]:53", ":8080", "tcp://"';
export const DNS_FORMS = 'name|address|subnet/mask[:port], e.g. "db.default", "db:5432", "10.0.0.0/8", ":8080"';

/** Thrown by the parsers; the schema turns it into a config error naming the field. */
export class FilterEntryError extends Error {}

const NAME_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?$/;

function port(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) throw new FilterEntryError(`the port "${text}" is not a number from 0 to 65535`);
  return Number(text);
}

/** `::ffff:10.0.0.1` is the IPv4 address it maps, as the layer sees a v4-mapped destination. */
function normaliseIp(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return mapped && isIP(mapped[1]) === 4 ? mapped[1] : ip.toLowerCase();
}

function prefix(text: string, ip: string): number {
  const max = isIP(ip) === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(text) || Number(text) > max) throw new FilterEntryError(`the mask "/${text}" is not a prefix length from 0 to ${max}`);
  return Number(text);
}

function hostEntry(host: string, protocol: FilterProtocol, portNumber: number): FilterEntry {
  if (isIP(host)) return { kind: 'address', protocol, address: normaliseIp(host), port: portNumber };
  if (/^[\d.]+$/.test(host)) throw new FilterEntryError(`"${host}" is not an IPv4 address`);
  const name = host.endsWith('.') ? host.slice(0, -1) : host;
  if (name.length > 253 || !name.split('.').every((label) => label.length <= 63 && NAME_LABEL.test(label))) {
    throw new FilterEntryError(`"${host}" is not a host name (letters, digits, "-" and "_", in labels separated by dots), an IP address or a subnet`);
  }
  return { kind: 'name', protocol, name: name.toLowerCase(), port: portNumber };
}

/** The address part after the protocol. @throws FilterEntryError */
function addressPart(rest: string, protocol: FilterProtocol): FilterEntry {
  if (rest === '') return { kind: 'port', protocol, port: 0 };
  if (rest.startsWith(':') && !rest.startsWith('::')) return { kind: 'port', protocol, port: port(rest.slice(1)) };
  let host: string;
  let tail: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw new FilterEntryError('an IPv6 address opened with "[" has no "]"');
    host = rest.slice(1, close);
    if (isIP(host) !== 6) throw new FilterEntryError(`"${host}" in brackets is not an IPv6 address`);
    tail = rest.slice(close + 1);
  } else if (isIP(rest.split('/')[0]) === 6) {
    // A bare IPv6 address, or subnet, takes no port: "fd00::1:53" would be ambiguous.
    [host, tail] = [rest.split('/')[0], rest.slice(rest.split('/')[0].length)];
    if (tail.includes(':')) throw new FilterEntryError('an IPv6 address with a port is written in brackets, e.g. "[fd00::1]:53"');
  } else {
    const m = /^([^/:]*)(.*)$/.exec(rest)!;
    [host, tail] = [m[1], m[2]];
    if ((tail.match(/:/g) ?? []).length > 1) throw new FilterEntryError('an IPv6 address with a port is written in brackets, e.g. "[fd00::1]:53"');
  }
  const parts = /^(?:\/([^:]*))?(?::(.*))?$/.exec(tail);
  if (!parts) throw new FilterEntryError(`"${tail}" after "${host}" is neither "/mask" nor ":port"`);
  const [, mask, portText] = parts;
  const portNumber = portText === undefined ? 0 : port(portText);
  if (mask === undefined) return hostEntry(host, protocol, portNumber);
  if (!isIP(host)) throw new FilterEntryError(`a subnet needs an IP address before "/${mask}", not "${host}"`);
  const address = normaliseIp(host);
  const bits = prefix(mask, host);
  // A v4-mapped base counts as IPv4: ::ffff:10.0.0.0/104 is 10.0.0.0/8.
  const adjusted = address !== host.toLowerCase() && isIP(address) === 4 ? Math.max(0, bits - 96) : bits;
  return { kind: 'subnet', protocol, address, prefix: adjusted, port: portNumber };
}

/**
 * An outgoing filter entry. @throws FilterEntryError saying what is wrong with it.
 */
export function parseOutgoingEntry(text: string): FilterEntry {
  const trimmed = text.trim();
  if (trimmed === '') throw new FilterEntryError('the entry is empty');
  const scheme = /^([A-Za-z]*):\/\/(.*)$/.exec(trimmed);
  let protocol: FilterProtocol = 'any';
  let rest = trimmed;
  if (scheme) {
    const p = scheme[1].toLowerCase();
    if (p !== 'tcp' && p !== 'udp' && p !== 'any') throw new FilterEntryError(`the protocol "${scheme[1]}://" is not tcp://, udp:// or any://`);
    protocol = p;
    rest = scheme[2];
  } else if (trimmed.includes('://')) {
    throw new FilterEntryError('the protocol before "://" is not tcp, udp or any');
  }
  return addressPart(rest, protocol);
}

/** A DNS filter entry: as an outgoing one, without a protocol. @throws FilterEntryError */
export function parseDnsEntry(text: string): FilterEntry {
  const trimmed = text.trim();
  if (trimmed === '') throw new FilterEntryError('the entry is empty');
  if (trimmed.includes('://')) throw new FilterEntryError('a DNS filter entry takes no protocol (lookups are neither TCP nor UDP)');
  return addressPart(trimmed, 'any');
}

/** The entry as the user would write it (for logs and tests). */
export function entryText(e: FilterEntry): string {
  const proto = e.protocol === 'any' ? '' : `${e.protocol}://`;
  const portText = e.port ? `:${e.port}` : '';
  const ip = (a: string) => (isIP(a) === 6 ? `[${a}]` : a);
  switch (e.kind) {
    case 'port': return `${proto}${portText}`;
    case 'address': return `${proto}${ip(e.address)}${portText}`;
    case 'subnet': return `${proto}${ip(e.address)}/${e.prefix}${portText}`;
    case 'name': return `${proto}${e.name}${portText}`;
  }
}

/** What the schema's checker offers (exec-schema.ts's FieldChecker, declared here to avoid a cycle). */
interface Failer {
  fail(field: string, problem: string, accepted: string): never;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : JSON.stringify(value);
}

/**
 * Checks `{ "remote": [...] }` / `{ "local": [...] }` (a list, or one string as mirrord allows).
 * @param dns true for feature.network.dns.filter (entries take no protocol).
 * @param warn told about an empty DNS list (mirrord accepts one, with a warning).
 * @throws (through c.fail) naming the field or the entry, and the accepted forms.
 */
export function checkTrafficFilter(c: Failer, value: unknown, field: string, dns: boolean, warn: (text: string) => void): TrafficFilter | undefined {
  if (value === undefined || value === null) return undefined;
  const forms = dns ? DNS_FORMS : OUTGOING_FORMS;
  const shape = `${field} takes { "remote": [entries] } (only those through the pod) or { "local": [entries] } (those stay on this machine); entries: ${forms}`;
  if (typeof value !== 'object' || Array.isArray(value)) c.fail(field, `must be an object, got ${describe(value)}`, shape);
  const keys = Object.keys(value as object);
  const unknown = keys.find((k) => k !== 'remote' && k !== 'local');
  if (unknown !== undefined) c.fail(`${field}.${unknown}`, 'is not a known field', shape);
  if (keys.length !== 1) c.fail(field, keys.length === 0 ? 'is empty' : 'has both remote and local', shape);
  const side = keys[0] as FilterSide;
  const raw = (value as Record<string, unknown>)[side];
  const items = typeof raw === 'string' ? [raw] : Array.isArray(raw) ? raw : c.fail(`${field}.${side}`, `must be a list of entries, got ${describe(raw)}`, shape);
  if (items.length === 0) {
    if (!dns) c.fail(`${field}.${side}`, 'is an empty list', `give at least one entry, or drop ${field}; entries: ${forms}`);
    warn(`${field}.${side} is empty: every lookup resolves ${side === 'remote' ? 'on this machine' : 'in the cluster'}`);
  }
  const entries = items.map((item, i) => {
    const at = `${field}.${side}[${i}]`;
    if (typeof item !== 'string') c.fail(at, `must be a string, got ${describe(item)}`, `entries: ${forms}`);
    try {
      return dns ? parseDnsEntry(item) : parseOutgoingEntry(item);
    } catch (err) {
      if (!(err instanceof FilterEntryError)) throw err;
      return c.fail(at, `"${item}" is not a valid entry: ${err.message}`, `entries: ${forms}`);
    }
  });
  return { side, entries };
}
