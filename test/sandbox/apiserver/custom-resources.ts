/**
 * CustomResourceDefinitions (apiextensions.k8s.io/v1), served well enough for real CRDs such as
 * Argo Rollouts': each CRD in the store adds a resource type to RESOURCES (and its group to
 * discovery) at its first served version, with the `status` and `scale` subresources it declares;
 * its objects are stored and watched like built-in ones. The scale subresource reads and writes
 * the paths the CRD declares (`specReplicasPath`, `statusReplicasPath`, `labelSelectorPath`), and
 * `kubectl get` prints its `additionalPrinterColumns` (tables.ts). The schema is not enforced (the
 * API server would prune and validate; the sandbox keeps what it is given), and only one version
 * is served (no conversion).
 */
import type { KObject } from '../contract.ts';
import { GROUPS, RESOURCES, type ResourceInfo } from './resources.ts';
import type { ObjectStore } from './store.ts';

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const BUILT_IN_GROUPS = [...GROUPS];

/** The resource a CRD defines, or undefined when it serves no version. */
export function crdResource(crd: KObject): ResourceInfo | undefined {
  const spec = crd.spec ?? {};
  const version = (spec.versions ?? []).find((v: any) => v.served && v.storage) ?? (spec.versions ?? []).find((v: any) => v.served);
  if (!version || !spec.group || !spec.names?.plural || !spec.names?.kind) return undefined;
  const sub = version.subresources ?? {};
  return {
    group: spec.group, version: version.name, plural: spec.names.plural, singular: spec.names.singular ?? spec.names.kind.toLowerCase(),
    kind: spec.names.kind, namespaced: spec.scope !== 'Cluster', verbs: ALL_VERBS,
    shortNames: spec.names.shortNames, categories: spec.names.categories, hasGeneration: true, hasStatus: sub.status !== undefined,
    subresources: [
      ...(sub.status !== undefined ? [{ name: 'status', kind: spec.names.kind, verbs: ['get', 'patch', 'update'] }] : []),
      ...(sub.scale !== undefined ? [{ name: 'scale', kind: 'Scale', verbs: ['get', 'patch', 'update'] }] : []),
    ],
    custom: true,
    ...(sub.scale !== undefined ? { scalePaths: { specReplicasPath: sub.scale.specReplicasPath, statusReplicasPath: sub.scale.statusReplicasPath, labelSelectorPath: sub.scale.labelSelectorPath } } : {}),
    printerColumns: version.additionalPrinterColumns ?? [],
  };
}

/** Makes RESOURCES and GROUPS match the CRDs in the store (called on every CRD change). */
export function syncCustomResources(store: ObjectStore): void {
  for (let i = RESOURCES.length - 1; i >= 0; i--) if (RESOURCES[i].custom) RESOURCES.splice(i, 1);
  GROUPS.splice(BUILT_IN_GROUPS.length);
  for (const crd of store.list('customresourcedefinitions')) {
    if (crd.metadata.deletionTimestamp) continue;
    const r = crdResource(crd);
    if (!r || RESOURCES.some((x) => x.group === r.group && x.plural === r.plural)) continue;
    RESOURCES.push(r);
    if (!GROUPS.includes(r.group)) GROUPS.push(r.group);
  }
}

/** The status the apiextensions controllers give an accepted CRD (NamesAccepted, Established). */
export function crdStatus(crd: KObject): Record<string, unknown> {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const old: any[] = crd.status?.conditions ?? [];
  const cond = (type: string, reason: string, message: string) => old.find((c) => c.type === type && c.status === 'True') ?? { type, status: 'True', lastTransitionTime: now, reason, message };
  return {
    acceptedNames: { ...crd.spec?.names },
    storedVersions: (crd.spec?.versions ?? []).filter((v: any) => v.storage).map((v: any) => v.name),
    conditions: [cond('NamesAccepted', 'NoConflicts', 'no conflicts found'), cond('Established', 'InitialNamesAccepted', 'the initial names have been accepted')],
  };
}
