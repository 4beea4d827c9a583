/**
 * The targeted agent as an ephemeral container in the target pod (what `kubectl debug --target`
 * does): pure builders for the container and its patch, and the judge of its status. No request.
 *
 * The container shares the pod's network namespace, so the agent sees the pod's ports and its
 * iptables redirect them; `targetContainerName` puts it in the target container's PID namespace
 * (https://kubernetes.io/docs/concepts/workloads/pods/ephemeral-containers/). It listens on the
 * pod's loopback, at a port the target is unlikely to use, which pods/portforward to the target
 * pod reaches.
 *
 * Ephemeral containers cannot be removed or restarted once added (the API allows adding only):
 * the agent exits by itself after its idle timeout, and its container stays in the pod's spec,
 * terminated, until the pod is replaced.
 */
import type { PullPolicy } from './agent-image.ts';
import type { V1EphemeralContainer, V1Pod, V1SecurityContext } from '@kubernetes/client-node';
import type { TargetIdentity } from './target-identity.ts';
import { AgentError, type MirrordError } from '../errors.ts';
import { sessionEnv, type SessionFacts } from './session-meta.ts';

/** Ports the agent may listen on in the target pod: below Linux's ephemeral range (32768+). */
export const EPHEMERAL_PORT_MIN = 20_000;
export const EPHEMERAL_PORT_MAX = 29_999;

export interface EphemeralAgentOptions {
  /** `mirrord-agent-<sessionId>`: unique per start, since a name can never be reused in a pod. */
  name: string;
  sessionId: string;
  /** Who started the session and how, for `kubectl mirrord status` (session-meta.ts). */
  session?: SessionFacts;
  image: string;
  targetContainer: string;
  port: number;
  tokenSha256: string;
  idleTimeoutMs: number;
  /** NET_ADMIN and NET_RAW (REDIRECT_CAPABILITIES) for iptables: only when -R steals or mirrors. */
  netAdmin: boolean;
  /**
   * Run as the target container's user, group and capabilities (target-identity.ts), so the agent
   * may read the target's environment and files with no capability added: for exec sessions that
   * steal nothing. With netAdmin (exec with incoming traffic): root with the redirect capabilities
   * and what reading the target needs (redirectingExecContext).
   */
  runAs?: TargetIdentity;
  /** The target container's runtime id (`containerd://<hex>`), by which the agent finds its main process. */
  targetContainerId?: string;
  /**
   * imagePullPolicy. (An ephemeral container has no pull secrets of its own: the target pod's
   * imagePullSecrets apply, core/v1 EphemeralContainer.)
   */
  pullPolicy?: PullPolicy;
}

/**
 * What -R needs: NET_ADMIN for iptables and ipset, and NET_RAW because iptables' `set` match
 * looks the set up through a raw socket (libxt_set opens SOCK_RAW and asks with SO_IP_SET; without
 * NET_RAW it fails "Can't open socket to ipset"), which the expiring redirects need
 * (agent/incoming/ipset.ts). NET_ADMIN already needs Pod Security "privileged", so NET_RAW
 * changes no admission outcome.
 */
export const REDIRECT_CAPABILITIES = ['NET_ADMIN', 'NET_RAW'] as const;

/** A random listening port in [EPHEMERAL_PORT_MIN, EPHEMERAL_PORT_MAX]. */
export function randomAgentPort(random: () => number = Math.random): number {
  return EPHEMERAL_PORT_MIN + Math.floor(random() * (EPHEMERAL_PORT_MAX - EPHEMERAL_PORT_MIN + 1));
}

export function ephemeralContainerName(sessionId: string): string {
  return `mirrord-agent-${sessionId}`;
}

/** The ephemeral container. */
export function buildEphemeralAgent(options: EphemeralAgentOptions): V1EphemeralContainer {
  return {
    name: options.name,
    image: options.image,
    ...(options.pullPolicy ? { imagePullPolicy: options.pullPolicy } : {}),
    targetContainerName: options.targetContainer,
    env: [
      { name: 'MIRRORD_AGENT_LISTEN', value: `127.0.0.1:${options.port}` },
      { name: 'MIRRORD_AGENT_TOKEN_SHA256', value: options.tokenSha256 },
      { name: 'MIRRORD_AGENT_IDLE_TIMEOUT_MS', value: String(options.idleTimeoutMs) },
      ...(options.session ? sessionEnv(options.sessionId, options.session) : []),
      ...(options.targetContainerId ? [{ name: 'MIRRORD_TARGET_CONTAINER_ID', value: options.targetContainerId }] : []),
    ],
    terminationMessagePolicy: 'FallbackToLogsOnError',
    securityContext: agentSecurityContext(options),
  };
}

