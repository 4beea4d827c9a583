/**
 * CronJob controller (pkg/controller/cronjob): at each scheduled time a Job from `jobTemplate`,
 * named `<cronjob>-<scheduled time in minutes since the epoch>` and owned by the CronJob;
 * `concurrencyPolicy` Allow, Forbid (skip while one is active) or Replace (delete the active ones);
 * `suspend`; `status.active` and `lastScheduleTime`; finished Jobs beyond
 * `successfulJobsHistoryLimit` (3) / `failedJobsHistoryLimit` (1) are deleted, oldest first.
 *
 * Schedules are the standard five fields (minute hour day-of-month month day-of-week) with `*`,
 * `a-b`, `/step` and lists. Sandbox-only, so tests need not wait for a minute boundary: the
 * annotation `sandbox.kubectl-mirrord/every-seconds: "N"` on a CronJob replaces its schedule with
 * "every N seconds" (a real cluster ignores the annotation; the product never writes it).
 */
import type { KObject } from '../contract.ts';
import { resourceByPlural } from '../apiserver/resources.ts';
import { recordEvent } from './events.ts';
import type { ControllerContext } from './manager.ts';
import { writeStatus } from './pods.ts';
import { latestScheduled, parseSchedule } from '../apiserver/cron-schedule.ts';

export const EVERY_SECONDS_ANNOTATION = 'sandbox.kubectl-mirrord/every-seconds';

function isFinished(job: KObject): 'Complete' | 'Failed' | undefined {
  const c = (job.status?.conditions ?? []).find((x: any) => (x.type === 'Complete' || x.type === 'Failed') && x.status === 'True');
  return c?.type;
}

function iso(t: number): string {
  return new Date(t).toISOString().replace(/\.\d+Z$/, 'Z');
}

function dueTime(cronJob: KObject, now: number): number | undefined {
  const last = Date.parse(cronJob.status?.lastScheduleTime ?? cronJob.metadata.creationTimestamp);
  const every = Number(cronJob.metadata.annotations?.[EVERY_SECONDS_ANNOTATION]);
  if (every > 0) return now >= last + every * 1000 ? now : undefined;
  const fields = parseSchedule(cronJob.spec?.schedule ?? '');
  return fields ? latestScheduled(fields, last, now) : undefined;
}

function createJob(ctx: ControllerContext, cronJob: KObject, scheduled: number): void {
  const template = cronJob.spec.jobTemplate ?? {};
  const name = `${cronJob.metadata.name}-${Math.floor(scheduled / 60_000)}${cronJob.metadata.annotations?.[EVERY_SECONDS_ANNOTATION] ? `-${Math.floor(scheduled / 1000) % 60}` : ''}`;
  if (ctx.store.get('jobs', cronJob.metadata.namespace, name)) return;
  ctx.registry.create(resourceByPlural('jobs')!, cronJob.metadata.namespace, {
    apiVersion: 'batch/v1', kind: 'Job',
    metadata: {
      name, labels: { ...(template.metadata?.labels ?? {}) },
      annotations: { ...(template.metadata?.annotations ?? {}), 'batch.kubernetes.io/cronjob-scheduled-timestamp': iso(scheduled) },
      ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: cronJob.metadata.name, uid: cronJob.metadata.uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: structuredClone(template.spec ?? {}),
  } as unknown as KObject);
  recordEvent(ctx.store, 'cronjob-controller', cronJob, 'Normal', 'SuccessfulCreate', `Created job ${name}`);
}

function trimHistory(ctx: ControllerContext, jobs: KObject[], kind: 'Complete' | 'Failed', limit: number): void {
  const finished = jobs.filter((j) => isFinished(j) === kind).sort((a, b) => Date.parse(a.metadata.creationTimestamp) - Date.parse(b.metadata.creationTimestamp));
  for (const j of finished.slice(0, Math.max(0, finished.length - limit))) {
    ctx.registry.delete(resourceByPlural('jobs')!, j.metadata.namespace, j.metadata.name, { propagationPolicy: 'Background' });
  }
}

function reconcileOne(ctx: ControllerContext, cronJob: KObject, now: number): void {
  if (cronJob.metadata.deletionTimestamp) return;
  const owned = () => ctx.store.list('jobs', cronJob.metadata.namespace).filter((j) => (j.metadata.ownerReferences ?? []).some((o) => o.uid === cronJob.metadata.uid) && !j.metadata.deletionTimestamp);
  const status: Record<string, any> = { ...(cronJob.status ?? {}) };
  const due = cronJob.spec?.suspend ? undefined : dueTime(cronJob, now);
  if (due !== undefined) {
    const active = owned().filter((j) => !isFinished(j));
    const policy = cronJob.spec?.concurrencyPolicy ?? 'Allow';
    if (policy === 'Forbid' && active.length > 0) {
      status.lastScheduleTime = iso(due);
    } else {
      if (policy === 'Replace') for (const j of active) ctx.registry.delete(resourceByPlural('jobs')!, j.metadata.namespace, j.metadata.name, { propagationPolicy: 'Background' });
      createJob(ctx, cronJob, due);
      status.lastScheduleTime = iso(due);
    }
  }
  const jobs = owned();
  trimHistory(ctx, jobs, 'Complete', Number(cronJob.spec?.successfulJobsHistoryLimit ?? 3));
  trimHistory(ctx, jobs, 'Failed', Number(cronJob.spec?.failedJobsHistoryLimit ?? 1));
  const active = jobs.filter((j) => !isFinished(j)).map((j) => ({ apiVersion: 'batch/v1', kind: 'Job', name: j.metadata.name, namespace: j.metadata.namespace, uid: j.metadata.uid, resourceVersion: j.metadata.resourceVersion }));
  if (active.length) status.active = active;
  else delete status.active;
  const succeeded = jobs.filter((j) => isFinished(j) === 'Complete').map((j) => j.status?.completionTime).filter(Boolean).sort();
  if (succeeded.length) status.lastSuccessfulTime = succeeded[succeeded.length - 1];
  if (JSON.stringify(status) !== JSON.stringify(cronJob.status ?? {})) writeStatus(ctx, 'cronjobs', cronJob, status);
}

/** One pass over every CronJob. */
export function cronJobController(ctx: ControllerContext): void {
  const now = Date.now();
  for (const cronJob of ctx.store.list('cronjobs')) reconcileOne(ctx, cronJob, now);
}
