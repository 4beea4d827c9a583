/**
 * `TargetApi` (target-resolve.ts) on @kubernetes/client-node, and the reads `kubectl mirrord ls`
 * makes. Thin: every rule lives in target-resolve.ts and target-list.ts.
 */
import { AppsV1Api, BatchV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import type { V1CronJob, V1Deployment, V1LabelSelector, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { KubeContext } from '../kube-api/kubeconfig.ts';
import type { TargetApi } from './target-resolve.ts';

/** The client-node implementation of TargetApi. */
export function kubeTargetApi(ctx: KubeContext): TargetApi {
  const core = ctx.kc.makeApiClient(CoreV1Api);
  const apps = ctx.kc.makeApiClient(AppsV1Api);
  const batch = ctx.kc.makeApiClient(BatchV1Api);
  return {
    readPod: (namespace, name) => core.readNamespacedPod({ namespace, name }),
    listPods: async (namespace, labelSelector) => (await core.listNamespacedPod({ namespace, labelSelector })).items,
    readWorkload: async (kind, namespace, name) => {
      const read = {
        deployment: () => apps.readNamespacedDeployment({ namespace, name }),
        statefulset: () => apps.readNamespacedStatefulSet({ namespace, name }),
        replicaset: () => apps.readNamespacedReplicaSet({ namespace, name }),
        job: () => batch.readNamespacedJob({ namespace, name }),
        cronjob: async () => {
          const cronJob = await batch.readNamespacedCronJob({ namespace, name });
          return { metadata: cronJob.metadata, spec: { selector: undefined } };
        },
        rollout: async () => (await readRollout(ctx, namespace, name)) as { metadata?: { uid?: string }; spec?: { selector?: V1LabelSelector }; status?: { stableRS?: string } },
      }[kind];
      const workload: { metadata?: { uid?: string }; spec?: { selector?: V1LabelSelector }; status?: unknown } = await read();
      const stable = kind === 'rollout' ? (workload.status as { stableRS?: string } | undefined)?.stableRS : undefined;
      return { uid: workload.metadata?.uid ?? '', selector: workload.spec?.selector, preferLabels: stable ? { 'rollouts-pod-template-hash': stable } : undefined };
    },
    listJobs: async (namespace) => (await batch.listNamespacedJob({ namespace })).items,
  };
}

/** Argo Rollouts' API: https://argo-rollouts.readthedocs.io/en/stable/features/specification/ */
export const ROLLOUT_API = { group: 'argoproj.io', version: 'v1alpha1', plural: 'rollouts' } as const;

/** An Argo Rollout as JSON (its CRD may be absent: a 404). */
export async function readRollout(ctx: KubeContext, namespace: string, name: string): Promise<any> {
  return await ctx.kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ ...ROLLOUT_API, namespace, name });
}

/** Rollouts in one namespace or all; none when the cluster has no Rollout CRD. */
async function listRollouts(ctx: KubeContext, namespace: string | undefined): Promise<any[]> {
  const api = ctx.kc.makeApiClient(CustomObjectsApi);
  try {
    const list = namespace === undefined ? await api.listClusterCustomObject(ROLLOUT_API) : await api.listNamespacedCustomObject({ ...ROLLOUT_API, namespace });
    return (list as { items?: any[] }).items ?? [];
  } catch (err) {
    if ((err as { code?: unknown }).code === 404) return [];
    throw err;
  }
}

/** What `ls` lists, from one namespace or (namespace undefined) all of them. */
export interface TargetObjects {
  deployments: V1Deployment[];
  statefulSets: V1StatefulSet[];
  cronJobs: V1CronJob[];
  /** Argo Rollouts, as JSON. */
  rollouts?: any[];
  pods: V1Pod[];
}

/** Reads deployments, statefulsets, cronjobs and pods, in one namespace or in all. */
export async function readTargetObjects(ctx: KubeContext, namespace: string | undefined): Promise<TargetObjects> {
  const core = ctx.kc.makeApiClient(CoreV1Api);
  const apps = ctx.kc.makeApiClient(AppsV1Api);
  const batch = ctx.kc.makeApiClient(BatchV1Api);
  const [deployments, statefulSets, cronJobs, pods] = namespace === undefined
    ? await Promise.all([apps.listDeploymentForAllNamespaces(), apps.listStatefulSetForAllNamespaces(), batch.listCronJobForAllNamespaces(), core.listPodForAllNamespaces()])
    : await Promise.all([apps.listNamespacedDeployment({ namespace }), apps.listNamespacedStatefulSet({ namespace }), batch.listNamespacedCronJob({ namespace }), core.listNamespacedPod({ namespace })]);
  return { deployments: deployments.items, statefulSets: statefulSets.items, cronJobs: cronJobs.items, rollouts: await listRollouts(ctx, namespace), pods: pods.items };
}
