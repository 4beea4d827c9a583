/**
 * What cluster DNS answers, after the Kubernetes DNS specification
 * (github.com/kubernetes/dns/blob/master/docs/specification.md): Service A/AAAA and SRV records,
 * headless Services' endpoint records, `<a-b-c-d>.<ns>.pod.<zone>` pod records, NXDOMAIN for
 * unknown names in the zone. Outside the zone only `localhost` resolves: the sandbox has no
 * upstream resolver (no network), so everything else is NXDOMAIN, which fails fast in every client.
 */
import type { KObject, Store } from '../contract.ts';
import { CLUSTER_DOMAIN } from './network-constants.ts';
import { encodeName, RCODE, RR_TYPE, rdata, type ResourceRecord, type ResponseParts } from './dns-wire.ts';

/** CoreDNS's kubernetes plugin default TTL. */
const TTL = 5;
const ZONE = CLUSTER_DOMAIN;

function soa(): ResourceRecord {
  return { name: ZONE, type: RR_TYPE.SOA, ttl: TTL, rdata: rdata.soa(`ns.dns.${ZONE}`, `hostmaster.${ZONE}`, Math.floor(Date.now() / 1000), TTL) };
}

function addressRecords(name: string, qtype: number, ips: string[]): ResourceRecord[] {
  const out: ResourceRecord[] = [];
  for (const ip of ips) {
    const v6 = ip.includes(':');
    if (!v6 && (qtype === RR_TYPE.A || qtype === RR_TYPE.ANY)) out.push({ name, type: RR_TYPE.A, ttl: TTL, rdata: rdata.a(ip) });
    if (v6 && (qtype === RR_TYPE.AAAA || qtype === RR_TYPE.ANY)) out.push({ name, type: RR_TYPE.AAAA, ttl: TTL, rdata: rdata.aaaa(ip) });
  }
  return out;
}

function readyAddresses(store: Store, ns: string, svc: string): Array<{ ip: string; hostname?: string }> {
  const ep = store.get('endpoints', ns, svc);
  return ((ep?.subsets ?? []) as any[]).flatMap((s) => (s.addresses ?? []) as Array<{ ip: string; hostname?: string }>);
}

function serviceIps(store: Store, svc: KObject): string[] {
  const ip = svc.spec?.clusterIP;
  if (ip && ip !== 'None') return (svc.spec.clusterIPs as string[] | undefined) ?? [ip];
  return readyAddresses(store, svc.metadata.namespace!, svc.metadata.name).map((a) => a.ip);
}

type Answer = { found: boolean; records: ResourceRecord[] };

function srv(store: Store, name: string, qtype: number, labels: string[]): Answer {
  const [portLabel, protoLabel, svcName, ns] = labels;
  const svc = store.get('services', ns, svcName);
  const port = ((svc?.spec?.ports ?? []) as any[]).find((p) => `_${p.name}` === portLabel && `_${(p.protocol ?? 'TCP').toLowerCase()}` === protoLabel);
  if (!svc || !port) return { found: false, records: [] };
  if (qtype !== RR_TYPE.SRV && qtype !== RR_TYPE.ANY) return { found: true, records: [] };
  return { found: true, records: [{ name, type: RR_TYPE.SRV, ttl: TTL, rdata: rdata.srv(0, 100, port.port, `${svcName}.${ns}.svc.${ZONE}`) }] };
}

/** `labels`: the name's labels before `.svc.<zone>`. */
function svcZone(store: Store, name: string, qtype: number, labels: string[]): Answer {
  if (labels.length === 0) return { found: true, records: [] };
  if (labels.length === 1) return { found: !!store.get('namespaces', undefined, labels[0]) || store.list('services', labels[0]).length > 0, records: [] };
  if (labels.length === 4 && labels[0].startsWith('_')) return srv(store, name, qtype, labels);
  if (labels.length === 2) {
    const svc = store.get('services', labels[1], labels[0]);
    if (!svc) return { found: false, records: [] };
    if (svc.spec?.type === 'ExternalName') {
      // A CNAME to the external name; the client resolves that name itself (no upstream here).
      const target = String(svc.spec.externalName ?? '').replace(/\.$/, '');
      return { found: true, records: target ? [{ name, type: RR_TYPE.CNAME, ttl: TTL, rdata: encodeName(target) }] : [] };
    }
    return { found: true, records: addressRecords(name, qtype, serviceIps(store, svc)) };
  }
  if (labels.length === 3) {
    const hit = readyAddresses(store, labels[2], labels[1]).filter((a) => a.hostname === labels[0]);
    return { found: hit.length > 0, records: addressRecords(name, qtype, hit.map((a) => a.ip)) };
  }
  return { found: false, records: [] };
}

/** `labels`: the name's labels before `.pod.<zone>`: `[a-b-c-d, ns]`. */
function podZone(name: string, qtype: number, labels: string[]): Answer {
  if (labels.length !== 2) return { found: labels.length < 2, records: [] };
  const v4 = /^(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})$/.exec(labels[0]);
  if (!v4 || v4.slice(1).some((o) => Number(o) > 255)) return { found: false, records: [] };
  return { found: true, records: addressRecords(name, qtype, [v4.slice(1).join('.')]) };
}

/** Answers one question. `name` may carry a trailing dot and any letter case. */
export function resolve(store: Store, rawName: string, qtype: number): ResponseParts {
  const name = rawName.replace(/\.$/, '');
  const lower = name.toLowerCase();
  if (lower === 'localhost' || lower.endsWith('.localhost')) {
    // RFC 6761 section 6.3: localhost names always mean the loopback address.
    return { rcode: RCODE.NOERROR, answers: addressRecords(name, qtype, ['127.0.0.1', '::1']), authority: [], authoritative: true };
  }
  if (lower !== ZONE && !lower.endsWith(`.${ZONE}`)) return { rcode: RCODE.NXDOMAIN, answers: [], authority: [], authoritative: false };
  const labels = lower === ZONE ? [] : lower.slice(0, -ZONE.length - 1).split('.');
  let answer: Answer = { found: labels.length === 0, records: [] };
  if (labels.at(-1) === 'svc') answer = svcZone(store, name, qtype, labels.slice(0, -1));
  else if (labels.at(-1) === 'pod') answer = podZone(name, qtype, labels.slice(0, -1));
  if (labels.length === 0 && qtype === RR_TYPE.SOA) return { rcode: RCODE.NOERROR, answers: [soa()], authority: [], authoritative: true };
  return {
    rcode: answer.found ? RCODE.NOERROR : RCODE.NXDOMAIN,
    answers: answer.records,
    // The SOA in the authority section lets resolvers cache the negative answer (RFC 2308).
    authority: answer.records.length === 0 ? [soa()] : [],
    authoritative: true,
  };
}
