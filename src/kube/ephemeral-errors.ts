/**
 * What a refused `pods/ephemeralcontainers` patch means, as an error a user can act on:
 * - Pod Security Admission: the API server answers 403 with `violates PodSecurity "baseline:latest":
 *   non-default capabilities (...)` (k8s.io/pod-security-admission, which checks ephemeral containers
 *   like the others); the namespace's `pod-security.kubernetes.io/enforce` label sets the level;
 * - RBAC: 403 without that text: `patch pods/ephemeralcontainers` is missing;
 * - no ephemeral containers: 404 or 405 on the subresource (clusters before 1.23, or the feature
 *   switched off), which the caller answers with the Job fallback (`ENOEPHEMERAL`).
 */
import { CoreV1Api } from '@kubernetes/client-node';
import { ClusterError, type MirrordError } from '../errors.ts';
import { errorFromKubeCall } from '../kube-api/api-errors.ts';
import type { KubeContext } from '../kube-api/kubeconfig.ts';
import type { ResolvedTarget } from './target-resolve.ts';
import { describeIdentity, type TargetIdentity } from './target-identity.ts';

function bodyMessage(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  if (typeof body !== 'string') return (err as Error).message ?? String(err);
  try {
    return (JSON.parse(body) as { message?: string }).message ?? body;
  } catch {
    return body;
  }
}

/** The namespace's enforce label, or undefined when it cannot be read. */
async function enforceLevel(ctx: KubeContext, namespace: string): Promise<string | undefined> {
  try {
    const ns = await ctx.kc.makeApiClient(CoreV1Api).readNamespace({ name: namespace });
    return ns.metadata?.labels?.['pod-security.kubernetes.io/enforce'];
  } catch {
    return undefined;
  }
}

/**
 * Pod Security's refusal of the ephemeral agent container. `askedNetAdmin`: the agent asked for
 * root with NET_ADMIN (-R, exec's incoming traffic), so an agent without them may still pass.
 */
export class EphemeralPodSecurityError extends ClusterError {
  readonly askedNetAdmin: boolean;

  constructor(message: string, hint: string, askedNetAdmin: boolean) {
    super('EPODSECURITY', message, { hint });
    this.askedNetAdmin = askedNetAdmin;
  }
}

/**
 * Pod security's rejection as an error naming the level and what would be accepted. `runAs`: the
 * agent asked for no more than the target's own identity (exec), so the policy forbids even that.
 */
export function podSecurityError(message: string, namespace: string, level: string | undefined, runAs?: TargetIdentity, netAdmin = false): EphemeralPodSecurityError {
  const m = /violates PodSecurity "([a-z]+):([^"]+)": (.*)$/s.exec(message);
  const enforced = level ?? m?.[1] ?? 'unknown';
  const detail = m?.[3] ?? message;
  if (runAs) {
    return new EphemeralPodSecurityError(`namespace "${namespace}" enforces Pod Security "${enforced}", which refused the agent container even though it asked for nothing beyond the target's own identity (${describeIdentity(runAs)}, the target's capabilities, no privilege escalation): ${detail}`,
      'the agent must run as the target\'s uid to read its environment and files (/proc/<pid>/environ and /proc/<pid>/root need the same uid, or CAP_SYS_PTRACE, which the policy forbids). ' +
        `Set runAsUser/runAsGroup in the target's securityContext so they are known, ask an admin to relax the namespace's policy (kubectl label ns ${namespace} pod-security.kubernetes.io/enforce=baseline --overwrite), or run without a target (no remote environment or files)`,
      false);
  }
  return new EphemeralPodSecurityError(`namespace "${namespace}" enforces Pod Security "${enforced}", which refused the agent container: ${detail}`,
    `-R and exec's incoming traffic need NET_ADMIN (exec without it: feature.network.incoming: "off"), which only the "privileged" level allows: label the namespace (kubectl label ns ${namespace} pod-security.kubernetes.io/enforce=privileged --overwrite), or run the agent as a Job in a namespace that allows it (--agent-mode job -a <namespace>)`,
    netAdmin);
}

/** Maps an error of the ephemeral container patch. */
/** `netAdmin`: the refused container asked for root with NET_ADMIN. */
export async function ephemeralPatchError(ctx: KubeContext, err: unknown, target: ResolvedTarget, runAs?: TargetIdentity, netAdmin = false): Promise<MirrordError> {
  const code = (err as { code?: unknown }).code;
  const message = bodyMessage(err);
  if (code === 403 && /PodSecurity/.test(message)) return podSecurityError(message, target.namespace, await enforceLevel(ctx, target.namespace), runAs, netAdmin);
  if (code === 403) {
    return new ClusterError('EFORBIDDEN', `you may not patch pods/ephemeralcontainers in namespace "${target.namespace}" (to add the agent to pod "${target.podName}"): ${message}`, {
      hint: `ask a cluster admin for a Role granting patch on pods/ephemeralcontainers, or use --agent-mode job; check with kubectl auth can-i patch pods/ephemeralcontainers -n ${target.namespace}`,
    });
  }
  if (code === 404 && new RegExp(`pods? "${target.podName}" not found`).test(message)) {
    return new ClusterError('ETARGETGONE', `the target pod "${target.podName}" is gone`, { hint: 'run again: a workload target resolves to a current pod' });
  }
  if (code === 404 || code === 405) {
    return new ClusterError('ENOEPHEMERAL', `this cluster does not offer ephemeral containers (pods/ephemeralcontainers answered ${code})`, {
      hint: 'use --agent-mode job: the agent then runs as a Job on the target\'s node',
    });
  }
  if (code === 422) {
    const asked = runAs ? ` (it asked to run as the target's ${describeIdentity(runAs)}, with the target's capabilities)` : '';
    return new ClusterError('EINVALIDAGENT', `the API server refused the agent container${asked}: ${message}`, { hint: 'an admission policy may forbid it; see the message' });
  }
  return errorFromKubeCall(err, `add the agent container to pod "${target.podName}" in namespace "${target.namespace}"`, ctx.server);
}
