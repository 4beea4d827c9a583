/**
 * The node's host-side networking: the pod bridge, forwarding, the routing backstops and the
 * cluster DNS address. `teardownHostNetwork` needs no in-memory state, so it also serves cleanup
 * after a crash.
 *
 * Why a bridge with br_netfilter: pods on one bridge talk to each other at layer 2. A reply from a
 * Service's endpoint to a client pod on the same bridge would be bridged straight back, skipping the
 * conntrack that un-DNATs it, unless `bridge-nf-call-iptables` is 1 (kube-proxy's documented
 * requirement for bridge-based networks; kubernetes.io "Network Plugins" → "Network Plugin
 * Requirements"). Hairpin (a pod reaching itself through its Service) is masqueraded as kube-proxy
 * does (KUBE-MARK-MASQ for `-s <endpoint>`), see kube-proxy.ts.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { sh } from './sh.ts';
import {
  BACKSTOP_METRIC, BRIDGE, DNS_IP, GATEWAY_IP, GATEWAY_IP6, POD_CIDR, POD_CIDR6, POD_PREFIX_LEN,
  POD_ROUTE_TABLE, POD_RULE_PRIORITY, RUN_DIR, SERVICE_CIDR,
} from './network-constants.ts';

const SYSCTLS = ['/proc/sys/net/ipv4/ip_forward', '/proc/sys/net/bridge/bridge-nf-call-iptables'];
const SAVED_SYSCTLS = `${RUN_DIR}/sysctl.json`;

/** Creates the bridge, routes, policy rule and sysctls. Call after `teardownHostNetwork`. */
export async function setupHostNetwork(): Promise<void> {
  // Backstops first: from here on no failure can route the pod or service range off the machine.
  await addBackstops();
  await saveSysctls();
  await sh('ip', ['link', 'add', BRIDGE, 'type', 'bridge']);
  await sh('ip', ['addr', 'add', `${GATEWAY_IP}/${POD_PREFIX_LEN}`, 'dev', BRIDGE]);
  await sh('ip', ['addr', 'add', `${DNS_IP}/32`, 'dev', BRIDGE]);
  await sh('ip', ['-6', 'addr', 'add', `${GATEWAY_IP6}/64`, 'dev', BRIDGE, 'nodad']);
  await sh('ip', ['link', 'set', BRIDGE, 'up']);
  // The node itself reaches ClusterIPs too (kube-proxy's OUTPUT DNAT): a route must exist for the
  // connect() to get that far. It points at the bridge, so nothing un-DNAT'd can leave the machine.
  await sh('ip', ['route', 'add', SERVICE_CIDR, 'dev', BRIDGE, 'src', GATEWAY_IP]);
  await sh('ip', ['route', 'add', POD_CIDR, 'dev', BRIDGE, 'table', String(POD_ROUTE_TABLE)]);
  // ClusterIPs go back onto the bridge: DNAT has already happened in PREROUTING, and a port with no
  // endpoints must reach kube-proxy's REJECT in FORWARD (connection refused, as in a cluster).
  await sh('ip', ['route', 'add', SERVICE_CIDR, 'dev', BRIDGE, 'table', String(POD_ROUTE_TABLE)]);
  await sh('ip', ['route', 'add', 'unreachable', 'default', 'table', String(POD_ROUTE_TABLE)]);
  await sh('ip', ['rule', 'add', 'iif', BRIDGE, 'lookup', String(POD_ROUTE_TABLE), 'priority', String(POD_RULE_PRIORITY)]);
  // Forwarding is needed for pod → ClusterIP → pod (DNAT'd on the host, then routed back out the
  // bridge). IPv6 forwarding stays off: IPv6 only ever goes pod to pod on the bridge.
  await writeFile(SYSCTLS[0], '1');
  await writeFile(SYSCTLS[1], '1');
}

async function addBackstops(): Promise<void> {
  const routes: string[][] = [
    ['route', 'replace', 'unreachable', SERVICE_CIDR, 'metric', String(BACKSTOP_METRIC)],
    ['route', 'replace', 'unreachable', POD_CIDR, 'metric', String(BACKSTOP_METRIC)],
    ['-6', 'route', 'replace', 'unreachable', POD_CIDR6, 'metric', String(BACKSTOP_METRIC)],
  ];
  for (const r of routes) await sh('ip', r);
}

async function saveSysctls(): Promise<void> {
  await mkdir(RUN_DIR, { recursive: true });
  const existing = await readFile(SAVED_SYSCTLS, 'utf8').catch(() => undefined);
  if (existing) return; // an earlier run's originals are the ones to restore
  const values: Record<string, string> = {};
  for (const path of SYSCTLS) values[path] = (await readFile(path, 'utf8')).trim();
  await writeFile(SAVED_SYSCTLS, JSON.stringify(values));
}

/** Removes the bridge, rule, table and backstops and restores sysctls. Idempotent; stateless. */
export async function teardownHostNetwork(): Promise<void> {
  await sh('ip', ['link', 'del', BRIDGE], { allowFail: true });
  for (let i = 0; i < 16; i++) {
    const removed = await sh('ip', ['rule', 'del', 'priority', String(POD_RULE_PRIORITY)]).then(() => true, () => false);
    if (!removed) break;
  }
  await sh('ip', ['route', 'flush', 'table', String(POD_ROUTE_TABLE)], { allowFail: true });
  await sh('ip', ['route', 'del', 'unreachable', SERVICE_CIDR, 'metric', String(BACKSTOP_METRIC)], { allowFail: true });
  await sh('ip', ['route', 'del', 'unreachable', POD_CIDR, 'metric', String(BACKSTOP_METRIC)], { allowFail: true });
  await sh('ip', ['-6', 'route', 'del', 'unreachable', POD_CIDR6, 'metric', String(BACKSTOP_METRIC)], { allowFail: true });
  const saved = await readFile(SAVED_SYSCTLS, 'utf8').catch(() => undefined);
  if (saved) {
    for (const [path, value] of Object.entries(JSON.parse(saved) as Record<string, string>)) {
      await writeFile(path, value).catch(() => undefined);
    }
    await rm(SAVED_SYSCTLS, { force: true });
  }
}

