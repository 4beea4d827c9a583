/**
 * The `-L [local_port:]host:port[/udp|/tcp]` spec of `port-forward`, and the `--address` bind address.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { UsageError } from '../errors.ts';
import type { HostKind, SpecContext } from './address-spec.ts';
import { parseHost, parsePort, specError, splitOutsideBrackets } from './address-spec.ts';

/** One `-L` forward: listen on `localPort` on the user's machine, connect to `host:port` from the agent. */
export interface ForwardSpec {
  /** The port to listen on; 0 means any free port (the summary shows which). */
  localPort: number;
  /** Destination as the agent sees it: an IP address, or a name the agent resolves in the cluster. */
  host: string;
  hostKind: HostKind;
  port: number;
  /** `tcp` (the default) or `udp` (a `/udp` suffix): the transport on both ends. */
  protocol: ForwardProtocol;
  /** The spec as the user wrote it, for messages. */
  text: string;
}

/** What a `-L` carries: TCP connections, or UDP datagrams (each local peer its own datagram stream). */
export type ForwardProtocol = 'tcp' | 'udp';

const L_ACCEPTED =
  '[local_port:]host:port[/tcp|/udp], where host is an IPv4 address, an IPv6 address in brackets or a ' +
  'hostname resolved in the cluster, e.g. 8080:ip-info:80, ip-info.default.svc:80, 9000:[fd00::1]:80, ' +
  '5353:kube-dns.kube-system:53/udp';

/** Splits off a `/tcp` or `/udp` suffix; anything else after a slash is refused by name. */
function splitProtocol(text: string, ctx: SpecContext): { rest: string; protocol: ForwardProtocol } {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return { rest: text, protocol: 'tcp' };
  const suffix = text.slice(slash + 1);
  const lower = suffix.toLowerCase();
  if (lower !== 'tcp' && lower !== 'udp') {
    throw specError(ctx, suffix === '' ? 'nothing after the /: write /tcp or /udp' : `unknown protocol '/${suffix}': only /tcp and /udp are forwarded`);
  }
  return { rest: text.slice(0, slash), protocol: lower };
}

/**
 * Parses one `-L` value.
 * @throws UsageError (code ESPEC) naming `-L`, the value and the accepted forms.
 */
export function parseForwardSpec(text: string): ForwardSpec {
  const ctx: SpecContext = { flag: '-L', value: text, accepted: L_ACCEPTED };
  if (text.trim() === '') throw specError(ctx, 'the value is empty');
  const { rest, protocol } = splitProtocol(text, ctx);
  const parts = splitOutsideBrackets(rest, ctx);
  if (parts.length === 1) throw specError(ctx, 'a port is required after the host');
  if (parts.length > 3) {
    const unbracketed = rest.includes('::') || parts.length > 4;
    throw specError(
      ctx,
      unbracketed
        ? 'too many colons: write an IPv6 address in brackets'
        : 'too many parts: to choose the listening address use --address',
    );
  }
  const [localText, hostText, portText] = parts.length === 3 ? parts : [undefined, parts[0], parts[1]];
  const port = parsePort(portText, 'the remote port', ctx);
  const localPort = localText === undefined ? port : parsePort(localText, 'the local port', ctx, true);
  const { host, kind } = parseHost(hostText, ctx);
  return { localPort, host, hostKind: kind, port, protocol, text };
}

/**
 * Parses every `-L` and refuses two forwards on the same local port and protocol (0 excepted: each
 * gets its own). A TCP and a UDP forward may share a port number, as DNS does.
 */
export function parseForwardSpecs(texts: readonly string[]): ForwardSpec[] {
  const specs = texts.map(parseForwardSpec);
  const seen = new Map<string, string>();
  for (const spec of specs) {
    if (spec.localPort === 0) continue;
    const key = `${spec.localPort}/${spec.protocol}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      throw new UsageError('ESPEC', `-L '${earlier}' and -L '${spec.text}' both listen on local ${spec.protocol.toUpperCase()} port ${spec.localPort}`, {
        hint: 'give each -L its own local port: -L 8081:host:80 -L 8082:other:80',
      });
    }
    seen.set(key, spec.text);
  }
  return specs;
}

/**
 * Parses `--address`: the IP address (or `localhost`) the -L listeners bind to.
 * @throws UsageError when it is not an IP address or `localhost`.
 */
export function parseBindAddress(text: string, flag = '--address'): string {
  const inner = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (inner === 'localhost') return '127.0.0.1';
  if (isIPv4(inner) || isIPv6(inner)) return inner;
  throw new UsageError('ESPEC', `invalid ${flag} '${text}': not an IP address`, {
    hint: `${flag} accepts an IPv4 or IPv6 address or localhost, e.g. ${flag} 127.0.0.1 or ${flag} 0.0.0.0`,
  });
}
