/**
 * kube-proxy in iptables mode, in miniature (pkg/proxy/iptables/proxier.go): for every Service port
 * a KMSB-SVC-* chain chosen from KMSB-SERVICES by ClusterIP and port, picking one KMSB-SEP-* chain
 * per endpoint with `statistic --mode random` (probability 1/n, 1/(n-1), ... so each is equally
 * likely), each DNATing to podIP:targetPort. Hairpin traffic (an endpoint reaching itself) is marked
 * and masqueraded, as KUBE-MARK-MASQ does. A port with no endpoints is REJECTed (connection refused).
 *
 * Every sync rewrites only KMSB- chains, in one `iptables-restore --noflush` (atomic per table).
 */
import { createHash } from 'node:crypto';
import type { KObject, Store } from '../contract.ts';
import { sh } from './sh.ts';
import { DNS_IP, MASQ_MARK } from './network-constants.ts';

const SYNC_DELAY_MS = 20;

interface ServicePort { key: string; clusterIP: string; port: number; protocol: string; endpoints: Array<{ ip: string; port: number }> }

function chainName(prefix: string, key: string): string {
  // Chain names are at most 28 characters; kube-proxy uses a hash for the same reason.
  return `KMSB-${prefix}-${createHash('sha256').update(key).digest('base64url').slice(0, 16).toUpperCase().replace(/[-_]/g, 'X')}`;
}

/** Joins Services with their Endpoints into one entry per ClusterIP port. */
export function servicePorts(services: KObject[], endpoints: KObject[]): ServicePort[] {
  const byKey = new Map(endpoints.map((e) => [`${e.metadata.namespace}/${e.metadata.name}`, e]));
  const out: ServicePort[] = [];
  for (const svc of services) {
    const ip = svc.spec?.clusterIP;
    if (!ip || ip === 'None' || ip === DNS_IP || ip.includes(':')) continue;
    const ep = byKey.get(`${svc.metadata.namespace}/${svc.metadata.name}`);
    for (const p of svc.spec.ports ?? []) {
      const protocol = (p.protocol ?? 'TCP').toLowerCase();
      if (protocol !== 'tcp' && protocol !== 'udp') continue;
      const eps: Array<{ ip: string; port: number }> = [];
      for (const subset of (ep?.subsets ?? []) as any[]) {
        const epPort = (subset.ports ?? []).find((x: any) => (x.name ?? '') === (p.name ?? '') && (x.protocol ?? 'TCP').toLowerCase() === protocol);
        if (!epPort) continue;
        for (const a of subset.addresses ?? []) eps.push({ ip: a.ip, port: epPort.port });
      }
      out.push({ key: `${svc.metadata.namespace}/${svc.metadata.name}:${p.name ?? ''}/${protocol}`, clusterIP: ip, port: p.port, protocol, endpoints: eps });
    }
  }
  return out;
}

