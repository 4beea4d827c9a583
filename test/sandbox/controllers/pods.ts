/** Helpers the workload controllers share: ownership, pod readiness, pods from templates. */
import type { KObject } from '../contract.ts';
import { ApiError } from '../apiserver/status.ts';
import { resourceByPlural } from '../apiserver/resources.ts';
import type { ControllerContext } from './manager.ts';
import { recordEvent } from './events.ts';

/** True when `obj` has a controller ownerReference to `owner`. */
export function isControlledBy(obj: KObject, owner: KObject): boolean {
  return (obj.metadata.ownerReferences ?? []).some((r) => r.uid === owner.metadata.uid && r.controller);
}

/** The objects of `plural` in the owner's namespace that `owner` controls. */
export function ownedObjects(ctx: ControllerContext, plural: string, owner: KObject): KObject[] {
  return ctx.store.list(plural, owner.metadata.namespace).filter((o) => isControlledBy(o, owner));
}

/** True when the pod's Ready condition is True (what Deployments and Endpoints count). */
export function isPodReady(pod: KObject): boolean {
  return (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
}

/** True for Succeeded and Failed pods. */
export function isPodFinished(pod: KObject): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** Pods that count as replicas: not being deleted and not finished. */
export function isPodActive(pod: KObject): boolean {
  return !pod.metadata.deletionTimestamp && !isPodFinished(pod);
}

/** A controller ownerReference to `owner`. */
export function controllerRef(owner: KObject): NonNullable<KObject['metadata']['ownerReferences']>[number] {
  return { apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid, controller: true, blockOwnerDeletion: true } as never;
}

/** Pod-creation failures per owner uid: no retry before `until` (ms), as a work queue's backoff would. */
const backoff = new Map<string, number>();
const RETRY_MS = 5000;

/**
 * Creates a pod from `owner`'s template through the registry (defaults and Pod Security admission
 * included). A refusal becomes a FailedCreate Warning event on the owner and a retry after a pause.
 * Returns whether a pod was created.
 */
export function createPodFor(ctx: ControllerContext, owner: KObject, component: string, extra: { name?: string; labels?: Record<string, string>; spec?: Record<string, unknown> } = {}): boolean {
  const uid = owner.metadata.uid;
  if ((backoff.get(uid) ?? 0) > Date.now()) return false;
  const template = owner.spec?.template ?? {};
  const namespace = owner.metadata.namespace!;
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      ...(extra.name ? { name: extra.name } : { generateName: `${owner.metadata.name}-` }),
      namespace,
      labels: { ...(template.metadata?.labels ?? {}), ...(extra.labels ?? {}) },
      annotations: template.metadata?.annotations,
      ownerReferences: [controllerRef(owner)],
    },
    spec: { ...structuredClone(template.spec ?? {}), ...(extra.spec ?? {}) },
  } as unknown as KObject;
  try {
    const created = ctx.registry.create(resourceByPlural('pods')!, namespace, pod);
    backoff.delete(uid);
    recordEvent(ctx.store, component, owner, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`);
    return true;
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    backoff.set(uid, Date.now() + RETRY_MS);
    recordEvent(ctx.store, component, owner, 'Warning', 'FailedCreate', `Error creating: ${err.message}`);
    return false;
  }
}

/** Deletes a pod the way a controller does (graceful, through the registry). */
export function deletePod(ctx: ControllerContext, pod: KObject): void {
  try {
    ctx.registry.delete(resourceByPlural('pods')!, pod.metadata.namespace, pod.metadata.name, {});
  } catch (err) {
    if (!(err instanceof ApiError) || err.code !== 404) throw err;
  }
}

/** Sets `status` if it differs (the store skips no-op writes). */
export function writeStatus(ctx: ControllerContext, plural: string, obj: KObject, status: unknown): void {
  ctx.store.updateStatus(plural, obj.metadata.namespace, obj.metadata.name, status);
}

/**
 * Carries a condition forward: keeps the old lastTransitionTime (and lastUpdateTime) when status
 * and reason are unchanged, so a steady state produces no writes.
 */
export function condition(old: any[] | undefined, next: { type: string; status: string; reason: string; message: string }, withUpdateTime = false): Record<string, string> {
  const prev = (old ?? []).find((c) => c.type === next.type);
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const same = prev && prev.status === next.status && prev.reason === next.reason && prev.message === next.message;
  const transition = prev && prev.status === next.status ? prev.lastTransitionTime : now;
  const result: Record<string, string> = { ...next, lastTransitionTime: transition };
  if (withUpdateTime) result.lastUpdateTime = same ? prev.lastUpdateTime ?? now : now;
  return result;
}
