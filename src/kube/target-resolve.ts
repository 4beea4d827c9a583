/**
 * Resolving a `--target` to one running pod and one container. Works against the small
 * `TargetApi` interface (target-api.ts implements it with client-node; tests use fake objects),
 * so every rule here is unit tested without a cluster.
 *
 * A workload resolves through its label selector, then its owner references (a ReplicaSet's,
 * StatefulSet's or Job's pods name it as their controller; a Deployment's pods are owned by its
 * ReplicaSets, whose names start with the Deployment's name and a pod-template-hash). Among the
 * running pods a ready one is preferred, then the oldest, so repeated runs pick the same pod.
 */
import type { V1Job, V1LabelSelector, V1Pod } from '@kubernetes/client-node';
import { ClusterError } from '../errors.ts';
import type { TargetKind, TargetSpec } from './target-spec.ts';
import { targetIdentity, type TargetIdentity } from './target-identity.ts';

/** What resolution needs from the cluster. Every call throws client-node's ApiException on failure. */
export interface TargetApi {
  readPod(namespace: string, name: string): Promise<V1Pod>;
  listPods(namespace: string, labelSelector: string | undefined): Promise<V1Pod[]>;
  /** The workload's uid and pod selector. Throws an error with `code` 404 when there is none. */
  readWorkload(kind: Exclude<TargetKind, 'pod'>, namespace: string, name: string): Promise<WorkloadInfo>;
  /** The namespace's Jobs (a CronJob's runs are Jobs it owns). */
  listJobs(namespace: string): Promise<V1Job[]>;
}

/** What resolution needs of a workload. */
export interface WorkloadInfo {
  uid: string;
  selector: V1LabelSelector | undefined;
  /** Labels of the pods to prefer: a Rollout's stable ReplicaSet (`rollouts-pod-template-hash`). */
  preferLabels?: Record<string, string>;
}

/** A target resolved to a pod and a container. */
export interface ResolvedTarget {
  spec: TargetSpec;
  namespace: string;
  podName: string;
  podUid: string;
  nodeName: string | undefined;
  container: string;
  /** The container's runtime id, `containerd://<hex>` (for the Job fallback and the agent to find the target's process). */
  containerId: string | undefined;
  /** Who the container runs as (for an exec agent that runs as the same user); absent for a copy's pod not yet read. */
  identity?: TargetIdentity;
}

/**
 * Turns a label selector into the `labelSelector` query text (matchLabels and matchExpressions,
 * the syntax of k8s.io/apimachinery labels.Parse). Undefined for an empty selector.
 */
export function selectorText(selector: V1LabelSelector | undefined): string | undefined {
  if (!selector) return undefined;
  const parts = Object.entries(selector.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of selector.matchExpressions ?? []) {
    const values = (e.values ?? []).join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.length === 0 ? undefined : parts.join(',');
}

export function isRunning(pod: V1Pod): boolean {
  return pod.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp;
}

export function isReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;
}

/** Whether `pod` belongs to the workload, by its controller owner reference. */
export function ownedBy(pod: V1Pod, kind: Exclude<TargetKind, 'pod'>, name: string, uid: string): boolean {
  const owners = pod.metadata?.ownerReferences ?? [];
  if (kind === 'deployment' || kind === 'rollout') {
    // Deployment (or Argo Rollout) → ReplicaSet "<name>-<pod-template-hash>" → pod.
    return owners.some((o) => o.kind === 'ReplicaSet' && o.name.startsWith(`${name}-`));
  }
  return owners.some((o) => o.uid === uid);
}

/** Ready before not ready, then oldest first, then by name: a stable choice. */
export function pickPod(pods: V1Pod[]): V1Pod | undefined {
  const created = (p: V1Pod) => new Date(p.metadata?.creationTimestamp ?? 0).getTime();
  return [...pods].filter(isRunning).sort((a, b) =>
    Number(isReady(b)) - Number(isReady(a)) || created(a) - created(b) || (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''),
  )[0];
}

function notFound(spec: TargetSpec, namespace: string): ClusterError {
  return new ClusterError('ETARGETNOTFOUND', `target ${spec.kind}/${spec.name} not found in namespace "${namespace}"`, {
    hint: `check the name and -n/--namespace; kubectl mirrord ls -n ${namespace} lists the targets`,
  });
}

/**
 * A CronJob usually has no running pod: its newest Job that has one (Jobs it owns, newest first),
 * else ENORUNNINGPOD with a hint to copy its jobTemplate instead.
 */
