/**
 * A tiny Argo Rollouts stand-in (not Argo): for each `argoproj.io/v1alpha1` Rollout, one
 * ReplicaSet `<rollout>-<hash>` from `spec.template`, labelled `rollouts-pod-template-hash` as Argo
 * labels its ReplicaSets and pods, scaled to `spec.replicas`; older ReplicaSets go to 0 (no canary
 * or blue-green steps). Status carries what targeting reads: `stableRS` and `currentPodHash` (the
 * hash), replica counts (`HPAReplicas` too, the scale subresource's statusReplicasPath in Argo's
 * CRD), `selector` (its labelSelectorPath), and phase Healthy once every
 * replica is available. Runs only while the Rollout CRD is installed.
 */
import type { KObject } from '../contract.ts';
import { resourceByPlural } from '../apiserver/resources.ts';
import { templateHash } from './deployment.ts';
import type { ControllerContext } from './manager.ts';
import { controllerRef, ownedObjects, writeStatus } from './pods.ts';

const HASH_LABEL = 'rollouts-pod-template-hash';

function ensureReplicaSet(ctx: ControllerContext, ro: KObject, hash: string): KObject {
  const name = `${ro.metadata.name}-${hash}`;
  const existing = ctx.store.get('replicasets', ro.metadata.namespace, name);
  if (existing) return existing;
  const template = structuredClone(ro.spec.template ?? {});
  template.metadata = { ...(template.metadata ?? {}), labels: { ...(template.metadata?.labels ?? {}), [HASH_LABEL]: hash } };
  const selector = structuredClone(ro.spec.selector ?? {});
  selector.matchLabels = { ...(selector.matchLabels ?? {}), [HASH_LABEL]: hash };
  return ctx.registry.create(resourceByPlural('replicasets')!, ro.metadata.namespace, {
    apiVersion: 'apps/v1', kind: 'ReplicaSet',
    metadata: { name, labels: template.metadata.labels, ownerReferences: [controllerRef(ro)] },
    spec: { replicas: Number(ro.spec.replicas ?? 1), selector, template },
  } as unknown as KObject);
}

function scale(ctx: ControllerContext, rs: KObject, replicas: number): void {
  if (rs.spec.replicas === replicas) return;
  ctx.store.update('replicasets', { ...rs, spec: { ...rs.spec, replicas } });
}

function reconcileOne(ctx: ControllerContext, ro: KObject): void {
  if (ro.metadata.deletionTimestamp || !ro.spec?.template) return;
  const hash = templateHash(ro.spec.template);
  const want = Number(ro.spec.replicas ?? 1);
  const current = ensureReplicaSet(ctx, ro, hash);
  scale(ctx, current, want);
  const owned = ownedObjects(ctx, 'replicasets', ro);
  for (const rs of owned) if (rs.metadata.uid !== current.metadata.uid) scale(ctx, rs, 0);
  const sum = (f: (rs: KObject) => number) => owned.reduce((n, rs) => n + f(rs), 0);
  const available = sum((rs) => rs.status?.availableReplicas ?? 0);
  const selector = Object.entries({ ...(ro.spec.selector?.matchLabels ?? {}) }).map(([k, v]) => `${k}=${v}`).join(',');
  const status = {
    ...(ro.status ?? {}),
    observedGeneration: String(ro.metadata.generation ?? 1),
    currentPodHash: hash, stableRS: hash,
    replicas: sum((rs) => rs.status?.replicas ?? 0), HPAReplicas: sum((rs) => rs.status?.replicas ?? 0), updatedReplicas: current.status?.replicas ?? 0,
    readyReplicas: sum((rs) => rs.status?.readyReplicas ?? 0), availableReplicas: available,
    selector, phase: available >= want ? 'Healthy' : 'Progressing',
  };
  if (JSON.stringify(status) !== JSON.stringify(ro.status ?? {})) writeStatus(ctx, 'rollouts', ro, status);
}

/** One pass over every Rollout (none while the CRD is absent). */
export function rolloutController(ctx: ControllerContext): void {
  if (!resourceByPlural('rollouts')) return;
  for (const ro of ctx.store.list('rollouts')) reconcileOne(ctx, ro);
}
