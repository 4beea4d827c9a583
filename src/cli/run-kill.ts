/**
 * Runs `kill`: finds the sessions (by id, or the user's own with --all-mine), ends each, and says
 * what it did, one line per session on stderr. A session id names an agent (as status lists it)
 * or a scale_down hold (its copy's id, the HELD BY column): a hold's agents are ended first, so
 * their CLI exits instead of starting another agent, then the workload is restored and the copy
 * and keeper are deleted. Imported lazily.
 */
import { ClusterError, ExitCode, MirrordError } from '../errors.ts';
import { loadKubeContext } from '../kube-api/kubeconfig.ts';
import { checkNamespace } from '../kube/preflight.ts';
import { sessionUser } from '../kube/session-meta.ts';
import { listHolds } from '../sessions/scale-hold-list.ts';
import { releaseHold } from '../sessions/scale-hold-release.ts';
import { chooseKillTargets } from '../sessions/kill-targets.ts';
import { killSession } from '../sessions/session-kill.ts';
import { findSessionAgents } from '../sessions/session-agents.ts';
import { listAgentObjects } from '../sessions/session-list.ts';
import { stderrColors as c } from '../ui/colors.ts';
import type { KillFlags } from './session-flags.ts';

const say = (line: string) => process.stderr.write(`${line}\n`);

/**
 * Ends the sessions; returns the exit code: 0 when every one ended, else the first failure's.
 * @throws ClusterError ENOSUCHSESSION when an id names no live session or hold (nothing is ended then).
 */
export async function runKill(ids: string[], flags: KillFlags): Promise<ExitCode> {
  const ctx = loadKubeContext({ kubeconfigPath: flags.kubeconfig, context: flags.context, namespace: flags.namespace });
  const namespace = flags.allNamespaces ? undefined : ctx.namespace;
  if (namespace !== undefined) await checkNamespace(ctx);
  const { jobs, pods } = await listAgentObjects(ctx, namespace);
  const agents = findSessionAgents(jobs, pods);
  const held = await listHolds(ctx, namespace, pods, agents);
  for (const w of held.warnings) say(`${c.yellow('warning:')} ${w}`);
  const where = namespace === undefined ? 'any namespace' : `namespace "${namespace}"`;
  const me = sessionUser(ctx.kc);
  const chosen = chooseKillTargets(ids, flags.allMine ? me : undefined, agents, held.holds);
  if (chosen.unknown.length > 0) {
    throw new ClusterError('ENOSUCHSESSION', `no live session or scale_down hold ${chosen.unknown.join(', ')} in ${where}`, {
      hint: namespace === undefined ? 'kubectl mirrord status -A lists the live sessions and holds' : 'kubectl mirrord status lists them; -A looks in every namespace',
    });
  }
  if (chosen.agents.length === 0 && chosen.holds.length === 0) {
    say(`no sessions of ${me} in ${where}`);
    return ExitCode.ok;
  }
  let exitCode: ExitCode = ExitCode.ok;
  const failed = (what: string, err: unknown) => {
    if (!(err instanceof MirrordError)) throw err;
    say(`${c.red('error:')} ${what}: ${err.message}`);
    if (err.hint) say(`${c.yellow('hint:')} ${err.hint}`);
    if (exitCode === ExitCode.ok) exitCode = err.exitCode;
  };
  for (const agent of chosen.agents) {
    try {
      const result = await killSession({ ...ctx, namespace: agent.namespace }, agent);
      say(`${c.green('ended')} session ${result.session}: ${result.done}`);
      if (result.warning) say(`${c.yellow('warning:')} ${result.warning}`);
    } catch (err) {
      failed(`session ${agent.sessionId}`, err);
    }
  }
  for (const hold of chosen.holds) {
    try {
      const result = await releaseHold({ ...ctx, namespace: hold.workload.namespace }, hold);
      say(`${c.green('released')} ${hold.workload.text} held by session ${hold.record.session}: ${result.done}`);
    } catch (err) {
      failed(`${hold.workload.text} held by session ${hold.record.session}`, err);
    }
  }
  return exitCode;
}
