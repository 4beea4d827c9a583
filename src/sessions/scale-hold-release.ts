/**
 * Releases one scale_down hold from outside its CLI (`kubectl mirrord kill`): the restore patch of
 * kube/scale-down.ts, with the annotation's exact text (so it never undoes a newer session's
 * hold), then the deletion of the copy's Job and the keeper's Job (Background propagation; the
 * keeper's ServiceAccount, Role and RoleBinding follow through their owner references). Works the
 * same whether the holding session is alive (its CLI then finds the workload already restored)
 * or dead (a CLI killed with -9 and a keeper that is gone too).
 */
import { BatchV1Api } from '@kubernetes/client-node';
import { ClusterError } from '../errors.ts';
import { errorFromKubeCall } from '../kube-api/api-errors.ts';
import type { KubeContext } from '../kube-api/kubeconfig.ts';
import { resourceName, restorePatch, SCALE_DOWN_ANNOTATION } from '../kube/scale-down.ts';
import { patchWorkload } from '../kube/workload-api.ts';
import type { ScaleHold } from './scale-holds.ts';

/** What the release did, in words. */
export interface ReleaseResult {
  done: string;
}

/** Puts the recorded count back; returns what happened. @throws ClusterError EFORBIDDEN naming patch. */
async function restore(ctx: KubeContext, hold: ScaleHold): Promise<string> {
  const w = hold.workload;
  const { replicas } = hold.record;
  if (replicas < 0) {
    throw new ClusterError('EHOLDUNREADABLE', `the ${SCALE_DOWN_ANNOTATION} annotation on ${w.text} in namespace "${w.namespace}" cannot be read, so the count to restore is unknown`, {
      hint: `restore it by hand: kubectl scale ${w.text} -n ${w.namespace} --replicas=N && kubectl annotate ${w.text} -n ${w.namespace} ${SCALE_DOWN_ANNOTATION}-`,
    });
  }
  try {
    await patchWorkload(ctx, w, restorePatch(hold.encoded, replicas));
    return `${w.text} scaled back to ${replicas}`;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    // 422: the annotation is no longer this record (its CLI or keeper restored it just now); 404: gone.
    if (code === 422) return `${w.text} was already restored`;
    if (code === 404) return `${w.text} is gone`;
    if (code === 403) {
      throw new ClusterError('EFORBIDDEN', `kill needs patch on ${resourceName(w)} in namespace "${w.namespace}" to restore ${w.text}, which you may not do`, {
        hint: `ask a cluster admin for a Role granting patch on ${resourceName(w)}; check with kubectl auth can-i patch ${resourceName(w)} -n ${w.namespace}`,
      });
    }
    throw errorFromKubeCall(err, `restore ${w.text} in namespace "${w.namespace}"`, ctx.server);
  }
}

/** Deletes one of the holder's Jobs; 404 is fine. @throws ClusterError EFORBIDDEN naming delete on jobs. */
async function deleteHolderJob(ctx: KubeContext, namespace: string, name: string): Promise<void> {
  if (!name) return;
  try {
    await ctx.kc.makeApiClient(BatchV1Api).deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 404) return;
    if (code === 403) {
      throw new ClusterError('EFORBIDDEN', `kill needs delete on jobs.batch in namespace "${namespace}" to remove Job "${name}", which you may not do`, {
        hint: `ask a cluster admin for a Role granting delete on jobs.batch; check with kubectl auth can-i delete jobs.batch -n ${namespace}`,
      });
    }
    throw errorFromKubeCall(err, `delete Job "${name}" in namespace "${namespace}"`, ctx.server);
  }
}

/**
 * Restores the workload, then removes the copy and the keeper. The restore comes first: with the
 * copy gone but the count not restored, the keeper would do it, but with the keeper gone too
 * nothing would.
 * @throws ClusterError naming the missing permission (patch on the workload, delete on jobs).
 */
export async function releaseHold(ctx: KubeContext, hold: ScaleHold): Promise<ReleaseResult> {
  const restored = await restore(ctx, hold);
  const ns = hold.workload.namespace;
  await deleteHolderJob(ctx, ns, hold.record.copyJob);
  await deleteHolderJob(ctx, ns, hold.record.keeperJob);
  const jobs = [hold.record.copyJob, hold.record.keeperJob].filter((j) => j);
  return { done: `${restored}${jobs.length > 0 ? `; ${jobs.length > 1 ? 'Jobs' : 'Job'} ${jobs.join(' and ')} deleted` : ''}` };
}
