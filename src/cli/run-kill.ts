/**
 * Runs `kill`: finds the sessions (by id, or the user's own with --all-mine), ends each, and says
 * what it did, one line per session on stderr. Imported lazily.
 */
import { ClusterError, ExitCode, MirrordError } from '../errors.ts';
import { loadKubeContext } from '../kube-api/kubeconfig.ts';
import { checkNamespace } from '../kube/preflight.ts';
import { sessionUser } from '../kube/session-meta.ts';
import { killSession } from '../sessions/session-kill.ts';
import { findSessionAgents } from '../sessions/session-agents.ts';
import { listAgentObjects } from '../sessions/session-list.ts';
import { stderrColors as c } from '../ui/colors.ts';
import type { KillFlags } from './session-flags.ts';

const say = (line: string) => process.stderr.write(`${line}\n`);

/**
 * Ends the sessions; returns the exit code: 0 when every one ended, else the first failure's.
 * @throws ClusterError ENOSUCHSESSION when an id names no live session (nothing is ended then).
 */
export async function runKill(ids: string[], flags: KillFlags): Promise<ExitCode> {
  const ctx = loadKubeContext({ kubeconfigPath: flags.kubeconfig, context: flags.context, namespace: flags.namespace });
  const namespace = flags.allNamespaces ? undefined : ctx.namespace;
  if (namespace !== undefined) await checkNamespace(ctx);
  const { jobs, pods } = await listAgentObjects(ctx, namespace);
  const agents = findSessionAgents(jobs, pods);
  const where = namespace === undefined ? 'any namespace' : `namespace "${namespace}"`;
  const me = sessionUser(ctx.kc);
  const chosen = flags.allMine ? agents.filter((a) => a.facts.user === me) : agents.filter((a) => ids.includes(a.sessionId));
  const unknown = ids.filter((id) => !agents.some((a) => a.sessionId === id));
  if (unknown.length > 0) {
    throw new ClusterError('ENOSUCHSESSION', `no live session ${unknown.join(', ')} in ${where}`, {
      hint: namespace === undefined ? 'kubectl mirrord status -A lists the live sessions' : 'kubectl mirrord status lists them; -A looks in every namespace',
    });
  }
  if (chosen.length === 0) {
    say(`no sessions of ${me} in ${where}`);
    return ExitCode.ok;
  }
  let exitCode: ExitCode = ExitCode.ok;
  for (const agent of chosen) {
    try {
      const result = await killSession({ ...ctx, namespace: agent.namespace }, agent);
      say(`${c.green('ended')} session ${result.session}: ${result.done}`);
      if (result.warning) say(`${c.yellow('warning:')} ${result.warning}`);
    } catch (err) {
      if (!(err instanceof MirrordError)) throw err;
      say(`${c.red('error:')} session ${agent.sessionId}: ${err.message}`);
      if (err.hint) say(`${c.yellow('hint:')} ${err.hint}`);
      if (exitCode === ExitCode.ok) exitCode = err.exitCode;
    }
  }
  return exitCode;
}
