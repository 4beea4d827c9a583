/**
 * The life of one copy of the target (copy_target): read what to copy, create the copy's Job, wait
 * for its pod with pod-watch.ts, keep a lease on it while the CLI lives, delete it at the end.
 *
 * The lease is the Job's `spec.activeDeadlineSeconds`. It is mutable on a running Job, and the Job
 * controller fails a Job whose deadline has passed and deletes its running pods
 * (https://kubernetes.io/docs/concepts/workloads/controllers/job/#job-termination-and-cleanup).
 * The CLI pushes the deadline forward every third of the idle timeout, so the copy outlives the
 * CLI (killed, laptop asleep) by at most the idle timeout, with no process in the cluster. The
 * deadline counts from the Job's `status.startTime` (server clock); the CLI measures from just
 * before it created the Job (its own monotonic clock), which is earlier, so clock skew between
 * the laptop and the cluster can only lengthen the lease, never cut it short.
 */
import { deleteJobReported, stderrWarn, type CleanupWarn } from './job-delete.ts';
import { AppsV1Api, BatchV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { V1Pod, V1PodTemplateSpec } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { ClusterError } from '../errors.ts';
import { errorFromKubeCall } from '../kube-api/api-errors.ts';
import { localUser } from './agent-manager.ts';
import { buildCopyJob, copyJobName, CopyLabel, judgeCopyPod, podAsTemplate, type CopyTargetPlan } from './copy-target.ts';
import type { KubeContext } from '../kube-api/kubeconfig.ts';
import { watchPods } from './pod-watch.ts';
import type { ResolvedTarget } from './target-resolve.ts';
import type { TargetSpec } from './target-spec.ts';
import { readRollout } from './target-api.ts';

export interface CopySessionOptions {
  spec: TargetSpec;
  plan: CopyTargetPlan;
  /** How long the copy outlives a CLI that stopped renewing its lease. */
  idleTimeoutMs: number;
  startupTimeoutMs: number;
  cliVersion: string;
  onProgress?: (text: string) => void;
  /** A lease renewal failed (the copy may be gone soon); the session goes on. */
  onLeaseError?: (err: Error) => void;
  /** Cleanup problems (the Job that could not be deleted, with the command that deletes it). Default: stderr. */
  warn?: CleanupWarn;
}

const FIND_POD_MS = 250;

/** Reads the pod template to copy: a pod's own spec, a workload's template, a CronJob's jobTemplate's. */
export async function readCopyTemplate(ctx: KubeContext, spec: TargetSpec): Promise<V1PodTemplateSpec> {
  const { namespace } = ctx;
  const name = spec.name;
  const apps = ctx.kc.makeApiClient(AppsV1Api);
  const batch = ctx.kc.makeApiClient(BatchV1Api);
  try {
    switch (spec.kind) {
      case 'pod': return podAsTemplate(await ctx.kc.makeApiClient(CoreV1Api).readNamespacedPod({ namespace, name }));
      case 'deployment': return (await apps.readNamespacedDeployment({ namespace, name })).spec!.template;
      case 'statefulset': return (await apps.readNamespacedStatefulSet({ namespace, name })).spec!.template;
      case 'replicaset': return (await apps.readNamespacedReplicaSet({ namespace, name })).spec!.template!;
      case 'job': return (await batch.readNamespacedJob({ namespace, name })).spec!.template;
      // A CronJob's runs are made from its jobTemplate: the copy is one more run, kept for the session.
      case 'cronjob': return (await batch.readNamespacedCronJob({ namespace, name })).spec!.jobTemplate.spec!.template;
      case 'rollout': {
        const rollout = await readRollout(ctx, namespace, name);
        if (!rollout.spec?.template) {
          throw new ClusterError('ECOPYTEMPLATE', `rollout/${name} has no spec.template (it refers to a workload with workloadRef)`, { hint: 'copy the workload it refers to instead (deployment/NAME)' });
        }
        return rollout.spec.template as V1PodTemplateSpec;
      }
    }
  } catch (err) {
    if ((err as { code?: unknown }).code === 404) {
      throw new ClusterError('ETARGETNOTFOUND', `target ${spec.kind}/${name} not found in namespace "${namespace}"`, { hint: `check the name and -n/--namespace; kubectl mirrord ls -n ${namespace} lists the targets` });
    }
    throw errorFromKubeCall(err, `read ${spec.kind}/${name} in namespace "${namespace}"`, ctx.server);
  }
}

/** The chosen container of the copy (named, default-container annotation, first), as resolution does. */
function copyContainer(pod: V1Pod, spec: TargetSpec): string {
  const names = (pod.spec?.containers ?? []).map((c) => c.name);
  if (spec.container !== undefined) {
    if (names.includes(spec.container)) return spec.container;
    throw new ClusterError('ENOCONTAINER', `the copy of ${spec.text} has no container "${spec.container}"`, { hint: `its containers: ${names.join(', ')}` });
  }
  const annotated = pod.metadata?.annotations?.['kubectl.kubernetes.io/default-container'];
  return annotated !== undefined && names.includes(annotated) ? annotated : names[0];
}

/** One copy of the target for one CLI session. */
export class CopySession {
  readonly sessionId = randomBytes(4).toString('hex');
  readonly jobName = copyJobName(this.sessionId);
  readonly #ctx: KubeContext;
  readonly #options: CopySessionOptions;
  /** Date.now() just before the Job was created: the lease counts from here (see file comment). */
  #createdAt = 0;
  #created = false;
  #leaseTimer: NodeJS.Timeout | undefined;
  #target: ResolvedTarget | undefined;
  #jobUid: string | undefined;

  /** @param ctx the target's namespace, where the copy runs. */
  constructor(ctx: KubeContext, options: CopySessionOptions) {
    this.#ctx = ctx;
    this.#options = options;
  }

  /** The copy's pod once it runs. */
  get target(): ResolvedTarget | undefined {
    return this.#target;
  }

  get jobUid(): string | undefined {
    return this.#jobUid;
  }

  /** Seconds of lease to ask for now: elapsed since creation plus the idle timeout. */
  #leaseSeconds(extraMs: number): number {
    return Math.ceil((Date.now() - this.#createdAt + extraMs) / 1000);
  }

  /**
   * Creates the copy and waits until every container of it runs.
   * @throws ClusterError ECOPYSTART (CreateContainerConfigError, image pull), ECOPYEXIT, ECOPYCREATE,
   *   ECOPYTIMEOUT, ETARGETNOTFOUND; API errors mapped by errorFromKubeCall. The Job is deleted first.
   */
  async create(): Promise<ResolvedTarget> {
    const { spec, plan, startupTimeoutMs, idleTimeoutMs } = this.#options;
    const deadline = Date.now() + startupTimeoutMs;
    const template = await readCopyTemplate(this.#ctx, spec);
    this.#createdAt = Date.now();
    const job = buildCopyJob({
      sessionId: this.sessionId, namespace: this.#ctx.namespace, copyOf: spec.text.split('/container/')[0], template, plan,
      user: localUser(), cliVersion: this.#options.cliVersion, activeDeadlineSeconds: this.#leaseSeconds(startupTimeoutMs + idleTimeoutMs),
    });
    this.#options.onProgress?.(`creating Job ${this.jobName}, a copy of ${spec.kind}/${spec.name}`);
    try {
      const created = await this.#ctx.kc.makeApiClient(BatchV1Api).createNamespacedJob({ namespace: this.#ctx.namespace, body: job });
      this.#jobUid = created.metadata?.uid;
    } catch (err) {
      throw errorFromKubeCall(err, `create Job "${this.jobName}" in namespace "${this.#ctx.namespace}"`, this.#ctx.server);
    }
    this.#created = true;
    try {
      const podName = await this.#findPod(deadline);
      const pod = await watchPods(this.#ctx, {
        namespace: this.#ctx.namespace,
        select: { name: podName },
        initialProgress: `waiting for pod ${podName}`,
        judge: (p) => judgeCopyPod(p, spec.text),
        deadline,
        onProgress: this.#options.onProgress,
        onTimeout: (last) => this.#timeout(last),
      });
      const container = copyContainer(pod, spec);
      this.#target = {
        spec, namespace: this.#ctx.namespace, podName, podUid: pod.metadata?.uid ?? '', nodeName: pod.spec?.nodeName, container,
        containerId: pod.status?.containerStatuses?.find((s) => s.name === container)?.containerID,
      };
      this.#startLease();
      return this.#target;
    } catch (err) {
      await this.remove();
      throw err;
    }
  }

  /** For a reconnect: the copy again if it still runs. @throws ClusterError ECOPYGONE. */
  async current(): Promise<ResolvedTarget> {
    const target = this.#target;
    if (!target) return await this.create();
    try {
      const pod = await this.#ctx.kc.makeApiClient(CoreV1Api).readNamespacedPod({ namespace: target.namespace, name: target.podName });
      if (pod.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp) return target;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 404) throw errorFromKubeCall(err, `read pod "${target.podName}"`, this.#ctx.server);
    }
    throw new ClusterError('ECOPYGONE', `the copy of ${this.#options.spec.text} (pod "${target.podName}") is gone`, {
      hint: `it was deleted, or its lease (Job ${this.jobName}) ran out while the CLI could not reach the cluster; run again for a new copy`,
    });
  }

  /** Stops renewing and deletes the Job and its pod. Safe to call more than once. */
  async remove(): Promise<void> {
    clearInterval(this.#leaseTimer);
    this.#leaseTimer = undefined;
    if (!this.#created) return;
    // A failure is reported; the lease and the Job's TTL remove it later anyway.
    if (await deleteJobReported(this.#ctx, this.jobName, `the copy of ${this.#options.spec.text}`, this.#options.warn ?? stderrWarn)) this.#created = false;
  }

  #startLease(): void {
    const every = Math.max(1000, Math.floor(this.#options.idleTimeoutMs / 3));
    this.#leaseTimer = setInterval(() => void this.#renew(), every);
    this.#leaseTimer.unref();
    // The first lease covered the startup timeout too; cut it to the idle timeout now.
    void this.#renew();
  }

  async #renew(): Promise<void> {
    try {
      await this.#ctx.kc.makeApiClient(BatchV1Api).patchNamespacedJob(
        { name: this.jobName, namespace: this.#ctx.namespace, body: { spec: { activeDeadlineSeconds: this.#leaseSeconds(this.#options.idleTimeoutMs) } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (err) {
      this.#options.onLeaseError?.(err as Error);
    }
  }

  /** The Job's pod has a generated name: list by the session label until it exists. */
  async #findPod(deadline: number): Promise<string> {
    const core = this.#ctx.kc.makeApiClient(CoreV1Api);
    const labelSelector = `${CopyLabel.session}=${this.sessionId}`;
    this.#options.onProgress?.(`waiting for the copy's pod (Job ${this.jobName})`);
    while (Date.now() < deadline) {
      const pods = await core.listNamespacedPod({ namespace: this.#ctx.namespace, labelSelector }).catch((err) => {
        throw errorFromKubeCall(err, `list pods in namespace "${this.#ctx.namespace}"`, this.#ctx.server);
      });
      const pod = pods.items.find((p) => !p.metadata?.deletionTimestamp);
      if (pod?.metadata?.name) return pod.metadata.name;
      const failure = await this.#jobFailure();
      if (failure) throw failure;
      await new Promise((resolve) => setTimeout(resolve, FIND_POD_MS));
    }
    throw this.#timeout('the Job has no pod yet');
  }

  /** A FailedCreate event on the Job (admission refused the pod: pod security, quota, a missing ServiceAccount). */
  async #jobFailure(): Promise<ClusterError | undefined> {
    const events = await this.#ctx.kc.makeApiClient(CoreV1Api).listNamespacedEvent({ namespace: this.#ctx.namespace, fieldSelector: `involvedObject.name=${this.jobName}` }).catch(() => undefined);
    const failed = events?.items.find((e) => e.reason === 'FailedCreate');
    if (!failed) return undefined;
    return new ClusterError('ECOPYCREATE', `the cluster refused the copy of ${this.#options.spec.text}: ${failed.message ?? 'FailedCreate'}`, {
      hint: `the copy runs the target's own pod spec in namespace "${this.#ctx.namespace}"; see kubectl describe job ${this.jobName} -n ${this.#ctx.namespace}`,
    });
  }

  #timeout(last: string): ClusterError {
    return new ClusterError('ECOPYTIMEOUT', `the copy of ${this.#options.spec.text} was not running after ${Math.round(this.#options.startupTimeoutMs / 1000)} s (last seen: ${last})`, {
      hint: `raise --agent-startup-timeout, or see kubectl describe job ${this.jobName} -n ${this.#ctx.namespace}`,
    });
  }
}
