/**
 * Lists the workloads scale_down holds in a namespace (or in all): every Deployment, StatefulSet,
 * ReplicaSet and Rollout (an annotation cannot be selected on, so all of them are read), and the
 * Jobs kubectl-mirrord made there (the copies and keepers). A kind the user may not list is
 * skipped with a warning naming the permission; status and kill go on without it.
 */
import { BatchV1Api, type V1Job, type V1Pod } from '@kubernetes/client-node';
import { errorFromKubeCall } from '../kube-api/api-errors.ts';
import type { KubeContext } from '../kube-api/kubeconfig.ts';
import { CopyLabel } from '../kube/copy-target.ts';
import { resourceName, scalableWorkload, SCALABLE_KINDS } from '../kube/scale-down.ts';
import { listWorkloads, type ListedWorkload } from '../kube/workload-api.ts';
import { findHolds, type ScaleHold } from './scale-holds.ts';
import type { SessionAgent } from './session-agents.ts';

/** `app.kubernetes.io/managed-by=kubectl-mirrord`: copies, keepers and agent Jobs. */
const MANAGED_SELECTOR = `${CopyLabel.managedBy}=kubectl-mirrord`;

export interface HoldListing {
  holds: ScaleHold[];
  /** One line per kind that could not be listed, naming the permission. */
  warnings: string[];
}

function where(namespace: string | undefined): string {
  return namespace === undefined ? 'all namespaces' : `namespace "${namespace}"`;
}

/**
 * The holds in a namespace, or in all when `namespace` is undefined.
 * @param pods, agents: what the session listing found, to name the agents in each copy.
 * @throws KubeconfigError/ClusterError when the cluster cannot be read at all (not for a 403).
 */
export async function listHolds(ctx: KubeContext, namespace: string | undefined, pods: readonly V1Pod[], agents: readonly SessionAgent[]): Promise<HoldListing> {
  const warnings: string[] = [];
  const lists = await Promise.all(SCALABLE_KINDS.map(async (kind): Promise<ListedWorkload[]> => {
    try {
      return await listWorkloads(ctx, kind, namespace);
    } catch (err) {
      const resource = resourceName(scalableWorkload(kind, '', ''));
      if ((err as { code?: unknown }).code === 403) {
        warnings.push(`cannot list ${resource} in ${where(namespace)} (status needs list on ${resource} to show the ${kind}s scale_down holds): none are shown`);
        return [];
      }
      throw errorFromKubeCall(err, `list ${resource} in ${where(namespace)}`, ctx.server);
    }
  }));
  const workloads = lists.flat();
  if (!workloads.some((w) => w.object.metadata?.annotations !== undefined)) return { holds: [], warnings };
  let jobs: V1Job[] = [];
  try {
    const batch = ctx.kc.makeApiClient(BatchV1Api);
    jobs = (await (namespace === undefined ? batch.listJobForAllNamespaces({ labelSelector: MANAGED_SELECTOR }) : batch.listNamespacedJob({ namespace, labelSelector: MANAGED_SELECTOR }))).items;
  } catch (err) {
    throw errorFromKubeCall(err, `list jobs in ${where(namespace)}`, ctx.server);
  }
  return { holds: findHolds(workloads, jobs, pods, agents), warnings };
}
