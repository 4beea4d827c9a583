/**
 * copy_target: the manifest of a copy of the target's pod, run as a Job's pod. Pure: builds
 * manifests and judges pod states, makes no request (copy-session.ts does the requests).
 *
 * Why a Job: a bare pod with the target's labels would be adopted by a ReplicaSet or StatefulSet
 * whose selector matches (controllers adopt matching pods that have no controller owner,
 * https://kubernetes.io/docs/concepts/workloads/controllers/replicaset/#non-template-pod-acquisitions),
 * and then counted as one of its replicas or deleted as a surplus one. A Job's pod has the Job as
 * its controller owner, so no other controller adopts it, and it keeps the target's labels, so the
 * target's Services route to it too.
 *
 * What the copy drops, and why (also in docs/targets-and-reverse.md):
 * - liveness, readiness and startup probes: the point of the copy is that a breakpoint on stolen
 *   traffic does not get the pod restarted or taken out of its Service;
 * - `nodeName`: binds a pod to one node, so the copy is scheduled like any new pod;
 * - `hostname` and `subdomain` (a StatefulSet sets them to the pod's ordinal name): two pods would
 *   answer to one stable DNS name;
 * - labels that name another controller's pod or revision: `pod-template-hash`,
 *   `controller-revision-hash`, `statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index`,
 *   and the Job controller's `controller-uid` / `job-name` labels (the copy's Job sets its own);
 * - ephemeral containers (agents of earlier sessions), status, the generated name and every other
 *   metadata field but labels and annotations;
 * - the `kube-api-access-*` volume the ServiceAccount admission plugin added to a running pod, and
 *   its mounts: admission adds a fresh one to the copy;
 * - containers named in `exclude_containers` / `exclude_init_containers`.
 * The copy keeps its ServiceAccount, volumes, env and images: it should behave as the target does.
 */
import type { V1Container, V1Job, V1Pod, V1PodSpec, V1PodTemplateSpec } from '@kubernetes/client-node';
import { ClusterError, MirrordError } from '../errors.ts';
import { AgentLabel, labelValue } from './agent-job.ts';

/** `feature.copy_target`, checked. */
export interface CopyTargetPlan {
  scaleDown: boolean;
  excludeContainers: string[];
  excludeInitContainers: string[];
}

/** Labels and annotations every copy carries (status and kill find copies by them). */
export const CopyLabel = {
  /** `copy`: the copied target. `scale-keeper`: the in-cluster restorer of a scale-down. */
  component: 'app.kubernetes.io/component',
  managedBy: AgentLabel.managedBy,
  session: AgentLabel.session,
  user: AgentLabel.user,
} as const;

export const CopyAnnotation = {
  /** The original target, as `--target` spells it: `deployment/web`. */
  copyOf: 'kubectl-mirrord/copy-of',
  /** `"true"` when the session also scaled the original down. */
  scaleDown: 'kubectl-mirrord/scale-down',
  version: 'kubectl-mirrord/version',
} as const;

/** Labels of other controllers' pods: see the file comment. */
const DROPPED_LABELS = [
  'pod-template-hash',
  'controller-revision-hash',
  'statefulset.kubernetes.io/pod-name',
  'apps.kubernetes.io/pod-index',
  'batch.kubernetes.io/controller-uid',
  'batch.kubernetes.io/job-name',
  'controller-uid',
  'job-name',
];
/** Annotations that describe the original object, not the copy. */
const DROPPED_ANNOTATIONS = ['kubectl.kubernetes.io/last-applied-configuration', 'kubernetes.io/config.seen', 'kubernetes.io/config.source'];
/** The volume name prefix of the ServiceAccount admission plugin's token volume. */
const TOKEN_VOLUME_PREFIX = 'kube-api-access-';

/** Seconds a finished copy Job stays before the TTL controller deletes it. */
export const COPY_JOB_TTL_SECONDS = 30;

export function copyJobName(sessionId: string): string {
  return `mirrord-copy-${sessionId}`;
}

function stripContainer(c: V1Container, tokenVolumes: Set<string>): V1Container {
  const { livenessProbe: _l, readinessProbe: _r, startupProbe: _s, ...rest } = c;
  const mounts = rest.volumeMounts?.filter((m) => !tokenVolumes.has(m.name));
  return { ...rest, ...(rest.volumeMounts ? { volumeMounts: mounts } : {}) };
}

function keep(containers: V1Container[] | undefined, excluded: string[], field: string, all: boolean): V1Container[] | undefined {
  if (!containers) return undefined;
  const names = containers.map((c) => c.name);
  for (const name of excluded) {
    if (!names.includes(name)) {
      throw new ClusterError('ECOPYEXCLUDE', `feature.copy_target.${field} names "${name}", which the target's pod does not have`, { hint: `its ${field === 'exclude_containers' ? 'containers' : 'init containers'}: ${names.join(', ') || 'none'}` });
    }
  }
  const kept = containers.filter((c) => !excluded.includes(c.name));
  if (all && kept.length === 0) throw new ClusterError('ECOPYEXCLUDE', 'feature.copy_target.exclude_containers excludes every container of the target', { hint: 'keep at least the container you target' });
  return kept;
}

