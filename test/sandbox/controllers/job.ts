/**
 * Job controller (pkg/controller/job) and TTL-after-finished controller: runs pods until
 * spec.completions succeed, fails the Job after backoffLimit pod failures or when
 * activeDeadlineSeconds passes (deleting its running pods), and deletes finished Jobs with their
 * pods once ttlSecondsAfterFinished has passed (Foreground, as the TTL controller deletes).
 */
import type { KObject } from '../contract.ts';
import { resourceByPlural } from '../apiserver/resources.ts';
import { recordEvent } from './events.ts';
import type { ControllerContext } from './manager.ts';
import { condition, createPodFor, deletePod, isPodActive, ownedObjects, writeStatus } from './pods.ts';

function nowIso(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** The Job controller's pod-failure backoff: 10 s doubling per failure, at most 6 min (pkg/controller/job/backoff_utils.go). */
function backoffOver(pods: KObject[], failed: number): boolean {
  if (failed === 0) return true;
  const finished = pods.flatMap((p) => (p.status?.containerStatuses ?? []).map((c: any) => Date.parse(c.state?.terminated?.finishedAt ?? c.lastState?.terminated?.finishedAt ?? '')))
    .filter((t) => !Number.isNaN(t));
  const last = finished.length ? Math.max(...finished) : 0;
  const delay = Math.min(10_000 * 2 ** (failed - 1), 360_000);
  return Date.now() >= last + delay;
}

function finishedCondition(job: KObject): any {
  return (job.status?.conditions ?? []).find((c: any) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
}

function expireIfDue(ctx: ControllerContext, job: KObject, finished: any): void {
  const ttl = job.spec?.ttlSecondsAfterFinished;
  if (ttl === undefined || ttl === null) return;
  const finishedAt = Date.parse(job.status?.completionTime ?? finished.lastTransitionTime);
  if (Date.now() < finishedAt + Number(ttl) * 1000) return;
  ctx.registry.delete(resourceByPlural('jobs')!, job.metadata.namespace, job.metadata.name, { propagationPolicy: 'Foreground' });
}

function fail(ctx: ControllerContext, job: KObject, reason: string, message: string, active: KObject[], status: Record<string, any>): void {
  active.forEach((p) => deletePod(ctx, p));
  const old = job.status?.conditions;
  status.conditions = [
    condition(old, { type: 'FailureTarget', status: 'True', reason, message }),
    condition(old, { type: 'Failed', status: 'True', reason, message }),
  ].map((c) => ({ ...c, lastProbeTime: c.lastTransitionTime }));
  delete status.active;
  recordEvent(ctx.store, 'job-controller', job, 'Warning', reason, message);
}

function reconcileOne(ctx: ControllerContext, job: KObject): void {
  if (job.metadata.deletionTimestamp) return;
  const finished = finishedCondition(job);
  if (finished) {
    expireIfDue(ctx, job, finished);
    return;
  }
  if (job.spec?.suspend) return;
  const pods = ownedObjects(ctx, 'pods', job);
  const active = pods.filter(isPodActive);
  const succeeded = pods.filter((p) => p.status?.phase === 'Succeeded').length;
  const failed = pods.filter((p) => p.status?.phase === 'Failed').length
    + pods.filter(isPodActive).reduce((n, p) => n + (p.status?.containerStatuses ?? []).reduce((m: number, c: any) => m + (c.restartCount ?? 0), 0), 0);
  const startTime = job.status?.startTime ?? nowIso();
  const status: Record<string, any> = { ...(job.status ?? {}), startTime, active: active.length, succeeded, failed, ready: active.filter((p) => (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True')).length, terminating: pods.filter((p) => p.metadata.deletionTimestamp).length, uncountedTerminatedPods: {} };
  const completions = Number(job.spec?.completions ?? 1);
  const deadline = job.spec?.activeDeadlineSeconds;
  if (succeeded >= completions) {
    status.completionTime = nowIso();
    const old = job.status?.conditions;
    status.conditions = [
      condition(old, { type: 'SuccessCriteriaMet', status: 'True', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' }),
      condition(old, { type: 'Complete', status: 'True', reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' }),
    ].map((c) => ({ ...c, lastProbeTime: c.lastTransitionTime }));
    delete status.active;
    active.forEach((p) => deletePod(ctx, p));
    recordEvent(ctx.store, 'job-controller', job, 'Normal', 'Completed', 'Job completed');
  } else if (deadline !== undefined && deadline !== null && Date.now() >= Date.parse(startTime) + Number(deadline) * 1000) {
    fail(ctx, job, 'DeadlineExceeded', 'Job was active longer than specified deadline', active, status);
  } else if (failed > Number(job.spec?.backoffLimit ?? 6)) {
    fail(ctx, job, 'BackoffLimitExceeded', 'Job has reached the specified backoff limit', active, status);
  } else {
    const want = backoffOver(pods, failed) ? Math.min(Number(job.spec?.parallelism ?? 1), completions - succeeded) - active.length : 0;
    for (let i = 0; i < want; i++) if (!createPodFor(ctx, job, 'job-controller')) break;
    status.active = ownedObjects(ctx, 'pods', job).filter(isPodActive).length;
  }
  for (const key of ['active', 'succeeded', 'failed', 'terminating']) if (status[key] === 0) delete status[key];
  writeStatus(ctx, 'jobs', job, status);
}

/** One pass over every Job. */
export function jobController(ctx: ControllerContext): void {
  for (const job of ctx.store.list('jobs')) reconcileOne(ctx, job);
}
