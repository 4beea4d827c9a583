/**
 * What an agent's pod spec says about its session, for `kubectl mirrord status` and `kill`: the
 * session id, who started it, the mode and the target, as environment variables of the agent's
 * container. Pure: builders and readers, no request.
 *
 * Why the environment and not labels or annotations: an ephemeral container has neither (core/v1
 * EphemeralContainer has no metadata), and adding it may not touch the pod's own metadata, which
 * would need `patch pods`; its `env` is in the pod's spec, which `list pods` returns. Labels stay on
 * Jobs for selection. The agent itself ignores these variables.
 */
import { hostname, userInfo } from 'node:os';
import type { KubeConfig, V1EnvVar } from '@kubernetes/client-node';

export const SessionEnv = {
  id: 'MIRRORD_SESSION_ID',
  /** `whoami/k8s-user@hostname`, as mirrord's operator status writes users. */
  user: 'MIRRORD_SESSION_USER',
  /** port-forward, steal, mirror, steal+mirror, exec: set by the command (SessionMode). */
  mode: 'MIRRORD_SESSION_MODE',
  /** The target as --target gave it (`deployment/web`); unset without a target. */
  target: 'MIRRORD_SESSION_TARGET',
  targetNamespace: 'MIRRORD_SESSION_TARGET_NAMESPACE',
} as const;

/**
 * The mode a command runs its session in. A label the command sets; `exec` is for `kubectl
 * mirrord exec` (not built yet), which sets it the same way.
 */
export type SessionMode = 'port-forward' | 'steal' | 'mirror' | 'steal+mirror' | 'exec';

/** What the command knows about its session before the agent exists. */
export interface SessionFacts {
  user: string;
  mode: SessionMode;
  target?: string;
  targetNamespace?: string;
}

/** The mode of a forwarding command from its -R modes (none: port-forward). */
export function forwardingMode(reverseModes: readonly ('steal' | 'mirror')[]): SessionMode {
  const steal = reverseModes.includes('steal');
  const mirror = reverseModes.includes('mirror');
  if (steal && mirror) return 'steal+mirror';
  return steal ? 'steal' : mirror ? 'mirror' : 'port-forward';
}

function localWhoami(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

/**
 * `whoami/k8s-user@hostname`. The k8s-user is the kubeconfig's user entry of the current context
 * (what the API server calls the user would need SelfSubjectReview, which not every cluster offers).
 */
export function sessionUser(kc: KubeConfig, whoami: string = localWhoami(), host: string = hostname()): string {
  return `${whoami}/${kc.getCurrentUser()?.name ?? 'unknown'}@${host}`;
}

/** The variables for the agent's container. */
export function sessionEnv(sessionId: string, facts: SessionFacts): V1EnvVar[] {
  const env: V1EnvVar[] = [
    { name: SessionEnv.id, value: sessionId },
    { name: SessionEnv.user, value: facts.user },
    { name: SessionEnv.mode, value: facts.mode },
  ];
  if (facts.target !== undefined) env.push({ name: SessionEnv.target, value: facts.target });
  if (facts.targetNamespace !== undefined) env.push({ name: SessionEnv.targetNamespace, value: facts.targetNamespace });
  return env;
}

/** Reads the session back from a container's env; undefined without a session id. */
export function readSessionEnv(env: readonly V1EnvVar[] | undefined): ({ id: string } & Partial<SessionFacts>) | undefined {
  const get = (name: string) => env?.find((e) => e.name === name)?.value;
  const id = get(SessionEnv.id);
  if (id === undefined) return undefined;
  return {
    id,
    user: get(SessionEnv.user),
    mode: get(SessionEnv.mode) as SessionMode | undefined,
    target: get(SessionEnv.target),
    targetNamespace: get(SessionEnv.targetNamespace),
  };
}
