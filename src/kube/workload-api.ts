/**
 * Reading, listing and JSON-patching the workloads scale_down scales (Deployments, StatefulSets,
 * ReplicaSets, Argo Rollouts), whatever API group serves them. Used by the session that scales a
 * workload down (scale-down-session.ts) and by `kubectl mirrord status` and `kill`, which find
 * and release the holds (sessions/scale-holds*.ts): both apply the same patches of scale-down.ts.
 * Errors are the client's ApiException (with `code`); callers word them.
 */
import { AppsV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { KubeContext } from '../kube-api/kubeconfig.ts';
import { scalableWorkload, SCALABLE_KINDS, type JsonPatchOp, type ScalableWorkload } from './scale-down.ts';

/** What scale_down reads of a workload. */
export interface WorkloadObject {
  metadata?: {
    name?: string; namespace?: string; resourceVersion?: string; annotations?: Record<string, string>;
    ownerReferences?: Array<{ kind: string; name: string; controller?: boolean }>;
    managedFields?: Array<{ manager?: string; operation?: string; fieldsV1?: unknown; time?: Date | string }>;
  };
  spec?: { replicas?: number };
}

/** Reads one workload. @throws the client's ApiException (404 when it is gone). */
export async function readWorkload(ctx: KubeContext, w: ScalableWorkload): Promise<WorkloadObject> {
  if (w.group === 'apps') {
    const apps = ctx.kc.makeApiClient(AppsV1Api);
    const args = { namespace: w.namespace, name: w.name };
    if (w.plural === 'deployments') return await apps.readNamespacedDeployment(args);
    if (w.plural === 'statefulsets') return await apps.readNamespacedStatefulSet(args);
    return await apps.readNamespacedReplicaSet(args);
  }
  return (await ctx.kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ group: w.group, version: w.version, namespace: w.namespace, plural: w.plural, name: w.name })) as WorkloadObject;
}

/** Applies an RFC 6902 JSON patch to one workload. @throws the client's ApiException (422: a `test` failed). */
export async function patchWorkload(ctx: KubeContext, w: ScalableWorkload, ops: JsonPatchOp[]): Promise<void> {
  const header = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
  if (w.group === 'apps') {
    const apps = ctx.kc.makeApiClient(AppsV1Api);
    const args = { namespace: w.namespace, name: w.name, body: ops };
    if (w.plural === 'deployments') await apps.patchNamespacedDeployment(args, header);
    else if (w.plural === 'statefulsets') await apps.patchNamespacedStatefulSet(args, header);
    else await apps.patchNamespacedReplicaSet(args, header);
    return;
  }
  await ctx.kc.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject({ group: w.group, version: w.version, namespace: w.namespace, plural: w.plural, name: w.name, body: ops }, header);
}

/** A listed workload, with the address scale-down.ts uses. */
export interface ListedWorkload {
  workload: ScalableWorkload;
  object: WorkloadObject;
}

/**
 * Every workload of one scalable kind (`deployment`) in a namespace, or in all when `namespace` is
 * undefined. A kind the cluster does not serve (no Rollout CRD: 404) lists nothing.
 * @throws the client's ApiException (403 when listing is not allowed).
 */
export async function listWorkloads(ctx: KubeContext, kind: (typeof SCALABLE_KINDS)[number], namespace: string | undefined): Promise<ListedWorkload[]> {
  const probe = scalableWorkload(kind, '', '');
  let items: WorkloadObject[];
  if (probe.group === 'apps') {
    const apps = ctx.kc.makeApiClient(AppsV1Api);
    const all = { deployments: () => apps.listDeploymentForAllNamespaces({}), statefulsets: () => apps.listStatefulSetForAllNamespaces({}), replicasets: () => apps.listReplicaSetForAllNamespaces({}) }[probe.plural]!;
    const inOne = { deployments: () => apps.listNamespacedDeployment({ namespace: namespace! }), statefulsets: () => apps.listNamespacedStatefulSet({ namespace: namespace! }), replicasets: () => apps.listNamespacedReplicaSet({ namespace: namespace! }) }[probe.plural]!;
    items = (await (namespace === undefined ? all() : inOne())).items as WorkloadObject[];
  } else {
    const api = ctx.kc.makeApiClient(CustomObjectsApi);
    const which = { group: probe.group, version: probe.version, plural: probe.plural };
    try {
      const list = namespace === undefined ? await api.listClusterCustomObject(which) : await api.listNamespacedCustomObject({ ...which, namespace });
      items = ((list as { items?: WorkloadObject[] }).items ?? []);
    } catch (err) {
      if ((err as { code?: unknown }).code === 404) return [];
      throw err;
    }
  }
  return items.map((object) => ({ workload: scalableWorkload(kind, object.metadata?.namespace ?? namespace ?? '', object.metadata?.name ?? ''), object }));
}
