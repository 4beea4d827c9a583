/**
 * scale_down for one session: find the workload to scale (a ReplicaSet's Deployment or Rollout),
 * refuse one another session holds, start the in-cluster keeper, take the workload (record +
 * replicas 0 in one guarded patch), and give it back on exit. The rules live in scale-down.ts and
 * the manifests in scale-keeper.ts; this file makes the requests.
 */
import { deleteJobReported, stderrWarn, type CleanupWarn } from './job-delete.ts';
import { AppsV1Api, AutoscalingV2Api, BatchV1Api, CoreV1Api, PatchStrategy, RbacAuthorizationV1Api, setHeaderOptions } from '@kubernetes/client-node';
import { ClusterError } from '../errors.ts';
import { errorFromKubeCall } from '../kube-api/api-errors.ts';
import type { KubeContext } from '../kube-api/kubeconfig.ts';
import { CopyLabel } from './copy-target.ts';
import type { Permission } from './preflight.ts';
import { watchPods } from './pod-watch.ts';
import {
  describeHolder, encodeRecord, readRecord, restorePatch, scalableOwnerKind, scalableWorkload, scaleDownPatch, workloadPath,
  SCALE_DOWN_ANNOTATION, type JsonPatchOp, type ScalableWorkload, type ScaleDownRecord,
} from './scale-down.ts';
import { buildKeeperAccess, buildKeeperJob, keeperName } from './scale-keeper.ts';
import type { TargetSpec } from './target-spec.ts';
import { patchWorkload, readWorkload, type WorkloadObject } from './workload-api.ts';

/** How often a held workload is read to notice a controller scaling it back up. */
const SCALE_BACK_POLL_MS = 3000;

/**
 * The field manager that last wrote `spec.replicas` (server-side field tracking,
 * https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management), if recorded.
 */
export function replicasManager(managedFields: NonNullable<WorkloadObject['metadata']>['managedFields']): string | undefined {
  const writers = (managedFields ?? []).filter((m) => (m.fieldsV1 as { 'f:spec'?: Record<string, unknown> } | undefined)?.['f:spec']?.['f:replicas'] !== undefined);
  const time = (m: { time?: Date | string }) => new Date(m.time ?? 0).getTime();
  return writers.sort((a, b) => time(b) - time(a))[0]?.manager;
}

/** The autoscalers that scale `w`: a note for each, or an empty list (none, or not allowed to list them). */
export function autoscalerNotes(hpas: Array<{ metadata?: { name?: string }; spec?: { scaleTargetRef?: { kind?: string; name?: string; apiVersion?: string }; minReplicas?: number; maxReplicas?: number } }>, w: ScalableWorkload): string[] {
  return hpas
    .filter((h) => h.spec?.scaleTargetRef?.kind === w.kind && h.spec.scaleTargetRef.name === w.name && (h.spec.scaleTargetRef.apiVersion ?? '').split('/')[0] === (w.group === '' ? 'v1' : w.group))
    .map((h) => `HorizontalPodAutoscaler ${h.metadata?.name} (min ${h.spec?.minReplicas ?? 1}, max ${h.spec?.maxReplicas}) also scales ${w.text}; an HPA stops adjusting a workload at 0 replicas and resumes once its count is restored`);
}

/** What scale_down needs beyond copy_target, in the workload's namespace. */
export function scaleDownPermissions(w: ScalableWorkload): Permission[] {
  const why = 'for the in-cluster restore of scale_down';
  return [
    { verb: 'get', group: w.group, resource: w.plural, why: 'to read its replica count' },
    { verb: 'patch', group: w.group, resource: w.plural, why: 'to scale it down and back' },
    { verb: 'create', group: '', resource: 'serviceaccounts', why },
    { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'roles', why },
    { verb: 'create', group: 'rbac.authorization.k8s.io', resource: 'rolebindings', why },
  ];
}

/** The workload a scale_down of `spec` scales: the target itself, or a ReplicaSet's Deployment/Rollout. */
export async function scaleTargetOf(ctx: KubeContext, spec: TargetSpec): Promise<ScalableWorkload> {
  if (spec.kind !== 'replicaset') return scalableWorkload(spec.kind, ctx.namespace, spec.name);
  let rs;
  try {
    rs = await ctx.kc.makeApiClient(AppsV1Api).readNamespacedReplicaSet({ namespace: ctx.namespace, name: spec.name });
  } catch (err) {
    throw errorFromKubeCall(err, `read replicaset/${spec.name} in namespace "${ctx.namespace}"`, ctx.server);
  }
  const owner = rs.metadata?.ownerReferences?.find((o) => o.controller);
  const ownerKind = owner ? scalableOwnerKind(owner.kind) : undefined;
  // The owner would put the ReplicaSet's replicas back at once: scale the owner instead.
  return ownerKind && owner ? scalableWorkload(ownerKind, ctx.namespace, owner.name) : scalableWorkload('replicaset', ctx.namespace, spec.name);
}

