/**
 * One redirected port as IncomingTraffic keeps it (its listener, its rules, its subscriptions),
 * and the small helpers around it.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';
import { RequestError, ResponseErrorCode } from '../../src/protocol/request-errors.ts';
import type { Session } from '../../src/session/session.ts';
import type { LoggedFilter } from '../../src/sessions/agent-events.ts';
import type { HttpFilter } from './http-filter.ts';
import { IptablesError, type RedirectRule } from './iptables.ts';
import type { Subscription } from './subscription.ts';

/** How long an unsubscribed port's inert rules and listener wait for a new subscribe, ms. */
export const PARK_MS = 15_000;

export interface PortRedirect {
  port: number;
  server: Server;
  listenerPort: number;
  rule: RedirectRule;
  /** Oldest first; the last one gets new connections. */
  subscriptions: Subscription[];
  /** Set while parked: its element is out of its set, so the rules match nothing. */
  parked?: { session: Session; timer: NodeJS.Timeout };
}

/**
 * Opens the listener a port's REDIRECT points at, on a free port of every address: of both
 * families when IPv6 is redirected too (`::` takes IPv4 as well unless IPV6_V6ONLY, ipv6(7)).
 * REDIRECT sends each connection to the primary address of the interface it came in on, which
 * differs per interface; the filter rule keeps out what was not redirected (iptables.ts).
 */
export async function openRedirectListener(bothFamilies: boolean): Promise<{ server: Server; listenerPort: number }> {
  const server = createServer({ allowHalfOpen: true, noDelay: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: 0, host: bothFamilies ? '::' : '0.0.0.0', ipv6Only: false }, () => { server.off('error', reject); resolve(); });
  });
  return { server, listenerPort: (server.address() as AddressInfo).port };
}

export function asRequestError(err: unknown): RequestError {
  if (err instanceof IptablesError) return new RequestError(err.code === 'EPERM' ? ResponseErrorCode.notPermitted : ResponseErrorCode.iptables, err.message);
  if (err instanceof RequestError) return err;
  return new RequestError(ResponseErrorCode.internal, `incoming traffic setup failed: ${(err as Error).message}`);
}

/** The filter as the port-subscribed line carries it (src/sessions/agent-events.ts). */
export function describeFilter(filter: HttpFilter | undefined): LoggedFilter | undefined {
  if (!filter) return undefined;
  return { header: filter.header?.source, path: filter.path?.source, ports: [...filter.ports] };
}
