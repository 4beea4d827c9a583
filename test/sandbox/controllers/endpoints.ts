/**
 * Endpoints controller (pkg/controller/endpoint): for each Service with a selector, the pods it
 * selects that have an IP, ready ones in `addresses` and the rest in `notReadyAddresses`; named
 * targetPorts resolve against each pod's container ports, and pods resolving to the same ports
 * share a subset. Endpoints of deleted Services are removed.
 */
import type { KObject } from '../contract.ts';
import { matchesLabelSelectorObject } from '../apiserver/selectors.ts';
import type { ControllerContext } from './manager.ts';
import { isPodReady } from './pods.ts';

interface EndpointPort {
  name?: string;
  port: number;
  protocol: string;
}

/** The pod's port for a service port's targetPort (a number, or a container port's name). */
function resolvePort(pod: KObject, target: number | string): number | undefined {
  if (typeof target === 'number') return target;
  if (/^\d+$/.test(target)) return Number(target);
  for (const c of pod.spec?.containers ?? []) {
    const match = (c.ports ?? []).find((p: any) => p.name === target);
    if (match) return match.containerPort;
  }
  return undefined;
}

function subsetsFor(svc: KObject, pods: KObject[]): object[] {
  const groups = new Map<string, { ports: EndpointPort[]; addresses: object[]; notReadyAddresses: object[] }>();
  for (const pod of pods) {
    const ports: EndpointPort[] = [];
    for (const sp of svc.spec.ports ?? []) {
      const port = resolvePort(pod, sp.targetPort ?? sp.port);
      if (port !== undefined) ports.push({ ...(sp.name ? { name: sp.name } : {}), port, protocol: sp.protocol ?? 'TCP' });
    }
    const key = JSON.stringify(ports);
    const group = groups.get(key) ?? { ports, addresses: [], notReadyAddresses: [] };
    groups.set(key, group);
    const address = { ip: pod.status.podIP, nodeName: pod.spec.nodeName, targetRef: { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid } };
    (isPodReady(pod) ? group.addresses : group.notReadyAddresses).push(address);
  }
  return [...groups.values()].map((g) => {
    const subset: Record<string, unknown> = {};
    if (g.addresses.length) subset.addresses = g.addresses;
    if (g.notReadyAddresses.length) subset.notReadyAddresses = g.notReadyAddresses;
    if (g.ports.length) subset.ports = g.ports;
    return subset;
  });
}

function reconcileService(ctx: ControllerContext, svc: KObject): void {
  const selector = svc.spec?.selector;
  if (!selector || Object.keys(selector).length === 0) return;
  const pods = ctx.store.list('pods', svc.metadata.namespace)
    .filter((p) => matchesLabelSelectorObject(p.metadata.labels, { matchLabels: selector }) && p.status?.podIP && !p.metadata.deletionTimestamp && p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');
  const subsets = subsetsFor(svc, pods);
  const existing = ctx.store.get('endpoints', svc.metadata.namespace, svc.metadata.name);
  const labels = { ...(svc.metadata.labels ?? {}), 'endpoints.kubernetes.io/managed-by': 'endpoint-controller' };
  if (!existing) {
    ctx.store.create('endpoints', {
      apiVersion: 'v1', kind: 'Endpoints',
      metadata: { name: svc.metadata.name, namespace: svc.metadata.namespace, labels } as unknown as KObject["metadata"],
      ...(subsets.length ? { subsets } : {}),
    });
    return;
  }
  const next: KObject = { ...existing, metadata: { ...existing.metadata, labels } };
  if (subsets.length) next.subsets = subsets;
  else delete next.subsets;
  ctx.store.update('endpoints', next);
}

/** One pass: every selector Service's Endpoints, and removal of managed Endpoints without a Service. */
export function endpointsController(ctx: ControllerContext): void {
  for (const svc of ctx.store.list('services')) reconcileService(ctx, svc);
  for (const ep of ctx.store.list('endpoints')) {
    const managed = ep.metadata.labels?.['endpoints.kubernetes.io/managed-by'] === 'endpoint-controller';
    if (managed && !ctx.store.get('services', ep.metadata.namespace, ep.metadata.name)) ctx.store.remove('endpoints', ep.metadata.namespace, ep.metadata.name);
  }
}
