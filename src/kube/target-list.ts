/**
 * The rows of `kubectl mirrord ls`: every target in the form `--target` accepts. Pure: built from
 * the objects target-api.ts reads, so the rules are unit tested with fake objects.
 *
 * Agent pods of kubectl-mirrord itself are left out (they are not something to target), and so
 * are finished pods (Succeeded, Failed), which cannot be targeted.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { AGENT_APP_NAME, AgentLabel } from './agent-job.ts';
import type { TargetObjects } from './target-api.ts';
import { formatTarget } from './target-spec.ts';

export interface TargetRow {
  namespace: string;
  /** `deployment/web`, `pod/web-1`, `pod/web-1/container/app`. */
  target: string;
  /** `2/3` ready replicas for a workload; `Running`, `Pending` ... for a pod. */
  status: string;
  containers: string[];
}

function podStatus(pod: V1Pod): string {
  if (pod.metadata?.deletionTimestamp) return 'Terminating';
  const waiting = pod.status?.containerStatuses?.find((s) => s.state?.waiting?.reason)?.state?.waiting?.reason;
  return waiting ?? pod.status?.phase ?? 'Pending';
}

function byNamespaceThenTarget(a: TargetRow, b: TargetRow): number {
  return a.namespace.localeCompare(b.namespace) || a.target.localeCompare(b.target);
}

/** Workloads first (as users usually target them), then pods, each sorted by namespace and name. */
export function targetRows(objects: TargetObjects): TargetRow[] {
  const workloads: TargetRow[] = [];
  for (const d of objects.deployments) {
    workloads.push({
      namespace: d.metadata?.namespace ?? '',
      target: formatTarget('deployment', d.metadata?.name ?? ''),
      status: `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 1} ready`,
      containers: (d.spec?.template.spec?.containers ?? []).map((c) => c.name),
    });
  }
  for (const s of objects.statefulSets) {
    workloads.push({
      namespace: s.metadata?.namespace ?? '',
      target: formatTarget('statefulset', s.metadata?.name ?? ''),
      status: `${s.status?.readyReplicas ?? 0}/${s.spec?.replicas ?? 1} ready`,
      containers: (s.spec?.template.spec?.containers ?? []).map((c) => c.name),
    });
  }
  for (const r of objects.rollouts ?? []) {
    workloads.push({
      namespace: r.metadata?.namespace ?? '',
      target: formatTarget('rollout', r.metadata?.name ?? ''),
      status: `${r.status?.readyReplicas ?? 0}/${r.spec?.replicas ?? 1} ready`,
      containers: (r.spec?.template?.spec?.containers ?? []).map((c: { name: string }) => c.name),
    });
  }
  for (const c of objects.cronJobs ?? []) {
    workloads.push({
      namespace: c.metadata?.namespace ?? '',
      target: formatTarget('cronjob', c.metadata?.name ?? ''),
      status: `${c.spec?.suspend ? 'suspended' : c.spec?.schedule ?? ''}, ${(c.status?.active ?? []).length} active`,
      containers: (c.spec?.jobTemplate.spec?.template.spec?.containers ?? []).map((x) => x.name),
    });
  }
  const pods: TargetRow[] = [];
  for (const pod of objects.pods) {
    if (pod.metadata?.labels?.[AgentLabel.name] === AGENT_APP_NAME) continue;
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    const containers = (pod.spec?.containers ?? []).map((c) => c.name);
    const ready = `${(pod.status?.containerStatuses ?? []).filter((s) => s.ready).length}/${containers.length}`;
    const status = `${ready} ${podStatus(pod)}`;
    pods.push({ namespace, target: formatTarget('pod', name), status, containers });
    // A pod with several containers can be targeted container by container.
    if (containers.length > 1) {
      for (const c of containers) pods.push({ namespace, target: formatTarget('pod', name, c), status, containers: [c] });
    }
  }
  return [...workloads.sort(byNamespaceThenTarget), ...pods.sort(byNamespaceThenTarget)];
}