async function cronJobPod(api: TargetApi, spec: TargetSpec, namespace: string, uid: string): Promise<V1Pod> {
  const created = (j: V1Job) => new Date(j.metadata?.creationTimestamp ?? 0).getTime();
  const jobs = (await api.listJobs(namespace)).filter((j) => j.metadata?.ownerReferences?.some((o) => o.uid === uid)).sort((a, b) => created(b) - created(a));
  for (const job of jobs) {
    const pods = (await api.listPods(namespace, selectorText(job.spec?.selector))).filter((p) => ownedBy(p, 'job', job.metadata?.name ?? '', job.metadata?.uid ?? ''));
    const pod = pickPod(pods);
    if (pod) return pod;
  }
  throw new ClusterError('ENORUNNINGPOD', `cronjob/${spec.name} in namespace "${namespace}" has no running Job pod${jobs.length ? ` (its Jobs: ${jobs.map((j) => j.metadata?.name).join(', ')})` : ''}`, {
    hint: `add --copy-target to run against a new pod made from its jobTemplate, or wait for its next run (kubectl get jobs -n ${namespace})`,
  });
}

async function workloadPod(api: TargetApi, spec: TargetSpec, namespace: string): Promise<V1Pod> {
  const kind = spec.kind as Exclude<TargetKind, 'pod'>;
  let workload: WorkloadInfo;
  try {
    workload = await api.readWorkload(kind, namespace, spec.name);
  } catch (err) {
    if ((err as { code?: unknown }).code === 404) throw notFound(spec, namespace);
    throw err;
  }
  if (kind === 'cronjob') return await cronJobPod(api, spec, namespace, workload.uid);
  const pods = (await api.listPods(namespace, selectorText(workload.selector))).filter((p) => ownedBy(p, kind, spec.name, workload.uid));
  const prefer = workload.preferLabels;
  const preferred = prefer ? pickPod(pods.filter((p) => Object.entries(prefer).every(([k, v]) => p.metadata?.labels?.[k] === v))) : undefined;
  const pod = preferred ?? pickPod(pods);
  if (!pod) {
    const states = pods.map((p) => `${p.metadata?.name} ${p.metadata?.deletionTimestamp ? 'Terminating' : p.status?.phase ?? 'Pending'}`);
    throw new ClusterError('ENORUNNINGPOD', `${spec.kind}/${spec.name} in namespace "${namespace}" has no running pod${states.length ? ` (${states.join(', ')})` : ''}`, {
      hint: `wait until it runs (kubectl get pods -n ${namespace}), or target a pod directly with pod/NAME`,
    });
  }
  return pod;
}

/** The container to target: the one named, else the default-container annotation, else the first. */
function chooseContainer(pod: V1Pod, spec: TargetSpec): string {
  const names = (pod.spec?.containers ?? []).map((c) => c.name);
  const podName = pod.metadata?.name ?? '?';
  if (spec.container !== undefined) {
    if (names.includes(spec.container)) return spec.container;
    throw new ClusterError('ENOCONTAINER', `pod "${podName}" has no container "${spec.container}"`, {
      hint: `its containers: ${names.join(', ')}; use --target ${spec.kind}/${spec.name}/container/<one of them>`,
    });
  }
  const annotated = pod.metadata?.annotations?.['kubectl.kubernetes.io/default-container'];
  if (annotated !== undefined && names.includes(annotated)) return annotated;
  return names[0];
}

/**
 * Resolves the target to a running pod and a running container.
 * @throws ClusterError ETARGETNOTFOUND, ENORUNNINGPOD, ENOCONTAINER, ECONTAINERNOTRUNNING; the
 *   API's own errors (RBAC, unreachable) pass through for the caller to map.
 */
export async function resolveTarget(api: TargetApi, spec: TargetSpec, namespace: string): Promise<ResolvedTarget> {
  let pod: V1Pod;
  if (spec.kind === 'pod') {
    try {
      pod = await api.readPod(namespace, spec.name);
    } catch (err) {
      if ((err as { code?: unknown }).code === 404) throw notFound(spec, namespace);
      throw err;
    }
    if (!isRunning(pod)) {
      throw new ClusterError('ENORUNNINGPOD', `pod/${spec.name} in namespace "${namespace}" is not running (${pod.metadata?.deletionTimestamp ? 'Terminating' : pod.status?.phase ?? 'Pending'})`, {
        hint: 'target a running pod, or its workload (deployment/NAME) so a running replica is chosen',
      });
    }
  } else {
    pod = await workloadPod(api, spec, namespace);
  }
  const container = chooseContainer(pod, spec);
  const status = pod.status?.containerStatuses?.find((s) => s.name === container);
  const podName = pod.metadata?.name ?? spec.name;
  if (!status?.state?.running) {
    throw new ClusterError('ECONTAINERNOTRUNNING', `container "${container}" of pod "${podName}" is not running`, {
      hint: `see kubectl describe pod ${podName} -n ${namespace}`,
    });
  }
  return {
    spec,
    namespace,
    podName,
    podUid: pod.metadata?.uid ?? '',
    nodeName: pod.spec?.nodeName,
    container,
    containerId: status.containerID,
    identity: targetIdentity(pod, container),
  };
}
