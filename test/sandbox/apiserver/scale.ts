/**
 * The `scale` subresource (what `kubectl scale` and HPAs read and patch): an autoscaling/v1 Scale
 * view of a workload. Deployments, ReplicaSets and StatefulSets keep it at spec.replicas,
 * status.replicas and spec.selector; a custom resource at the paths its CRD declares in
 * `subresources.scale` (Argo's Rollout: `.spec.replicas`, `.status.HPAReplicas`,
 * `.status.selector`), as kube-apiserver's apiextensions scale storage reads them: a path that is
 * not set counts as 0 replicas or an empty selector.
 */
import type { KObject } from '../contract.ts';
import { readPath, writePath } from './jsonpath.ts';
import { applyPatch } from './patch.ts';
import type { Registry } from './registry.ts';
import type { ResourceInfo, ScalePaths } from './resources.ts';
import { badRequest, notFound } from './status.ts';

function matchLabelsText(obj: KObject): string {
  return Object.entries((obj.spec?.selector?.matchLabels ?? {}) as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(',');
}

function counted(value: unknown): number {
  return typeof value === 'number' && Number.isInteger(value) ? value : 0;
}

/** What the Scale says, built-in or custom. */
function scaleFields(obj: KObject, paths: ScalePaths | undefined): { spec: number; status: number; selector: string } {
  if (!paths) return { spec: obj.spec?.replicas ?? 1, status: obj.status?.replicas ?? 0, selector: matchLabelsText(obj) };
  const selector = paths.labelSelectorPath ? readPath(obj, paths.labelSelectorPath) : undefined;
  return { spec: counted(readPath(obj, paths.specReplicasPath)), status: counted(readPath(obj, paths.statusReplicasPath)), selector: typeof selector === 'string' ? selector : '' };
}

/** The Scale object for a workload of resource `r`. */
export function scaleOf(r: ResourceInfo, obj: KObject): KObject {
  const { name, namespace, uid, resourceVersion, creationTimestamp } = obj.metadata;
  const f = scaleFields(obj, r.scalePaths);
  return {
    apiVersion: 'autoscaling/v1',
    kind: 'Scale',
    metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
    spec: { replicas: f.spec },
    status: { replicas: f.status, selector: f.selector },
  };
}

/** PUT (body is a Scale) or PATCH (body patches the Scale) of `scale`; returns the new Scale. */
export function writeScale(registry: Registry, r: ResourceInfo, namespace: string | undefined, name: string, body: unknown, patchType?: string, dryRun = false): KObject {
  const obj = registry.store.get(r.plural, namespace, name);
  if (!obj) throw notFound(r.plural, name, r.group);
  const scale = patchType ? (applyPatch(patchType, scaleOf(r, obj), body) as KObject) : (body as KObject);
  const replicas = scale?.spec?.replicas;
  if (!Number.isInteger(replicas) || replicas < 0) throw badRequest(`spec.replicas must be a non-negative integer (got ${JSON.stringify(replicas)})`);
  const next = r.scalePaths ? writePath(obj, r.scalePaths.specReplicasPath, replicas) : { ...obj, spec: { ...obj.spec, replicas } };
  const updated = registry.update(r, namespace, name, next, undefined, dryRun);
  return scaleOf(r, updated);
}
