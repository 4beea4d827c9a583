/**
 * The line exec says when its target workload has several replicas: the agent sits in one pod,
 * so only that pod's share of the Service's traffic reaches the program (a filtered breakpoint
 * sees about 1/N of the requests).
 */
import { AppsV1Api } from '@kubernetes/client-node';
import type { KubeContext } from '../kube-api/kubeconfig.ts';
import type { ResolvedTarget } from '../kube/target-resolve.ts';

/** spec.replicas of the target's workload; undefined for a pod, a Job or anything unreadable. */
async function replicas(ctx: KubeContext, target: ResolvedTarget): Promise<number | undefined> {
  const apps = ctx.kc.makeApiClient(AppsV1Api);
  const { kind, name } = target.spec;
  const namespace = target.namespace;
  switch (kind) {
    case 'deployment': return (await apps.readNamespacedDeployment({ name, namespace })).spec?.replicas;
    case 'statefulset': return (await apps.readNamespacedStatefulSet({ name, namespace })).spec?.replicas;
    case 'replicaset': return (await apps.readNamespacedReplicaSet({ name, namespace })).spec?.replicas;
    default: return undefined;
  }
}

/** The warning, or undefined with one replica (or when the count cannot be read). */
export async function replicaWarning(ctx: KubeContext, target: ResolvedTarget): Promise<string | undefined> {
  const count = await replicas(ctx, target).catch(() => undefined);
  if (count === undefined || count <= 1) return undefined;
  return `${target.spec.kind}/${target.spec.name} has ${count} replicas: only the traffic of pod ${target.podName} comes to the program (about 1/${count} of the requests)`;
}
