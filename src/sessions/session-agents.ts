/**
 * The live agents of a namespace (or of all), found in the cluster's own objects: agent Jobs and
 * their pods carry our labels, and ephemeral agents are containers named `mirrord-agent-<id>` in
 * pod specs. Each agent's session facts come from its container's env (kube/session-meta.ts).
 * Pure: works on listed objects, makes no request.
 */
import type { V1Container, V1EphemeralContainer, V1Job, V1Pod } from '@kubernetes/client-node';
import { AGENT_APP_NAME, AgentLabel } from '../kube/agent-job.ts';
import { TARGET_CONTAINER_ID_ENV } from '../kube/node-agent-job.ts';
import { readSessionEnv, type SessionFacts } from '../kube/session-meta.ts';

/** `app.kubernetes.io/name=kubectl-mirrord-agent`: the agent Jobs and their pods. */
export const AGENT_SELECTOR = `${AgentLabel.name}=${AGENT_APP_NAME}`;
const EPHEMERAL_PREFIX = 'mirrord-agent-';

/** One running (or starting) agent, and where to read its log and tell it to stop. */
export interface SessionAgent {
  sessionId: string;
  kind: 'job' | 'ephemeral';
  /** The namespace of the agent's pod. */
  namespace: string;
  /** The agent's pod: the Job's pod, or the target pod holding the ephemeral container. */
  pod: string | undefined;
  container: string;
  /** The Job, for kind job. */
  job?: string;
  facts: Partial<SessionFacts>;
  /** ISO time the agent started (its Job was created, or its container started). */
  startedAt: string | undefined;
  /** Whether the agent's container runs now (a pending Job's pod does not yet). */
  running: boolean;
  /** A targeted Job agent's target container (`containerd://<id>`), which names the pod it works in. */
  targetContainerId?: string;
}

function jobFinished(job: V1Job): boolean {
  return (job.status?.conditions ?? []).some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
}

function isoTime(value: Date | string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return value instanceof Date ? value.toISOString() : value;
}

/** The agent container of a Job's pod, by the session env (the Job fallback renames nothing). */
function agentContainer(containers: readonly V1Container[]): V1Container | undefined {
  return containers.find((c) => readSessionEnv(c.env)) ?? containers.find((c) => c.name === 'agent');
}

/** Agents in Jobs: unfinished Jobs with our labels, with their pod if it exists. */
function jobAgents(jobs: readonly V1Job[], pods: readonly V1Pod[]): SessionAgent[] {
  const out: SessionAgent[] = [];
  for (const job of jobs) {
    const meta = job.metadata ?? {};
    if (meta.labels?.[AgentLabel.name] !== AGENT_APP_NAME || meta.deletionTimestamp || jobFinished(job)) continue;
    const sessionId = meta.labels?.[AgentLabel.session] ?? meta.name ?? '?';
    const pod = pods.find((p) => p.metadata?.namespace === meta.namespace && p.metadata?.labels?.[AgentLabel.session] === sessionId
      && p.metadata?.labels?.[AgentLabel.name] === AGENT_APP_NAME && !p.metadata?.deletionTimestamp);
    const container = agentContainer(job.spec?.template.spec?.containers ?? []);
    const status = pod?.status?.containerStatuses?.find((s) => s.name === container?.name);
    const targetContainerId = container?.env?.find((e) => e.name === TARGET_CONTAINER_ID_ENV)?.value;
    out.push({
      sessionId,
      kind: 'job',
      namespace: meta.namespace ?? '',
      pod: pod?.metadata?.name,
      container: container?.name ?? 'agent',
      job: meta.name,
      facts: { ...readSessionEnv(container?.env), ...(readSessionEnv(container?.env) ? {} : { user: meta.labels?.[AgentLabel.user] }) },
      startedAt: isoTime(meta.creationTimestamp),
      running: status?.state?.running !== undefined,
      ...(targetContainerId ? { targetContainerId } : {}),
    });
  }
  return out;
}

/** Agents in ephemeral containers that still run (a terminated one stays in the spec for good). */
function ephemeralAgents(pods: readonly V1Pod[]): SessionAgent[] {
  const out: SessionAgent[] = [];
  for (const pod of pods) {
    for (const c of (pod.spec?.ephemeralContainers ?? []) as V1EphemeralContainer[]) {
      if (!c.name.startsWith(EPHEMERAL_PREFIX)) continue;
      const facts = readSessionEnv(c.env);
      const state = pod.status?.ephemeralContainerStatuses?.find((s) => s.name === c.name)?.state;
      if (state?.terminated || pod.metadata?.deletionTimestamp) continue;
      out.push({
        sessionId: facts?.id ?? c.name.slice(EPHEMERAL_PREFIX.length),
        kind: 'ephemeral',
        namespace: pod.metadata?.namespace ?? '',
        pod: pod.metadata?.name,
        container: c.name,
        facts: facts ?? {},
        startedAt: isoTime(state?.running?.startedAt),
        running: state?.running !== undefined,
      });
    }
  }
  return out;
}

/** Every live agent among the listed Jobs and pods, Jobs first, each kind in list order. */
export function findSessionAgents(jobs: readonly V1Job[], pods: readonly V1Pod[]): SessionAgent[] {
  return [...jobAgents(jobs, pods), ...ephemeralAgents(pods)];
}