/** The nat and filter iptables-restore input for `ports`, deleting the chains in `stale`. */
export function renderRules(ports: ServicePort[], stale: Set<string>): { script: string; chains: Set<string> } {
  const chains = new Set<string>();
  const natDecl = [':KMSB-SERVICES - [0:0]', ':KMSB-POSTROUTING - [0:0]', ':KMSB-MARK-MASQ - [0:0]'];
  const nat = [
    `-A KMSB-MARK-MASQ -j MARK --set-xmark ${MASQ_MARK}`,
    `-A KMSB-POSTROUTING -m mark ! --mark ${MASQ_MARK} -j RETURN`,
    // Clear the mark, so a packet re-entering the stack is not masqueraded twice (as kube-proxy does).
    `-A KMSB-POSTROUTING -j MARK --xor-mark ${MASQ_MARK.split('/')[0]}`,
    '-A KMSB-POSTROUTING -j MASQUERADE',
  ];
  const filter: string[] = [];
  for (const sp of ports) {
    const match = `-d ${sp.clusterIP}/32 -p ${sp.protocol} -m ${sp.protocol} --dport ${sp.port} -m comment --comment "${sp.key}"`;
    if (sp.endpoints.length === 0) {
      // kube-proxy answers with ICMP port-unreachable, but the kernel rate-limits ICMP per
      // destination (net.ipv4.icmp_ratelimit), so a pod's first SYNs would vanish; a TCP reset is
      // not limited and fails the connect() with the same ECONNREFUSED.
      const how = sp.protocol === 'tcp' ? 'tcp-reset' : 'icmp-port-unreachable';
      filter.push(`-A KMSB-SERVICES ${match} -j REJECT --reject-with ${how}`);
      continue;
    }
    const svcChain = chainName('SVC', sp.key);
    chains.add(svcChain);
    natDecl.push(`:${svcChain} - [0:0]`);
    nat.push(`-A KMSB-SERVICES ${match} -j ${svcChain}`);
    sp.endpoints.forEach((ep, i) => {
      const sepChain = chainName('SEP', `${sp.key}@${ep.ip}:${ep.port}`);
      chains.add(sepChain);
      natDecl.push(`:${sepChain} - [0:0]`);
      const left = sp.endpoints.length - i;
      const pick = left > 1 ? `-m statistic --mode random --probability ${(1 / left).toFixed(10)} ` : '';
      nat.push(`-A ${svcChain} ${pick}-j ${sepChain}`);
      nat.push(`-A ${sepChain} -s ${ep.ip}/32 -j KMSB-MARK-MASQ`);
      nat.push(`-A ${sepChain} -p ${sp.protocol} -m ${sp.protocol} -j DNAT --to-destination ${ep.ip}:${ep.port}`);
    });
  }
  const gone = [...stale].filter((c) => !chains.has(c));
  // A chain must be declared (which flushes it) before `-X` can delete it in the same transaction.
  natDecl.push(...gone.map((c) => `:${c} - [0:0]`));
  const script = ['*nat', ...natDecl, ...nat, ...gone.map((c) => `-X ${c}`), 'COMMIT',
    '*filter', ':KMSB-SERVICES - [0:0]', ...filter, 'COMMIT', ''].join('\n');
  return { script, chains };
}

/** Programs Services into iptables and keeps them in sync with the store. */
export class KubeProxy {
  readonly #store: Store;
  #chains = new Set<string>();
  #timer?: NodeJS.Timeout;
  #running: Promise<void> = Promise.resolve();
  #unwatch: Array<() => void> = [];

  constructor(store: Store) {
    this.#store = store;
  }

  /** Creates the base chains, the jumps from the built-in chains, and the first rule set. */
  async start(): Promise<void> {
    await this.#sync();
    const jumps = [
      '*nat',
      '-A PREROUTING -m comment --comment "kmsb service portals" -j KMSB-SERVICES',
      '-A OUTPUT -m comment --comment "kmsb service portals" -j KMSB-SERVICES',
      '-A POSTROUTING -m comment --comment "kmsb postrouting rules" -j KMSB-POSTROUTING',
      'COMMIT',
      '*filter',
      '-A FORWARD -m comment --comment "kmsb service portals" -j KMSB-SERVICES',
      '-A OUTPUT -m comment --comment "kmsb service portals" -j KMSB-SERVICES',
      'COMMIT', '',
    ].join('\n');
    await sh('iptables-restore', ['--noflush'], { input: jumps });
    const schedule = () => this.#schedule();
    this.#unwatch = [this.#store.watch('services', schedule), this.#store.watch('endpoints', schedule)];
  }

  /** Stops watching; the chains stay until cleanup. */
  stop(): void {
    for (const u of this.#unwatch) u();
    clearTimeout(this.#timer);
  }

  /** Resolves once every change seen so far is in iptables. */
  flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#running = this.#running.then(() => this.#sync());
    }
    return this.#running;
  }

  #schedule(): void {
    // Batches a burst of Service/Endpoints events into one iptables-restore.
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#running.then(() => this.#sync()).catch((err) => console.error(`kube-proxy: sync failed: ${err.message}`));
    }, SYNC_DELAY_MS);
  }

  async #sync(): Promise<void> {
    const ports = servicePorts(this.#store.list('services'), this.#store.list('endpoints'));
    const { script, chains } = renderRules(ports, this.#chains);
    await sh('iptables-restore', ['--noflush'], { input: script });
    this.#chains = chains;
  }
}