/** The agent container's securityContext: NET_ADMIN as root for -R, the target's identity for exec, else the image's user with nothing. */
function agentSecurityContext(options: EphemeralAgentOptions): V1SecurityContext {
  if (options.netAdmin && options.runAs) return redirectingExecContext(options.runAs);
  if (options.netAdmin) {
    return {
      // iptables needs CAP_NET_ADMIN in the effective set, which only a root process gets from
      // capabilities.add (Kubernetes sets no ambient capabilities). The pod's own runAsNonRoot
      // would refuse that, so the container says so explicitly.
      runAsUser: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
      capabilities: { add: [...REDIRECT_CAPABILITIES], drop: ['ALL'] },
    };
  }
  const id = options.runAs;
  if (id) {
    return {
      runAsUser: id.uid,
      runAsGroup: id.gid,
      // Said explicitly either way, so the pod's own runAsNonRoot neither refuses a root target's
      // agent nor is weakened for a non-root one.
      runAsNonRoot: id.uid !== 0,
      allowPrivilegeEscalation: false,
      // The target's own: the kernel lets a reader see another process only with a superset of its
      // capabilities (target-identity.ts), and the agent must never hold more than the target.
      ...(id.capabilities ? { capabilities: structuredClone(id.capabilities) } : {}),
    };
  }
  return { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } };
}

/**
 * exec with incoming traffic: iptables needs root with NET_ADMIN and NET_RAW, and reading the
 * target's /proc/<pid>/environ and root needs what target-identity.ts says: effective capabilities
 * that include the target's permitted ones (so the target's own adds are kept and the runtime's
 * defaults not dropped beyond what the target drops), and CAP_SYS_PTRACE when the target's uid is
 * not root's (the agent's fsuid then differs from it).
 */
function redirectingExecContext(id: TargetIdentity): V1SecurityContext {
  const add = new Set<string>([...(id.capabilities?.add ?? []), ...REDIRECT_CAPABILITIES, ...(id.uid !== 0 ? ['SYS_PTRACE'] : [])]);
  const drop = (id.capabilities?.drop ?? []).filter((cap) => !add.has(cap));
  return {
    runAsUser: 0,
    runAsNonRoot: false,
    allowPrivilegeEscalation: false,
    capabilities: { add: [...add], ...(drop.length > 0 ? { drop } : {}) },
  };
}

/**
 * The strategic merge patch body for `pods/ephemeralcontainers`: ephemeralContainers merge by
 * name (patchMergeKey "name" in k8s.io/api/core/v1 PodSpec), so the pod's earlier ephemeral
 * containers stay as they are.
 */
export function ephemeralPatch(container: V1EphemeralContainer): { spec: { ephemeralContainers: V1EphemeralContainer[] } } {
  return { spec: { ephemeralContainers: [container] } };
}

const IMAGE_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);
const START_REASONS = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

/** What the pod says about the agent container: running, exited early (retry), a failure, or progress. */
export type EphemeralVerdict =
  | { done: 'running' | 'exited'; detail?: string }
  | { failure: MirrordError }
  | { progress: string };

/** Judges one version of the target pod for the ephemeral container `name`. */
export function judgeEphemeral(pod: V1Pod | undefined, name: string, image: string): EphemeralVerdict {
  if (!pod || pod.metadata?.deletionTimestamp) {
    return { failure: new AgentError('ETARGETLOST', `the target pod went away while the agent was starting`, { hint: 'run again: a workload target resolves to a current pod' }) };
  }
  const podName = pod.metadata?.name ?? '?';
  const status = pod.status?.ephemeralContainerStatuses?.find((s) => s.name === name);
  const waiting = status?.state?.waiting;
  if (waiting?.reason && IMAGE_REASONS.has(waiting.reason)) {
    return {
      failure: new AgentError('EIMAGEPULL', `cannot pull the agent image "${image}" into pod "${podName}": ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`, {
        hint: 'check that the target node can reach the registry (imagePullSecrets, mirror), or pass --agent-image / agent.image',
      }),
    };
  }
  if (waiting?.reason && START_REASONS.has(waiting.reason)) {
    return { failure: new AgentError('EAGENTSTART', `the agent container in pod "${podName}" cannot start: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`, { hint: `see kubectl describe pod ${podName}` }) };
  }
  const terminated = status?.state?.terminated;
  if (terminated) {
    const detail = `exit code ${terminated.exitCode}${terminated.reason ? `, ${terminated.reason}` : ''}${terminated.message ? `: ${terminated.message.trim().split('\n').pop()}` : ''}`;
    return { done: 'exited', detail };
  }
  if (status?.state?.running) return { done: 'running' };
  return { progress: waiting?.reason ? `agent container in pod ${podName}: ${waiting.reason}` : `adding the agent container to pod ${podName}` };
}