/** The copy's pod spec: the original's, without what binds it to one node, pod or probe. */
export function copyPodSpec(original: V1PodSpec, plan: CopyTargetPlan): V1PodSpec {
  const tokenVolumes = new Set((original.volumes ?? []).filter((v) => v.name.startsWith(TOKEN_VOLUME_PREFIX) && v.projected).map((v) => v.name));
  const { nodeName: _n, hostname: _h, subdomain: _d, ephemeralContainers: _e, ...rest } = original;
  const containers = keep(original.containers, plan.excludeContainers, 'exclude_containers', true)!.map((c) => stripContainer(c, tokenVolumes));
  const initContainers = keep(original.initContainers, plan.excludeInitContainers, 'exclude_init_containers', false)?.map((c) => stripContainer(c, tokenVolumes));
  const volumes = original.volumes?.filter((v) => !tokenVolumes.has(v.name));
  return {
    ...rest,
    containers,
    ...(initContainers ? { initContainers } : {}),
    ...(volumes ? { volumes } : {}),
    // A Job's pod must not restart Always; Never ends the copy (and the session) if the app exits.
    restartPolicy: 'Never',
  };
}

export interface CopyJobOptions {
  sessionId: string;
  namespace: string;
  /** `deployment/web`: the target as given, for the copy-of annotation. */
  copyOf: string;
  /** The pod (pod targets) or pod template (workloads, CronJobs) to copy. */
  template: V1PodTemplateSpec;
  plan: CopyTargetPlan;
  user: string;
  cliVersion: string;
  /** The first lease (see CopyLease in copy-session.ts). */
  activeDeadlineSeconds: number;
}

function withoutKeys(map: Record<string, string> | undefined, keys: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(map ?? {}).filter(([k]) => !keys.includes(k)));
}

/** The copy's Job. Its pod keeps the target's labels (Services route to it) plus the session's. */
export function buildCopyJob(options: CopyJobOptions): V1Job {
  const ours = {
    [CopyLabel.component]: 'copy',
    [CopyLabel.managedBy]: 'kubectl-mirrord',
    [CopyLabel.session]: options.sessionId,
    [CopyLabel.user]: labelValue(options.user),
  };
  const annotations = {
    [CopyAnnotation.copyOf]: options.copyOf,
    [CopyAnnotation.scaleDown]: String(options.plan.scaleDown),
    [CopyAnnotation.version]: options.cliVersion,
  };
  const podLabels = { ...withoutKeys(options.template.metadata?.labels, DROPPED_LABELS), ...ours };
  const podAnnotations = { ...withoutKeys(options.template.metadata?.annotations, DROPPED_ANNOTATIONS), ...annotations };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: copyJobName(options.sessionId), namespace: options.namespace, labels: ours, annotations },
    spec: {
      backoffLimit: 0,
      ttlSecondsAfterFinished: COPY_JOB_TTL_SECONDS,
      activeDeadlineSeconds: options.activeDeadlineSeconds,
      template: {
        metadata: { labels: podLabels, annotations: podAnnotations },
        spec: copyPodSpec(options.template.spec ?? { containers: [] }, options.plan),
      },
    },
  };
}

/** A running pod as a template to copy: its labels, annotations and spec. */
export function podAsTemplate(pod: V1Pod): V1PodTemplateSpec {
  return { metadata: { labels: pod.metadata?.labels, annotations: pod.metadata?.annotations }, spec: pod.spec };
}

const IMAGE_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);
const CONFIG_REASONS = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError', 'CrashLoopBackOff']);

/**
 * What one version of the copy's pod means: every container running (done), a state that will not
 * get better (failure, naming the container and the kubelet's reason, e.g.
 * `CreateContainerConfigError: configmap "x" not found`), or progress text.
 */
export function judgeCopyPod(pod: V1Pod | undefined, copyOf: string): { done: V1Pod } | { failure: MirrordError } | { progress: string } {
  if (!pod) return { failure: new ClusterError('ECOPYGONE', `the copy of ${copyOf} was deleted while it started`, { hint: 'someone deleted it (kubectl delete), or its Job failed; run again' }) };
  const name = pod.metadata?.name ?? '?';
  const namespace = pod.metadata?.namespace ?? '';
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  for (const s of statuses) {
    const waiting = s.state?.waiting;
    if (waiting?.reason && (IMAGE_REASONS.has(waiting.reason) || CONFIG_REASONS.has(waiting.reason))) {
      const what = IMAGE_REASONS.has(waiting.reason) ? `cannot pull image "${s.image}"` : 'cannot start';
      return {
        failure: new ClusterError('ECOPYSTART', `the copy of ${copyOf} (pod "${name}"): container "${s.name}" ${what}: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`, {
          hint: waiting.reason === 'CreateContainerConfigError'
            ? `the target's pod spec refers to a ConfigMap, Secret or key that does not exist in namespace "${namespace}"; see kubectl describe pod ${name} -n ${namespace}`
            : `see kubectl describe pod ${name} -n ${namespace}`,
        }),
      };
    }
  }
  const phase = pod.status?.phase;
  const terminated = pod.status?.containerStatuses?.find((s) => s.state?.terminated);
  if (phase === 'Failed' || phase === 'Succeeded' || terminated) {
    const why = terminated ? `container "${terminated.name}" exited with code ${terminated.state!.terminated!.exitCode}` : pod.status?.reason ?? phase;
    return { failure: new ClusterError('ECOPYEXIT', `the copy of ${copyOf} (pod "${name}") stopped during startup (${why})`, { hint: `see kubectl logs ${name} -n ${namespace} --all-containers` }) };
  }
  const containers = pod.status?.containerStatuses ?? [];
  if (phase === 'Running' && containers.length > 0 && containers.every((s) => s.state?.running)) return { done: pod };
  const unscheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (unscheduled) return { progress: `copy pod ${name} not scheduled: ${unscheduled.message ?? unscheduled.reason ?? ''}` };
  const waiting = statuses.find((s) => s.state?.waiting?.reason)?.state?.waiting?.reason;
  return { progress: `copy pod ${name}: ${waiting ?? phase ?? 'Pending'}` };
}