export interface ScaleDownOptions {
  image: string;
  user: string;
  cliVersion: string;
  startupTimeoutMs: number;
  onProgress?: (text: string) => void;
  /** Cleanup problems (the keeper's Job that could not be deleted, with the command). Default: stderr. */
  warn?: CleanupWarn;
}

export class ScaleDownSession {
  readonly #ctx: KubeContext;
  readonly #workload: ScalableWorkload;
  readonly #options: ScaleDownOptions;
  #keeperCreated: string | undefined;
  #held: string | undefined;
  #watchTimer: NodeJS.Timeout | undefined;

  constructor(ctx: KubeContext, workload: ScalableWorkload, options: ScaleDownOptions) {
    this.#ctx = ctx;
    this.#workload = workload;
    this.#options = options;
  }

  get workload(): ScalableWorkload {
    return this.#workload;
  }

  async #read(): Promise<WorkloadObject> {
    const w = this.#workload;
    try {
      return await readWorkload(this.#ctx, w);
    } catch (err) {
      if ((err as { code?: unknown }).code === 404) throw new ClusterError('ETARGETNOTFOUND', `${w.text} not found in namespace "${w.namespace}"`, { hint: 'check the name and -n/--namespace' });
      throw errorFromKubeCall(err, `read ${w.text} in namespace "${w.namespace}"`, this.#ctx.server);
    }
  }

  async #patch(ops: JsonPatchOp[]): Promise<void> {
    await patchWorkload(this.#ctx, this.#workload, ops);
  }

  #heldError(record: ScaleDownRecord): ClusterError {
    const w = this.#workload;
    return new ClusterError('ESCALEDOWNHELD', `${w.text} in namespace "${w.namespace}" is already scaled down by ${describeHolder(record)}`, {
      hint: `only one session may scale a workload down; wait for it to end. If that session is dead and nothing restored it: kubectl scale ${w.text} -n ${w.namespace} --replicas=${record.replicas >= 0 ? record.replicas : 'N'} && kubectl annotate ${w.text} -n ${w.namespace} ${SCALE_DOWN_ANNOTATION}-`,
    });
  }

