/**
 * StatefulSet controller (pkg/controller/statefulset), OrderedReady: pods `<name>-0..n-1` created one
 * at a time, each only once the previous is Running and Ready; scale-down removes the highest
 * ordinal first; a template change replaces pods from the highest ordinal down, one at a time.
 */
import type { KObject } from '../contract.ts';
import { templateHash } from './deployment.ts';
import type { ControllerContext } from './manager.ts';
import { createPodFor, deletePod, isPodReady, ownedObjects, writeStatus } from './pods.ts';

function ordinalOf(set: KObject, pod: KObject): number {
  const suffix = pod.metadata.name.slice(set.metadata.name.length + 1);
  return /^\d+$/.test(suffix) ? Number(suffix) : -1;
}

function reconcileOne(ctx: ControllerContext, set: KObject): void {
  if (set.metadata.deletionTimestamp) return;
  const revision = `${set.metadata.name}-${templateHash(set.spec.template)}`;
  const want = Number(set.spec.replicas ?? 1);
  const pods = ownedObjects(ctx, 'pods', set).filter((p) => ordinalOf(set, p) >= 0);
  const byOrdinal = new Map(pods.map((p) => [ordinalOf(set, p), p]));
  const terminating = pods.some((p) => p.metadata.deletionTimestamp);
  if (!terminating) step(ctx, set, byOrdinal, want, revision);
  const live = ownedObjects(ctx, 'pods', set).filter((p) => !p.metadata.deletionTimestamp);
  const ready = live.filter(isPodReady).length;
  const updated = live.filter((p) => p.metadata.labels?.['controller-revision-hash'] === revision).length;
  const status: Record<string, unknown> = {
    observedGeneration: set.metadata.generation, replicas: live.length, currentReplicas: updated, updatedReplicas: updated,
    currentRevision: revision, updateRevision: revision, collisionCount: 0, availableReplicas: ready,
  };
  if (ready) status.readyReplicas = ready;
  writeStatus(ctx, 'statefulsets', set, status);
}

/** Does at most one thing per pass, as OrderedReady does. */
function step(ctx: ControllerContext, set: KObject, byOrdinal: Map<number, KObject>, want: number, revision: string): void {
  for (let i = 0; i < want; i++) {
    const pod = byOrdinal.get(i);
    if (!pod) {
      const name = `${set.metadata.name}-${i}`;
      const labels = { 'controller-revision-hash': revision, 'statefulset.kubernetes.io/pod-name': name, 'apps.kubernetes.io/pod-index': String(i) };
      createPodFor(ctx, set, 'statefulset-controller', { name, labels, spec: { hostname: name, subdomain: set.spec.serviceName } });
      return;
    }
    if (!isPodReady(pod)) return;
  }
  const extra = [...byOrdinal.keys()].filter((i) => i >= want).sort((a, b) => b - a);
  if (extra.length > 0) {
    deletePod(ctx, byOrdinal.get(extra[0])!);
    return;
  }
  const stale = [...byOrdinal.entries()].filter(([, p]) => p.metadata.labels?.['controller-revision-hash'] !== revision).sort((a, b) => b[0] - a[0]);
  if (stale.length > 0) deletePod(ctx, stale[0][1]);
}

/** One pass over every StatefulSet. */
export function statefulSetController(ctx: ControllerContext): void {
  for (const set of ctx.store.list('statefulsets')) reconcileOne(ctx, set);
}
