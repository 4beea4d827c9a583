/**
 * Namespace lifecycle (pkg/controller/namespace) and the service-account controller's default
 * ServiceAccount: a terminating namespace has its contents deleted (pods gracefully, through the
 * node) and is removed once nothing is left in it.
 */
import type { KObject } from '../contract.ts';
import { RESOURCES } from '../apiserver/resources.ts';
import type { ControllerContext } from './manager.ts';
import { deletePod } from './pods.ts';

const NAMESPACED = RESOURCES.filter((r) => r.namespaced).map((r) => r.plural);

function ensureDefaultServiceAccount(ctx: ControllerContext, ns: KObject): void {
  if (ctx.store.get('serviceaccounts', ns.metadata.name, 'default')) return;
  ctx.store.create('serviceaccounts', {
    apiVersion: 'v1', kind: 'ServiceAccount',
    metadata: { name: "default", namespace: ns.metadata.name } as unknown as KObject["metadata"],
  });
}

/** The root CA publisher (pkg/controller/certificates/rootcacertpublisher): kube-root-ca.crt in every namespace. */
function ensureRootCa(ctx: ControllerContext, ns: KObject): void {
  if (!ctx.caCert || ctx.store.get('configmaps', ns.metadata.name, 'kube-root-ca.crt')) return;
  ctx.store.create('configmaps', {
    apiVersion: 'v1', kind: 'ConfigMap',
    metadata: { name: 'kube-root-ca.crt', namespace: ns.metadata.name, annotations: { 'kubernetes.io/description': 'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.' } } as unknown as KObject['metadata'],
    data: { 'ca.crt': ctx.caCert },
  });
}

function drain(ctx: ControllerContext, ns: KObject): void {
  const name = ns.metadata.name;
  let remaining = 0;
  for (const plural of NAMESPACED) {
    for (const obj of ctx.store.list(plural, name)) {
      remaining += 1;
      if (plural === 'pods') {
        if (!obj.metadata.deletionTimestamp) deletePod(ctx, obj);
      } else {
        ctx.store.remove(plural, name, obj.metadata.name);
        remaining -= 1;
      }
    }
  }
  if (remaining === 0) ctx.store.remove('namespaces', undefined, name);
}

/** One pass over every namespace. */
export function namespaceController(ctx: ControllerContext): void {
  for (const ns of ctx.store.list('namespaces')) {
    if (ns.metadata.deletionTimestamp) drain(ctx, ns);
    else {
      ensureDefaultServiceAccount(ctx, ns);
      ensureRootCa(ctx, ns);
    }
  }
}
