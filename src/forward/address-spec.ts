/**
 * Parsing of the host and port pieces shared by `-L`, `--socks` and `--address`. Pure functions:
 * every failure is a `UsageError` naming the flag, the bad value and the forms that would be accepted.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { UsageError } from '../errors.ts';

/** What kind of host a spec named. Hostnames are resolved by the agent, inside the cluster. */
export type HostKind = 'ipv4' | 'ipv6' | 'hostname';

export interface ParsedHost {
  /** The host without brackets: `10.0.0.1`, `fd00::1`, `ip-info.default.svc`. */
  host: string;
  kind: HostKind;
}

/** Context for error messages: which flag, which whole value, which forms are accepted. */
export interface SpecContext {
  flag: string;
  value: string;
  accepted: string;
}

/** Throws the one error shape every spec failure uses. */
export function specError(ctx: SpecContext, problem: string): UsageError {
  return new UsageError('ESPEC', `invalid ${ctx.flag} '${ctx.value}': ${problem}`, {
    hint: `${ctx.flag} accepts ${ctx.accepted}`,
  });
}

const DIGITS = /^[0-9]+$/;

/**
 * Parses a decimal TCP port. `allowZero` lets a listening port be 0 ("any free port").
 * @throws UsageError when the text is not a decimal integer in range.
 */
export function parsePort(text: string, what: string, ctx: SpecContext, allowZero = false): number {
  if (text === '') throw specError(ctx, `${what} is empty`);
  if (!DIGITS.test(text)) throw specError(ctx, `${what} '${text}' is not a number`);
  const port = Number(text);
  const min = allowZero ? 0 : 1;
  if (port < min || port > 65535) throw specError(ctx, `${what} ${text} is out of range ${min}-65535`);
  return port;
}

// RFC 1123 section 2.1: labels of letters, digits and hyphens, not starting or ending with a hyphen,
// at most 63 characters; the whole name at most 253 characters. Underscores are accepted as well
// because cluster DNS serves SRV-style names such as `_http._tcp.svc`.
const LABEL = /^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$/;

function isHostname(text: string): boolean {
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (name.length === 0 || name.length > 253) return false;
  if (/^[0-9.]+$/.test(name)) return false; // looks like a broken IPv4 address, not a name
  return name.split('.').every((label) => LABEL.test(label));
}

/**
 * Parses a host as written in a spec: an IPv4 address, a bracketed IPv6 address (`[fd00::1]`), or a
 * hostname. A bare IPv6 address is refused when `bracketsRequired`, because its colons cannot be told
 * apart from the port separators.
 */
export function parseHost(text: string, ctx: SpecContext, bracketsRequired = true): ParsedHost {
  if (text === '') throw specError(ctx, 'the host is empty');
  if (text.startsWith('[')) {
    if (!text.endsWith(']')) throw specError(ctx, `'${text}' has no closing ']'`);
    const inner = text.slice(1, -1);
    if (!isIPv6(inner)) throw specError(ctx, `'${inner}' in brackets is not an IPv6 address`);
    return { host: inner, kind: 'ipv6' };
  }
  if (isIPv4(text)) return { host: text, kind: 'ipv4' };
  if (isIPv6(text)) {
    if (bracketsRequired) throw specError(ctx, `write the IPv6 address '${text}' in brackets: [${text}]`);
    return { host: text, kind: 'ipv6' };
  }
  if (isHostname(text)) return { host: text, kind: 'hostname' };
  throw specError(ctx, `'${text}' is neither an IPv4 address, a bracketed IPv6 address nor a hostname`);
}

/**
 * Splits `a:b:c` on the colons that are outside brackets, so `8080:[fd00::1]:80` gives
 * `['8080', '[fd00::1]', '80']`.
 * @throws UsageError when the brackets do not pair up.
 */
export function splitOutsideBrackets(text: string, ctx: SpecContext): string[] {
  const open = text.split('[').length - 1;
  const close = text.split(']').length - 1;
  if (open !== close || open > 1) throw specError(ctx, `unbalanced brackets: write an IPv6 address as [address]`);
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '[') depth++;
    else if (ch === ']') depth--;
    else if (ch === ':' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** Formats a host for display or a URL: IPv6 in brackets. */
export function formatHostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** True for 127.0.0.0/8, ::1 and `localhost`: addresses other machines cannot reach. */
export function isLoopbackAddress(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  if (isIPv4(host)) return host.startsWith('127.');
  return false;
}
