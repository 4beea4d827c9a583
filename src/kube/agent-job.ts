/**
 * The targetless agent as a Kubernetes Job. Pure: builds the manifest, makes no request.
 *
 * The pod has no privileges and passes Pod Security Admission "restricted"
 * (https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted): non-root,
 * allowPrivilegeEscalation false, all capabilities dropped, seccomp RuntimeDefault. It listens only
 * on the pod's loopback, which pods/portforward reaches and other pods cannot. It carries only the
 * SHA-256 of the session token, so reading the pod spec does not give the token away.
 */
import type { AgentImagePull } from './agent-image.ts';
import type { V1Job } from '@kubernetes/client-node';
import { sessionEnv, type SessionFacts } from './session-meta.ts';

/** The port the agent listens on inside its pod (its own network namespace, so any port works). */
export const AGENT_PORT = 7070;

export const AgentLabel = {
  name: 'app.kubernetes.io/name',
  managedBy: 'app.kubernetes.io/managed-by',
  session: 'kubectl-mirrord/session',
  user: 'kubectl-mirrord/user',
} as const;

export const AGENT_APP_NAME = 'kubectl-mirrord-agent';

/** Seconds a finished Job (and its pod) stays before the TTL controller deletes it. */
export const JOB_TTL_SECONDS = 60;
/** Last resort for an agent whose idle timeout somehow never fires: the Job controller kills it. */
export const JOB_ACTIVE_DEADLINE_SECONDS = 24 * 60 * 60;
/** The unprivileged uid/gid the agent runs as (the "nonroot" user of distroless images). */
const NONROOT_ID = 65532;

export interface AgentJobOptions {
  /** Short random id of this agent: the Job is `mirrord-agent-<sessionId>`. */
  sessionId: string;
  namespace: string;
  image: string;
  /** Hex SHA-256 of the session token. */
  tokenSha256: string;
  idleTimeoutMs: number;
  /** The local user's name, as a label value (see `labelValue`). */
  user: string;
  cliVersion: string;
  /** imagePullPolicy and imagePullSecrets; unset: the cluster's defaults. */
  pull?: AgentImagePull;
  /** Who started the session and how, for `kubectl mirrord status` (session-meta.ts). */
  session?: SessionFacts;
}

/**
 * Turns any text into a valid label value: at most 63 characters of [A-Za-z0-9_.-], starting and
 * ending with an alphanumeric character (Kubernetes label value syntax); `unknown` if nothing is left.
 */
export function labelValue(text: string): string {
  const cleaned = text.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 63).replace(/^[^A-Za-z0-9]+/, '').replace(/[^A-Za-z0-9]+$/, '');
  return cleaned === '' ? 'unknown' : cleaned;
}

export function agentJobName(sessionId: string): string {
  return `mirrord-agent-${sessionId}`;
}

/** The Job manifest for one agent. */
export function buildAgentJob(options: AgentJobOptions): V1Job {
  const labels = {
    [AgentLabel.name]: AGENT_APP_NAME,
    [AgentLabel.managedBy]: 'kubectl-mirrord',
    [AgentLabel.session]: options.sessionId,
    [AgentLabel.user]: labelValue(options.user),
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: agentJobName(options.sessionId), namespace: options.namespace, labels, annotations: { 'kubectl-mirrord/version': options.cliVersion } },
    spec: {
      backoffLimit: 0,
      ttlSecondsAfterFinished: JOB_TTL_SECONDS,
      activeDeadlineSeconds: JOB_ACTIVE_DEADLINE_SECONDS,
      template: {
        metadata: {
          labels,
          // Service meshes would put a proxy in front of the agent's loopback port and keep the pod
          // alive after the agent exits (a Job never completes with a sidecar still running).
          annotations: { 'sidecar.istio.io/inject': 'false', 'linkerd.io/inject': 'disabled' },
        },
        spec: {
          restartPolicy: 'Never',
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 5,
          nodeSelector: { 'kubernetes.io/os': 'linux' },
          ...(options.pull?.secrets.length ? { imagePullSecrets: options.pull.secrets.map((name) => ({ name })) } : {}),
          securityContext: {
            runAsNonRoot: true,
            runAsUser: NONROOT_ID,
            runAsGroup: NONROOT_ID,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: 'agent',
              image: options.image,
              ...(options.pull?.policy ? { imagePullPolicy: options.pull.policy } : {}),
              env: [
                { name: 'MIRRORD_AGENT_LISTEN', value: `127.0.0.1:${AGENT_PORT}` },
                { name: 'MIRRORD_AGENT_TOKEN_SHA256', value: options.tokenSha256 },
                { name: 'MIRRORD_AGENT_IDLE_TIMEOUT_MS', value: String(options.idleTimeoutMs) },
                ...(options.session ? sessionEnv(options.sessionId, options.session) : []),
              ],
              resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '512Mi' } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ['ALL'] },
                seccompProfile: { type: 'RuntimeDefault' },
              },
            },
          ],
        },
      },
    },
  };
}