  /** Fails early when another session holds the workload (before a copy is made). */
  async checkFree(): Promise<void> {
    const record = readRecord((await this.#read()).metadata?.annotations);
    if (record) throw this.#heldError(record);
  }

  /** Creates the keeper (suspended), its ServiceAccount, Role and RoleBinding, resumes it and waits until it runs. */
  async startKeeper(sessionId: string, copyJob: string): Promise<void> {
    const w = this.#workload;
    const ns = this.#ctx.namespace;
    const keeper = { sessionId, namespace: ns, image: this.#options.image, copyJob, workload: w, workloadPath: workloadPath(w), user: this.#options.user, cliVersion: this.#options.cliVersion };
    const batch = this.#ctx.kc.makeApiClient(BatchV1Api);
    const rbac = this.#ctx.kc.makeApiClient(RbacAuthorizationV1Api);
    const name = keeperName(sessionId);
    this.#options.onProgress?.(`creating the scale keeper ${name} (ServiceAccount, Role, RoleBinding, Job)`);
    const call = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (err) {
        throw errorFromKubeCall(err, `${what} "${name}" in namespace "${ns}"`, this.#ctx.server);
      }
    };
    const job = await call('create Job', () => batch.createNamespacedJob({ namespace: ns, body: buildKeeperJob(keeper) }));
    this.#keeperCreated = name;
    const access = buildKeeperAccess(keeper, { name, uid: job.metadata?.uid ?? '' });
    await call('create ServiceAccount', () => this.#ctx.kc.makeApiClient(CoreV1Api).createNamespacedServiceAccount({ namespace: ns, body: access.serviceAccount }));
    await call('create Role', () => rbac.createNamespacedRole({ namespace: ns, body: access.role }));
    await call('create RoleBinding', () => rbac.createNamespacedRoleBinding({ namespace: ns, body: access.roleBinding }));
    await call('resume Job', () => batch.patchNamespacedJob({ namespace: ns, name, body: { spec: { suspend: false } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)));
    await this.#waitKeeper(sessionId, name);
  }

  async #waitKeeper(sessionId: string, name: string): Promise<void> {
    const deadline = Date.now() + this.#options.startupTimeoutMs;
    const core = this.#ctx.kc.makeApiClient(CoreV1Api);
    const labelSelector = `${CopyLabel.session}=${sessionId},${CopyLabel.component}=scale-keeper`;
    let podName: string | undefined;
    while (!podName) {
      if (Date.now() > deadline) throw new ClusterError('EKEEPERSTART', `the scale keeper ${name} has no pod after ${Math.round(this.#options.startupTimeoutMs / 1000)} s`, { hint: `see kubectl describe job ${name} -n ${this.#ctx.namespace}` });
      podName = (await core.listNamespacedPod({ namespace: this.#ctx.namespace, labelSelector })).items[0]?.metadata?.name;
      if (!podName) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    await watchPods(this.#ctx, {
      namespace: this.#ctx.namespace,
      select: { name: podName },
      initialProgress: `waiting for pod ${podName}`,
      deadline,
      onProgress: this.#options.onProgress,
      judge: (pod) => {
        const s = pod?.status?.containerStatuses?.[0];
        if (s?.state?.running) return { done: true };
        const reason = s?.state?.waiting?.reason;
        if (!pod || pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded' || s?.state?.terminated || (reason && reason !== 'ContainerCreating' && reason !== 'PodInitializing')) {
          return { failure: new ClusterError('EKEEPERSTART', `the scale keeper's pod ${podName} did not start (${reason ?? s?.state?.terminated?.reason ?? pod?.status?.phase ?? 'deleted'}); the workload was not scaled down`, { hint: `see kubectl describe pod ${podName} -n ${this.#ctx.namespace}; it runs the agent image (--agent-image)` }) };
        }
        return { progress: `scale keeper pod ${podName}: ${reason ?? pod.status?.phase ?? 'Pending'}` };
      },
      onTimeout: (last) => new ClusterError('EKEEPERSTART', `the scale keeper was not running after ${Math.round(this.#options.startupTimeoutMs / 1000)} s (last seen: ${last})`, { hint: `see kubectl describe pod ${podName} -n ${this.#ctx.namespace}` }),
    });
  }

  /** Records the count and scales to 0 in one guarded patch. @throws ClusterError ESCALEDOWNHELD. */
  async take(sessionId: string, copyJob: string): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const current = await this.#read();
      const annotations = current.metadata?.annotations;
      const held = readRecord(annotations);
      if (held) throw this.#heldError(held);
      const record: ScaleDownRecord = {
        session: sessionId, user: this.#options.user, replicas: current.spec?.replicas ?? 1, copyJob, keeperJob: keeperName(sessionId), since: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      };
      try {
        await this.#patch(scaleDownPatch(current.metadata?.resourceVersion ?? '', annotations !== undefined, record));
        this.#held = encodeRecord(record);
        return record.replicas;
      } catch (err) {
        // 422: the resourceVersion test failed (a controller wrote status in between): read again.
        if ((err as { code?: unknown }).code !== 422 || attempt >= 8) throw errorFromKubeCall(err, `scale down ${this.#workload.text}`, this.#ctx.server);
      }
    }
  }

  /** Puts the recorded count back if this session still holds the workload. Never throws; returns what happened. */
  async restore(): Promise<string> {
    clearInterval(this.#watchTimer);
    const held = this.#held;
    if (!held) return 'not scaled down';
    const replicas = (JSON.parse(held) as ScaleDownRecord).replicas;
    try {
      await this.#patch(restorePatch(held, replicas));
      this.#held = undefined;
      return `${this.#workload.text} scaled back to ${replicas}`;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 422 || code === 404) {
        this.#held = undefined;
        return `${this.#workload.text} was already restored`;
      }
      return `could not restore ${this.#workload.text} (${(err as Error).message}); the scale keeper will`;
    }
  }

  /** Notes about HorizontalPodAutoscalers of the workload (reading them is best effort). */
  async autoscalers(): Promise<string[]> {
    try {
      const list = await this.#ctx.kc.makeApiClient(AutoscalingV2Api).listNamespacedHorizontalPodAutoscaler({ namespace: this.#workload.namespace });
      return autoscalerNotes(list.items, this.#workload);
    } catch {
      return [];
    }
  }

  /**
   * Reads the held workload every few seconds and calls `onScaledBack` once when something else
   * (a GitOps sync, a person, a controller) set its replicas above 0 while this session holds it.
   */
  watchScaleBack(onScaledBack: (replicas: number, manager: string | undefined) => void): void {
    let told = false;
    this.#watchTimer = setInterval(() => {
      if (told || !this.#held) return;
      this.#read().then((w) => {
        const replicas = w.spec?.replicas ?? 0;
        // Our record gone means the hold was released (`kubectl mirrord kill`, or the keeper),
        // which put the count back itself: that is no scale-back by someone else.
        if (w.metadata?.annotations?.[SCALE_DOWN_ANNOTATION] !== this.#held) return;
        if (replicas > 0 && !told && this.#held) {
          told = true;
          onScaledBack(replicas, replicasManager(w.metadata?.managedFields));
        }
      }, () => {});
    }, SCALE_BACK_POLL_MS);
    this.#watchTimer.unref();
  }

  /** Deletes the keeper's Job; its ServiceAccount, Role and RoleBinding go with it (owner references). */
  async removeKeeper(): Promise<void> {
    const name = this.#keeperCreated;
    if (!name) return;
    if (await deleteJobReported(this.#ctx, name, `the scale keeper of ${this.#workload.text}`, this.#options.warn ?? stderrWarn)) this.#keeperCreated = undefined;
  }
}
