/**
 * Deleting a Job this CLI created, on exit or when an agent is replaced. A failure (other than
 * "already gone") is not an error of the command, whose exit code stays what it was, but the Job
 * would then live on until its TTL or the agent's idle timeout: the user is told, with the exact
 * kubectl command that deletes it.
 */
import { BatchV1Api } from '@kubernetes/client-node';
import { errorFromKubeCall } from '../kube-api/api-errors.ts';
import type { KubeContext } from '../kube-api/kubeconfig.ts';

/** Where cleanup problems are reported: one line each, without a trailing newline. */
export type CleanupWarn = (line: string) => void;

/** The default sink, for callers that give none. */
export const stderrWarn: CleanupWarn = (line) => process.stderr.write(`warning: ${line}\n`);

/** The command a user runs to delete the Job by hand. */
export function deleteJobCommand(namespace: string, name: string): string {
  return `kubectl delete job -n ${namespace} ${name}`;
}

/**
 * Deletes Job `name` in `ctx.namespace` with Background propagation (its pod goes with it).
 * Resolves true when the Job is gone (deleted now, or already: 404), false after reporting any
 * other failure through `warn`. Never rejects.
 * @param what what the Job is, for the message: "the agent", "the copy of deployment/web".
 */
export async function deleteJobReported(ctx: KubeContext, name: string, what: string, warn: CleanupWarn): Promise<boolean> {
  try {
    await ctx.kc.makeApiClient(BatchV1Api).deleteNamespacedJob({ name, namespace: ctx.namespace, propagationPolicy: 'Background' });
    return true;
  } catch (err) {
    if ((err as { code?: unknown }).code === 404) return true;
    const reason = errorFromKubeCall(err, `delete Job "${name}" in namespace "${ctx.namespace}"`, ctx.server).message;
    warn(`could not delete Job ${name} (${what}): ${reason}; delete it with: ${deleteJobCommand(ctx.namespace, name)}`);
    return false;
  }
}
