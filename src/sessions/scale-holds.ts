/**
 * The workloads scale_down holds, found in the cluster's own objects: a held workload carries the
 * `kubectl-mirrord/scaled-down-by` annotation (kube/scale-down.ts), which names the holding
 * session, its copy's Job and its keeper's Job; whether those Jobs still run says whether anything
 * will give the workload back. Pure: works on listed objects, makes no request
 * (scale-hold-list.ts lists them, scale-hold-release.ts releases a hold).
 */
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { CopyLabel } from '../kube/copy-target.ts';
import { readRecord, SCALE_DOWN_ANNOTATION, type ScalableWorkload, type ScaleDownRecord } from '../kube/scale-down.ts';
import type { ListedWorkload } from '../kube/workload-api.ts';
import type { SessionAgent } from './session-agents.ts';

/**
 * A Job of the holding session: `running` (exists, not finished, not being deleted), `ended`
 * (failed, complete, or being deleted) or `gone` (not in the cluster).
 */
export type HolderJobState = 'running' | 'ended' | 'gone';

/** One held workload, and what restores it. */
export interface ScaleHold {
  workload: ScalableWorkload;
  record: ScaleDownRecord;
  /** The annotation's exact text: the restore patch `test`s it. */
  encoded: string;
  copy: HolderJobState;
  keeper: HolderJobState;
  /** The sessions (agents) that run in the hold's copy. */
  agentSessions: string[];
}

/** One hold, as `status --json` prints it under `scaledDown`. */
export interface HoldRow {
  /** `deployment/web`. */
  workload: string;
  namespace: string;
  /** The holding session: the copy's id (`mirrord-copy-<session>`), which `kill` takes. */
  session: string;
  user: string;
  /** The replica count a restore puts back (-1 when the record cannot be read). */
  replicas: number;
  /** When it was scaled down (ISO 8601), or `` when the record does not say. */
  since: string;
  copyJob: string;
  keeperJob: string;
  copy: HolderJobState;
  keeper: HolderJobState;
  agentSessions: string[];
  /** Whether the holding session is alive: its copy and its keeper both run. */
  alive: boolean;
}

function jobState(jobs: readonly V1Job[], namespace: string, name: string): HolderJobState {
  if (!name) return 'gone';
  const job = jobs.find((j) => j.metadata?.namespace === namespace && j.metadata?.name === name);
  if (!job) return 'gone';
  const finished = (job.status?.conditions ?? []).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
  return finished || job.metadata?.deletionTimestamp ? 'ended' : 'running';
}

/**
 * The sessions of the agents that work in a pod of the copy of session `copySession`: an
 * ephemeral agent in the copy pod itself, or a Job agent (another pod) whose target container is
 * one of the copy's.
 */
function agentsInCopy(agents: readonly SessionAgent[], pods: readonly V1Pod[], namespace: string, copySession: string): string[] {
  const copies = pods.filter((p) => p.metadata?.namespace === namespace && p.metadata.labels?.[CopyLabel.component] === 'copy' && p.metadata.labels[CopyLabel.session] === copySession);
  const copyPods = new Set(copies.map((p) => p.metadata?.name));
  const containerIds = new Set(copies.flatMap((p) => (p.status?.containerStatuses ?? []).map((s) => s.containerID).filter((id) => id)));
  return agents
    .filter((a) => (a.kind === 'ephemeral' && a.namespace === namespace && a.pod !== undefined && copyPods.has(a.pod)) || (a.targetContainerId !== undefined && containerIds.has(a.targetContainerId)))
    .map((a) => a.sessionId);
}

/**
 * The held workloads among `workloads`, with the state of their holders' Jobs.
 * @param jobs the Jobs of the namespaces looked at (at least those labelled managed-by kubectl-mirrord).
 * @param pods and agents: to name the sessions that run in each copy.
 */
export function findHolds(workloads: readonly ListedWorkload[], jobs: readonly V1Job[], pods: readonly V1Pod[], agents: readonly SessionAgent[]): ScaleHold[] {
  const out: ScaleHold[] = [];
  for (const { workload, object } of workloads) {
    const annotations = object.metadata?.annotations;
    const record = readRecord(annotations);
    if (!record) continue;
    out.push({
      workload,
      record,
      encoded: annotations![SCALE_DOWN_ANNOTATION],
      copy: jobState(jobs, workload.namespace, record.copyJob),
      keeper: jobState(jobs, workload.namespace, record.keeperJob),
      agentSessions: agentsInCopy(agents, pods, workload.namespace, record.session),
    });
  }
  return out;
}

export function holdRow(hold: ScaleHold): HoldRow {
  const r = hold.record;
  return {
    workload: hold.workload.text,
    namespace: hold.workload.namespace,
    session: r.session,
    user: r.user,
    replicas: r.replicas,
    since: r.since,
    copyJob: r.copyJob,
    keeperJob: r.keeperJob,
    copy: hold.copy,
    keeper: hold.keeper,
    agentSessions: hold.agentSessions,
    alive: hold.copy === 'running' && hold.keeper === 'running',
  };
}

/**
 * The HOLDER column: `alive` (with the agents in the copy), or why it is not and what gives the
 * workload back: the keeper (still running: it restores within its poll) or `kill`.
 */
export function describeHolderState(row: HoldRow): string {
  if (row.alive) return row.agentSessions.length > 0 ? `alive (agent ${row.agentSessions.join(', ')})` : 'alive';
  // An unreadable record has no count to restore, and kill refuses it (EHOLDUNREADABLE).
  if (row.replicas < 0) return `unreadable record: restore by hand (kubectl scale ${row.workload} -n ${row.namespace} --replicas=N, then kubectl annotate ${row.workload} -n ${row.namespace} ${SCALE_DOWN_ANNOTATION}-)`;
  const copy = row.copy === 'running' ? 'copy running' : `copy Job ${row.copy}`;
  if (row.keeper === 'running') return `ending: ${copy}; the keeper restores it`;
  if (row.copy === 'running') return `no keeper: copy running, keeper Job ${row.keeper}; if its CLI dies, kubectl mirrord kill ${row.session} restores it`;
  return `dead: ${copy}, keeper ${row.keeper}; kubectl mirrord kill ${row.session} restores it`;
}
