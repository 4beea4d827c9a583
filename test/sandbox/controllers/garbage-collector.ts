/**
 * A minimal garbage collector (pkg/controller/garbagecollector): dependents whose owners are gone
 * are deleted (background propagation); owners marked with the `foregroundDeletion` finalizer are
 * removed once their dependents are gone, after those dependents were deleted.
 */
import type { KObject } from '../contract.ts';
import { resourceByPlural } from '../apiserver/resources.ts';
import type { ControllerContext } from './manager.ts';

/** Kinds that can own and be owned in the sandbox. */
const PLURALS = ['deployments', 'replicasets', 'statefulsets', 'daemonsets', 'jobs', 'cronjobs', 'rollouts', 'pods', 'serviceaccounts', 'roles', 'rolebindings'];

function deleteDependent(ctx: ControllerContext, plural: string, obj: KObject, policy: 'Foreground' | 'Background'): void {
  if (obj.metadata.deletionTimestamp) return;
  ctx.registry.delete(resourceByPlural(plural)!, obj.metadata.namespace, obj.metadata.name, { propagationPolicy: policy });
}

/** One pass over every object that can own or be owned. */
export function garbageCollector(ctx: ControllerContext): void {
  const all = PLURALS.flatMap((plural) => ctx.store.list(plural).map((obj) => ({ plural, obj })));
  const byUid = new Map(all.map((e) => [e.obj.metadata.uid, e.obj]));
  for (const { plural, obj } of all) {
    const refs = obj.metadata.ownerReferences ?? [];
    if (refs.length === 0) continue;
    const owners = refs.map((r) => byUid.get(r.uid));
    if (owners.every((o) => o === undefined)) deleteDependent(ctx, plural, obj, 'Background');
    else if (owners.some((o) => o && ((o.metadata.finalizers as string[] | undefined) ?? []).includes('foregroundDeletion'))) deleteDependent(ctx, plural, obj, 'Foreground');
  }
  for (const { plural, obj } of all) {
    if (!((obj.metadata.finalizers as string[] | undefined) ?? []).includes('foregroundDeletion')) continue;
    const hasDependents = all.some((e) => (e.obj.metadata.ownerReferences ?? []).some((r) => r.uid === obj.metadata.uid) && ctx.store.get(e.plural, e.obj.metadata.namespace, e.obj.metadata.name));
    if (!hasDependents) ctx.store.remove(plural, obj.metadata.namespace, obj.metadata.name);
  }
}
