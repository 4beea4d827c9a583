/**
 * The rows of `kubectl mirrord status`: one per live agent, from what its spec and its log say.
 * Pure: no request, the clock passed in.
 */
import { describePort, type AgentLogState } from './agent-events.ts';
import type { SessionAgent } from './session-agents.ts';

/** One session, as `status --json` prints it under `sessions`. */
export interface SessionRow {
  session: string;
  /** `job/mirrord-agent-1a2b3c4d`, or `pod/web-1 (ephemeral container mirrord-agent-1a2b3c4d)`. */
  agent: string;
  /** The agent's namespace. */
  namespace: string;
  /** As --target gave it (`deployment/web`), with the pod for an ephemeral agent; `-` without a target. */
  target: string;
  /** The target's namespace, or `-`. */
  targetNamespace: string;
  mode: string;
  /** `80 steal header=X-PG-Tenant: Avi.+`: the -R ports in force, from the agent's log. */
  ports: string[];
  /** `whoami/k8s-user@hostname`. */
  user: string;
  startedAt: string | undefined;
  ageSeconds: number | undefined;
  /** Whether a CLI is connected now; undefined when the log could not be read. */
  cliConnected: boolean | undefined;
  /** `running`, `starting` (pod not running yet) or `stopping` (told to stop). */
  state: 'running' | 'starting' | 'stopping';
}

/** The agent column: where the agent runs. */
export function describeAgent(agent: SessionAgent): string {
  if (agent.kind === 'job') return `job/${agent.job ?? '?'}`;
  return `pod/${agent.pod ?? '?'} (ephemeral container ${agent.container})`;
}

function describeTarget(agent: SessionAgent): string {
  const target = agent.facts.target;
  if (agent.kind === 'ephemeral') {
    const pod = `pod/${agent.pod ?? '?'}`;
    return target === undefined || target === pod ? pod : `${target} (${pod})`;
  }
  return target ?? '-';
}

/**
 * Builds one row.
 * @param log what the agent's log says; undefined when it could not be read (no pods/log
 *   permission, or the container has not started).
 */
export function sessionRow(agent: SessionAgent, log: AgentLogState | undefined, now: number): SessionRow {
  const started = agent.startedAt === undefined ? NaN : Date.parse(agent.startedAt);
  const ageSeconds = Number.isNaN(started) ? undefined : Math.max(0, Math.floor((now - started) / 1000));
  return {
    session: agent.sessionId,
    agent: describeAgent(agent),
    namespace: agent.namespace,
    target: describeTarget(agent),
    targetNamespace: agent.facts.targetNamespace ?? (agent.kind === 'ephemeral' ? agent.namespace : '-'),
    mode: agent.facts.mode ?? 'unknown',
    ports: log ? [...log.ports.values()].map(describePort) : [],
    user: agent.facts.user ?? 'unknown',
    startedAt: agent.startedAt,
    ageSeconds,
    cliConnected: log === undefined ? undefined : log.sessions > 0,
    state: log?.stopping ? 'stopping' : agent.running ? 'running' : 'starting',
  };
}

/** `4s`, `3m12s`, `2h5m`, `3d4h`: kubectl's AGE, a little finer. */
export function formatAge(seconds: number | undefined): string {
  if (seconds === undefined) return '-';
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${seconds % 60}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h${minutes % 60}m`;
  return `${Math.floor(hours / 24)}d${hours % 24}h`;
}

/** The CLI column. */
export function formatConnected(row: SessionRow): string {
  if (row.state === 'stopping') return 'stopping';
  if (row.cliConnected === undefined) return row.state === 'starting' ? 'starting' : '?';
  return row.cliConnected ? 'connected' : 'no';
}
