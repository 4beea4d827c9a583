/**
 * exec's port rules for a TCP bind (mirrord's feature.network.incoming, as its docs describe
 * them): which ports of the program are subscribed, which port is really bound on this machine,
 * and which pod port it stands for. Pure.
 *
 * - `ports` (only these) or `ignore_ports` (all but these) choose the program's ports;
 * - `ignore_localhost`: a socket bound to loopback stays local (nothing outside this machine could
 *   reach it anyway, so nothing should be taken from the pod for it);
 * - `listen_ports` [[port, local_port]]: the port is really bound as local_port here (the layer
 *   then falls back to a free loopback port when that is in use);
 * - `port_mapping` [[local_port, remote_port]]: the program's port receives the pod's remote_port.
 * Binding port 0 never gets here: there is no pod port to map it to (the layer keeps it local).
 */
import type { IncomingPlan } from './exec-plan.ts';

export type BindDecision =
  | { take: false; why: string }
  | { take: true; listenPort: number; remotePort: number };

function isLoopback(host: string): boolean {
  return host.startsWith('127.') || host === '::1';
}

/** @param host the address the program binds (IPv4 text for a v4-mapped one). */
export function decideBind(plan: IncomingPlan, host: string, port: number): BindDecision {
  if (plan.mode === 'off') return { take: false, why: 'feature.network.incoming is off' };
  if (plan.ports !== undefined && !plan.ports.includes(port)) return { take: false, why: `feature.network.incoming.ports does not list it` };
  if (plan.ignorePorts.includes(port)) return { take: false, why: 'feature.network.incoming.ignore_ports lists it' };
  if (plan.ignoreLocalhost && isLoopback(host)) return { take: false, why: `it is bound to ${host} and feature.network.incoming.ignore_localhost is set` };
  const listenPort = plan.listenPorts.find(([asked]) => asked === port)?.[1] ?? port;
  const remotePort = plan.portMapping.find(([local]) => local === port)?.[1] ?? port;
  return { take: true, listenPort, remotePort };
}

/**
 * The line said before a filtered steal takes a port its filter does not cover: the agent then
 * steals every request of that port, which the user may not expect.
 */
export function unfilteredWarning(plan: IncomingPlan, remotePort: number): string | undefined {
  const filter = plan.httpFilter;
  if (plan.mode !== 'steal' || !filter || filter.ports.includes(remotePort)) return undefined;
  return `port ${remotePort} is not in feature.network.incoming.http_filter.ports (${filter.ports.join(', ')}): every request to it is stolen, not only those matching the filter; add it to http_filter.ports to filter it`;
}
