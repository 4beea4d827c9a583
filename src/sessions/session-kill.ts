/**
 * Ends one session from outside its CLI (`kubectl mirrord kill`):
 * - an ephemeral agent cannot be removed from its pod (the API only adds ephemeral containers), so
 *   it is told to stop: `pods/exec` of `agent.mjs stop` in its container (agent/stop.ts), on which
 *   it ends its sessions with GOAWAY `stopped`, removes its redirects and exits;
 * - a Job agent is told the same (so that its CLI ends instead of starting another agent), then
 *   its Job is deleted (Background propagation: the pod goes with it).
 * Missing permissions are named: create on pods/exec, delete on jobs.batch.
 */
import { BatchV1Api, CoreV1Api } from '@kubernetes/client-node';
import { ClusterError, MirrordError, AgentError } from '../errors.ts';
import { errorFromKubeCall } from '../kube-api/api-errors.ts';
import type { KubeContext } from '../kube-api/kubeconfig.ts';
import { AGENT_IMAGE_ENTRYPOINT } from '../kube/agent-image.ts';
import { execInPod } from '../kube/pod-exec.ts';
import { STOP_COMMAND } from './agent-events.ts';
import type { SessionAgent } from './session-agents.ts';

/** What kill did to one session, in words for the user. */
export interface KillResult {
  session: string;
  done: string;
  /** Something that did not work but did not keep the session alive. */
  warning?: string;
}

/** Exit codes of `agent.mjs stop` (agent/stop.ts). */
const STOP_NO_AGENT = 3;
/** How long kill waits for a signalled agent's container to show as terminated, ms. */
const TERMINATED_WAIT_MS = 20_000;
const POLL_MS = 250;

/** Whether the stop command's output says it signalled the agent. */
function signalled(stdout: string): boolean {
  return stdout.split('\n').some((line) => {
    try {
      return (JSON.parse(line) as { event?: unknown }).event === 'signalled';
    } catch {
      return false;
    }
  });
}

/** Whether the agent's container has terminated (or its pod is gone). */
async function containerEnded(ctx: KubeContext, agent: SessionAgent): Promise<boolean> {
  try {
    const pod = await ctx.kc.makeApiClient(CoreV1Api).readNamespacedPod({ name: agent.pod!, namespace: agent.namespace });
    if (pod.metadata?.deletionTimestamp) return true;
    const statuses = [...(pod.status?.containerStatuses ?? []), ...(pod.status?.ephemeralContainerStatuses ?? [])];
    return statuses.find((st) => st.name === agent.container)?.state?.terminated !== undefined;
  } catch (err) {
    if ((err as { code?: unknown }).code === 404) return true;
    throw errorFromKubeCall(err, `read pod "${agent.pod}" in namespace "${agent.namespace}"`, ctx.server);
  }
}

async function waitEnded(ctx: KubeContext, agent: SessionAgent): Promise<boolean> {
  const deadline = Date.now() + TERMINATED_WAIT_MS;
  while (Date.now() < deadline) {
    if (await containerEnded(ctx, agent)) return true;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
  return false;
}

function execForbidden(agent: SessionAgent): ClusterError {
  return new ClusterError('EFORBIDDEN', `kill needs create on pods/exec in namespace "${agent.namespace}" to tell the agent in pod "${agent.pod}" to stop, which you may not do`, {
    hint: `ask a cluster admin for a Role granting create (and, before Kubernetes 1.35, get) on pods/exec; check with kubectl auth can-i create pods/exec -n ${agent.namespace}`,
  });
}

/**
 * Tells the agent to stop; resolves once it stopped (or was not running any more).
 * @throws ClusterError EFORBIDDEN (pods/exec); AgentError EAGENTSTOP when it did not stop.
 */
async function stopAgent(ctx: KubeContext, agent: SessionAgent): Promise<void> {
  if (!agent.pod) return;
  let result;
  try {
    result = await execInPod(ctx.kc, { namespace: agent.namespace, pod: agent.pod, container: agent.container, command: [...AGENT_IMAGE_ENTRYPOINT, STOP_COMMAND] });
  } catch (err) {
    if (err instanceof MirrordError && err.code === 'EFORBIDDEN') throw execForbidden(agent);
    throw err;
  }
  if (result.exitCode === 0 || result.exitCode === STOP_NO_AGENT) return;
  // Once the agent exits, the runtime kills every process left in its container, the stop command
  // among them (exit 137, or a stream cut without a Status): the container's state says the rest.
  if (signalled(result.stdout)) {
    if (await waitEnded(ctx, agent)) return;
    throw new AgentError('EAGENTSTOP', `the agent of session ${agent.sessionId} in pod "${agent.pod}" was told to stop but still runs after ${TERMINATED_WAIT_MS / 1000} s`, {
      hint: `see kubectl logs ${agent.pod} -n ${agent.namespace} -c ${agent.container}`,
    });
  }
  const said = (result.stdout + result.stderr).trim() || result.message || `exit code ${result.exitCode}`;
  throw new AgentError('EAGENTSTOP', `the agent of session ${agent.sessionId} in pod "${agent.pod}" did not stop: ${said}`, {
    hint: `see kubectl logs ${agent.pod} -n ${agent.namespace} -c ${agent.container}`,
  });
}

async function deleteJob(ctx: KubeContext, agent: SessionAgent): Promise<void> {
  const name = agent.job!;
  try {
    await ctx.kc.makeApiClient(BatchV1Api).deleteNamespacedJob({ name, namespace: agent.namespace, propagationPolicy: 'Background' });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 404) return;
    if (code === 403) {
      throw new ClusterError('EFORBIDDEN', `kill needs delete on jobs.batch in namespace "${agent.namespace}" to remove Job "${name}", which you may not do`, {
        hint: `ask a cluster admin for a Role granting delete on jobs.batch; check with kubectl auth can-i delete jobs.batch -n ${agent.namespace}`,
      });
    }
    throw errorFromKubeCall(err, `delete Job "${name}" in namespace "${agent.namespace}"`, ctx.server);
  }
}

/** Ends one session. @throws MirrordError when it could not be ended, naming the permission. */
export async function killSession(ctx: KubeContext, agent: SessionAgent): Promise<KillResult> {
  if (agent.kind === 'ephemeral') {
    await stopAgent(ctx, agent);
    return { session: agent.sessionId, done: `the agent in pod ${agent.pod} (container ${agent.container}) stopped and removed its redirects` };
  }
  let warning: string | undefined;
  if (agent.running) {
    try {
      await stopAgent(ctx, agent);
    } catch (err) {
      // The Job's deletion still ends the agent; only its CLI may not learn that it was killed.
      warning = `${(err as Error).message}; the Job is deleted anyway, but its CLI may start another agent`;
    }
  }
  await deleteJob(ctx, agent);
  return { session: agent.sessionId, done: `Job ${agent.job} deleted`, ...(warning ? { warning } : {}) };
}
