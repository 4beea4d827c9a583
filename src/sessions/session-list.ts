/**
 * Lists the live sessions through the API server: Jobs and pods (one list each), then each running
 * agent's log through `pods/log`. A missing permission names itself: list on pods and jobs is
 * required; without get on pods/log the rows lack the ports and the CLI column (a warning says so).
 */
import { BatchV1Api, CoreV1Api, type V1Job, type V1Pod } from '@kubernetes/client-node';
import { ClusterError } from '../errors.ts';
import { errorFromKubeCall } from '../kube-api/api-errors.ts';
import type { KubeContext } from '../kube-api/kubeconfig.ts';
import { parseAgentLog, type AgentLogState } from './agent-events.ts';
import { AGENT_SELECTOR, findSessionAgents, type SessionAgent } from './session-agents.ts';
import { sessionRow, type SessionRow } from './session-rows.ts';

/** Logs read at once. */
const LOG_CONCURRENCY = 8;

export interface SessionListing {
  agents: SessionAgent[];
  /** Every pod listed (the namespace's, or all), for the holds' copies. */
  pods: V1Pod[];
  rows: SessionRow[];
  /** One line per namespace whose logs could not be read, naming the permission. */
  warnings: string[];
}

function where(namespace: string | undefined): string {
  return namespace === undefined ? 'all namespaces' : `namespace "${namespace}"`;
}

/** The error for a refused list, naming what status needs. */
function listError(err: unknown, ctx: KubeContext, namespace: string | undefined): Error {
  if ((err as { code?: unknown }).code === 403) {
    const scope = namespace === undefined ? '--all-namespaces (a ClusterRole)' : `namespace "${namespace}"`;
    return new ClusterError('EFORBIDDEN', `status needs list on pods and jobs.batch in ${scope}, which you may not do`, {
      hint: `ask a cluster admin for a Role granting list on pods and jobs.batch (and get on pods/log for the PORTS and CLI columns); check with kubectl auth can-i list pods${namespace === undefined ? ' -A' : ` -n ${namespace}`}`,
    });
  }
  return errorFromKubeCall(err, `list pods and jobs in ${where(namespace)}`, ctx.server);
}

/** Jobs with the agent label and every pod (ephemeral agents may sit in any pod). */
export async function listAgentObjects(ctx: KubeContext, namespace: string | undefined): Promise<{ jobs: V1Job[]; pods: V1Pod[] }> {
  const batch = ctx.kc.makeApiClient(BatchV1Api);
  const core = ctx.kc.makeApiClient(CoreV1Api);
  try {
    const [jobs, pods] = await Promise.all([
      namespace === undefined ? batch.listJobForAllNamespaces({ labelSelector: AGENT_SELECTOR }) : batch.listNamespacedJob({ namespace, labelSelector: AGENT_SELECTOR }),
      namespace === undefined ? core.listPodForAllNamespaces({}) : core.listNamespacedPod({ namespace }),
    ]);
    return { jobs: jobs.items, pods: pods.items };
  } catch (err) {
    throw listError(err, ctx, namespace);
  }
}

/** The agent's log parsed, `forbidden` on 403, or undefined when it cannot be read now. */
async function readLog(core: CoreV1Api, agent: SessionAgent): Promise<AgentLogState | 'forbidden' | undefined> {
  if (!agent.pod || !agent.running) return undefined;
  try {
    const text = await core.readNamespacedPodLog({ name: agent.pod, namespace: agent.namespace, container: agent.container });
    return parseAgentLog(typeof text === 'string' ? text : String(text));
  } catch (err) {
    if ((err as { code?: unknown }).code === 403) return 'forbidden';
    return undefined;
  }
}

async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]);
    }
  });
  await Promise.all(runners);
  return out;
}

/**
 * The sessions of a namespace, or of all when `namespace` is undefined.
 * @throws ClusterError EFORBIDDEN naming `list` on pods and jobs; KubeconfigError when unreachable.
 */
export async function listSessions(ctx: KubeContext, namespace: string | undefined, now: () => number = Date.now): Promise<SessionListing> {
  const { jobs, pods } = await listAgentObjects(ctx, namespace);
  const agents = findSessionAgents(jobs, pods);
  const core = ctx.kc.makeApiClient(CoreV1Api);
  const logs = await mapLimited(agents, LOG_CONCURRENCY, (a) => readLog(core, a));
  const forbidden = new Set(agents.filter((_, i) => logs[i] === 'forbidden').map((a) => a.namespace));
  const warnings = [...forbidden].map((ns) => `cannot read the agents' logs in namespace "${ns}" (status needs get on pods/log there): the PORTS and CLI columns are unknown`);
  const at = now();
  const rows = agents.map((a, i) => {
    const log = logs[i];
    return sessionRow(a, log === 'forbidden' ? undefined : log, at);
  });
  return { agents, pods, rows, warnings };
}
