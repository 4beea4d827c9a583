/**
 * The `--socks [addr:]port` listen spec and the `--socks-auth user:pass` credentials.
 */
import { UsageError } from '../errors.ts';
import type { SpecContext } from '../forward/address-spec.ts';
import { parseHost, parsePort, specError, splitOutsideBrackets } from '../forward/address-spec.ts';

/** Where the SOCKS5 server listens on the user's machine. */
export interface SocksListenSpec {
  /** IP address to bind; `localhost` is turned into 127.0.0.1. */
  address: string;
  /** 0 means any free port. */
  port: number;
  text: string;
}

/** RFC 1929 username/password. */
export interface SocksCredentials {
  username: string;
  password: string;
}

const SOCKS_ACCEPTED =
  '[address:]port, where address is an IPv4 address, an IPv6 address in brackets or localhost, ' +
  'e.g. 1080, 127.0.0.1:1080, [::1]:1080';

/**
 * Parses a `--socks` value (also the positional argument of `kubectl mirrord socks`).
 * @param defaultAddress the bind address when the spec names none (the `--address` value).
 * @throws UsageError (code ESPEC) naming the flag.
 */
export function parseSocksSpec(text: string, defaultAddress: string, flag = '--socks'): SocksListenSpec {
  const ctx: SpecContext = { flag, value: text, accepted: SOCKS_ACCEPTED };
  if (text.trim() === '') throw specError(ctx, 'the value is empty');
  const parts = splitOutsideBrackets(text, ctx);
  if (parts.length === 1) return { address: defaultAddress, port: parsePort(parts[0], 'the port', ctx, true), text };
  if (parts.length > 2) throw specError(ctx, 'too many colons: write an IPv6 address in brackets');
  const port = parsePort(parts[1], 'the port', ctx, true);
  if (parts[0] === 'localhost') return { address: '127.0.0.1', port, text };
  const host = parseHost(parts[0], ctx);
  if (host.kind === 'hostname') throw specError(ctx, `'${parts[0]}' is not an IP address or localhost`);
  return { address: host.host, port, text };
}

/**
 * Parses `--socks-auth user:pass` (or the KUBECTL_MIRRORD_SOCKS_AUTH variable). The first colon
 * separates the two, so the password may contain colons. RFC 1929 limits each to 1-255 bytes.
 * @throws UsageError (code ESOCKSAUTH).
 */
export function parseSocksAuth(text: string, source = '--socks-auth'): SocksCredentials {
  const colon = text.indexOf(':');
  const hint = `${source} accepts user:password, each 1 to 255 bytes (RFC 1929)`;
  if (colon < 0) throw new UsageError('ESOCKSAUTH', `invalid ${source}: no ':' between user and password`, { hint });
  const username = text.slice(0, colon);
  const password = text.slice(colon + 1);
  for (const [what, value] of [['user', username], ['password', password]] as const) {
    const bytes = Buffer.byteLength(value);
    if (bytes === 0) throw new UsageError('ESOCKSAUTH', `invalid ${source}: the ${what} is empty`, { hint });
    if (bytes > 255) throw new UsageError('ESOCKSAUTH', `invalid ${source}: the ${what} is ${bytes} bytes long`, { hint });
  }
  return { username, password };
}
