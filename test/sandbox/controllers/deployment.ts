/**
 * Deployment controller (pkg/controller/deployment), recreate-like: the ReplicaSet for the current
 * template (named `<deployment>-<pod-template-hash>`) gets spec.replicas, every older one 0. Status
 * and the Available/Progressing conditions are what `kubectl rollout status` and `kubectl wait` read.
 */
import { createHash } from 'node:crypto';
import type { KObject } from '../contract.ts';
import { resourceByPlural } from '../apiserver/resources.ts';
import type { ControllerContext } from './manager.ts';
import { condition, controllerRef, ownedObjects, writeStatus } from './pods.ts';

const SAFE_CHARS = 'bcdfghjklmnpqrstvwxz2456789';
const REVISION = 'deployment.kubernetes.io/revision';

/** A pod-template-hash: a hash of the template in the alphabet of rand.SafeEncodeString. */
export function templateHash(template: unknown): string {
  const digest = createHash('sha256').update(JSON.stringify(template)).digest();
  return [...digest.subarray(0, 10)].map((b) => SAFE_CHARS[b % SAFE_CHARS.length]).join('');
}

function newReplicaSet(ctx: ControllerContext, d: KObject, hash: string, revision: number): KObject {
  const template = structuredClone(d.spec.template);
  template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), 'pod-template-hash': hash } };
  const selector = structuredClone(d.spec.selector);
  selector.matchLabels = { ...(selector.matchLabels ?? {}), 'pod-template-hash': hash };
  return ctx.registry.create(resourceByPlural('replicasets')!, d.metadata.namespace, {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: {
      name: `${d.metadata.name}-${hash}`, namespace: d.metadata.namespace, labels: template.metadata.labels,
      annotations: { [REVISION]: String(revision), 'deployment.kubernetes.io/desired-replicas': String(d.spec.replicas), 'deployment.kubernetes.io/max-replicas': String(d.spec.replicas) },
      ownerReferences: [controllerRef(d)],
    },
    spec: { replicas: d.spec.replicas, selector, template },
  } as unknown as KObject);
}

function scale(ctx: ControllerContext, rs: KObject, replicas: number): void {
  if (rs.spec.replicas === replicas) return;
  rs.spec.replicas = replicas;
  ctx.store.update('replicasets', rs);
}

function reconcileOne(ctx: ControllerContext, d: KObject): void {
  if (d.metadata.deletionTimestamp) return;
  const hash = templateHash(d.spec.template);
  const owned = ownedObjects(ctx, 'replicasets', d);
  let current = owned.find((rs) => rs.metadata.labels?.['pod-template-hash'] === hash);
  const revisions = owned.map((rs) => Number(rs.metadata.annotations?.[REVISION] ?? 0));
  if (!current) current = newReplicaSet(ctx, d, hash, Math.max(0, ...revisions) + 1);
  scale(ctx, current, Number(d.spec.replicas ?? 1));
  for (const rs of owned) if (rs.metadata.uid !== current.metadata.uid) scale(ctx, rs, 0);
  const revision = current.metadata.annotations?.[REVISION];
  if (revision && d.metadata.annotations?.[REVISION] !== revision) {
    const fresh = ctx.store.get('deployments', d.metadata.namespace, d.metadata.name)!;
    fresh.metadata.annotations = { ...(fresh.metadata.annotations ?? {}), [REVISION]: revision };
    ctx.store.update('deployments', fresh);
  }
  writeStatus(ctx, 'deployments', d, deploymentStatus(ctx, d, current));
}

function deploymentStatus(ctx: ControllerContext, d: KObject, current: KObject): Record<string, unknown> {
  const all = ownedObjects(ctx, 'replicasets', d);
  const sum = (f: (rs: KObject) => number): number => all.reduce((n, rs) => n + f(rs), 0);
  const replicas = sum((rs) => rs.status?.replicas ?? 0);
  const ready = sum((rs) => rs.status?.readyReplicas ?? 0);
  const available = sum((rs) => rs.status?.availableReplicas ?? 0);
  const updated = ctx.store.get('replicasets', current.metadata.namespace, current.metadata.name)?.status?.replicas ?? 0;
  const want = Number(d.spec.replicas ?? 1);
  const complete = updated === want && replicas === want && available === want;
  const old = d.status?.conditions;
  const conditions = [
    condition(old, available >= want
      ? { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'Deployment has minimum availability.' }
      : { type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable', message: 'Deployment does not have minimum availability.' }, true),
    condition(old, complete
      ? { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: `ReplicaSet "${current.metadata.name}" has successfully progressed.` }
      : { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: `ReplicaSet "${current.metadata.name}" is progressing.` }, true),
  ];
  const status: Record<string, unknown> = { observedGeneration: d.metadata.generation, replicas, updatedReplicas: updated, conditions };
  if (ready) status.readyReplicas = ready;
  if (available) status.availableReplicas = available;
  if (replicas - available > 0) status.unavailableReplicas = replicas - available;
  if (!replicas) delete status.replicas;
  if (!updated) delete status.updatedReplicas;
  return status;
}

/** One pass over every Deployment. */
export function deploymentController(ctx: ControllerContext): void {
  for (const d of ctx.store.list('deployments')) reconcileOne(ctx, d);
}
