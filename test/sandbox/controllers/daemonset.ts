/**
 * DaemonSet controller: the sandbox has one node, so one pod per DaemonSet, replaced when the
 * template changes (labelled with controller-revision-hash as upstream does).
 */
import type { KObject } from '../contract.ts';
import { templateHash } from './deployment.ts';
import type { ControllerContext } from './manager.ts';
import { createPodFor, deletePod, isPodActive, isPodReady, ownedObjects, writeStatus } from './pods.ts';

function reconcileOne(ctx: ControllerContext, ds: KObject): void {
  if (ds.metadata.deletionTimestamp) return;
  const revision = templateHash(ds.spec.template);
  const pods = ownedObjects(ctx, 'pods', ds).filter(isPodActive);
  const stale = pods.filter((p) => p.metadata.labels?.['controller-revision-hash'] !== revision);
  stale.forEach((p) => deletePod(ctx, p));
  const current = pods.filter((p) => !stale.includes(p));
  const anyTerminating = ownedObjects(ctx, 'pods', ds).some((p) => p.metadata.deletionTimestamp);
  if (current.length === 0 && !anyTerminating) {
    createPodFor(ctx, ds, 'daemonset-controller', { labels: { 'controller-revision-hash': revision, 'pod-template-generation': String(ds.metadata.generation ?? 1) } });
  }
  const live = ownedObjects(ctx, 'pods', ds).filter(isPodActive);
  const ready = live.filter(isPodReady).length;
  const status: Record<string, unknown> = {
    currentNumberScheduled: live.length, desiredNumberScheduled: 1, numberMisscheduled: 0, numberReady: ready,
    observedGeneration: ds.metadata.generation, updatedNumberScheduled: live.filter((p) => p.metadata.labels?.['controller-revision-hash'] === revision).length,
  };
  if (ready) status.numberAvailable = ready;
  else status.numberUnavailable = 1;
  writeStatus(ctx, 'daemonsets', ds, status);
}

/** One pass over every DaemonSet. */
export function daemonSetController(ctx: ControllerContext): void {
  for (const ds of ctx.store.list('daemonsets')) reconcileOne(ctx, ds);
}
