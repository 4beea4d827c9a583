/**
 * The `scale` subresource of Deployments, ReplicaSets and StatefulSets (what `kubectl scale` reads
 * and patches): an autoscaling/v1 Scale view of spec.replicas.
 */
import type { KObject } from '../contract.ts';
import { applyPatch } from './patch.ts';
import type { Registry } from './registry.ts';
import type { ResourceInfo } from './resources.ts';
import { badRequest, notFound } from './status.ts';

function selectorText(obj: KObject): string {
  return Object.entries((obj.spec?.selector?.matchLabels ?? {}) as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(',');
}

/** The Scale object for a workload. */
export function scaleOf(obj: KObject): KObject {
  const { name, namespace, uid, resourceVersion, creationTimestamp } = obj.metadata;
  return {
    apiVersion: 'autoscaling/v1',
    kind: 'Scale',
    metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
    spec: { replicas: obj.spec?.replicas ?? 1 },
    status: { replicas: obj.status?.replicas ?? 0, selector: selectorText(obj) },
  };
}

/** PUT (body is a Scale) or PATCH (body patches the Scale) of `scale`; returns the new Scale. */
export function writeScale(registry: Registry, r: ResourceInfo, namespace: string | undefined, name: string, body: unknown, patchType?: string, dryRun = false): KObject {
  const obj = registry.store.get(r.plural, namespace, name);
  if (!obj) throw notFound(r.plural, name, r.group);
  const scale = patchType ? (applyPatch(patchType, scaleOf(obj), body) as KObject) : (body as KObject);
  const replicas = scale?.spec?.replicas;
  if (!Number.isInteger(replicas) || replicas < 0) throw badRequest(`spec.replicas must be a non-negative integer (got ${JSON.stringify(replicas)})`);
  const updated = registry.update(r, namespace, name, { ...obj, spec: { ...obj.spec, replicas } }, undefined, dryRun);
  return scaleOf(updated);
}
