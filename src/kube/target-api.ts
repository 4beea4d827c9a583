/**
 * `TargetApi` (target-resolve.ts) on @kubernetes/client-node, and the reads `kubectl mirrord ls`
 * makes. Thin: every rule lives in target-resolve.ts and target-list.ts.
 */
import { AppsV1Api, BatchV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { V1CronJob, V1Deployment, V1Pod, V1StatefulSet } from '@kubernetes/client-node';
import type { KubeContext } from './kubeconfig.ts';
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
      }[kind];
      const workload = await read();
      return { uid: workload.metadata?.uid ?? '', selector: workload.spec?.selector };
    },
    listJobs: async (namespace) => (await batch.listNamespacedJob({ namespace })).items,
  };
}

/** What `ls` lists, from one namespace or (namespace undefined) all of them. */
export interface TargetObjects {
  deployments: V1Deployment[];
  statefulSets: V1StatefulSet[];
  cronJobs: V1CronJob[];
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
  return { deployments: deployments.items, statefulSets: statefulSets.items, cronJobs: cronJobs.items, pods: pods.items };
}
