/**
 * ReplicaSet controller (pkg/controller/replicaset): keeps spec.replicas active pods, newest and
 * not-ready ones removed first, and reports replicas/readyReplicas/availableReplicas.
 */
import type { KObject } from '../contract.ts';
import type { ControllerContext } from './manager.ts';
import { createPodFor, deletePod, isPodActive, isPodReady, ownedObjects, writeStatus } from './pods.ts';

/** Upstream's status without zero-valued optional fields (they are `omitempty`). */
export function replicaStatus(replicas: number, ready: number, generation: number | undefined, labeled = replicas): Record<string, number> {
  const status: Record<string, number> = { replicas };
  if (labeled) status.fullyLabeledReplicas = labeled;
  if (ready) status.readyReplicas = ready;
  if (ready) status.availableReplicas = ready;
  if (generation !== undefined) status.observedGeneration = generation;
  return status;
}

function reconcileOne(ctx: ControllerContext, rs: KObject): void {
  if (rs.metadata.deletionTimestamp) return;
  const pods = ownedObjects(ctx, 'pods', rs).filter(isPodActive);
  const want = Number(rs.spec?.replicas ?? 1);
  if (pods.length < want) {
    for (let i = pods.length; i < want; i++) {
      if (!createPodFor(ctx, rs, 'replicaset-controller')) break;
    }
  } else if (pods.length > want) {
    const victims = [...pods].sort((a, b) => Number(isPodReady(a)) - Number(isPodReady(b)) || b.metadata.creationTimestamp.localeCompare(a.metadata.creationTimestamp));
    victims.slice(0, pods.length - want).forEach((p) => deletePod(ctx, p));
  }
  const after = ownedObjects(ctx, 'pods', rs).filter(isPodActive);
  writeStatus(ctx, 'replicasets', rs, replicaStatus(after.length, after.filter(isPodReady).length, rs.metadata.generation));
}

/** One pass over every ReplicaSet. */
export function replicaSetController(ctx: ControllerContext): void {
  for (const rs of ctx.store.list('replicasets')) reconcileOne(ctx, rs);
}
