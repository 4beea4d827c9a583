/** `kubectl mirrord kill SESSION... | --all-mine`: ends sessions from outside their CLI. */
import type { Command } from 'commander';
import { UsageError } from '../errors.ts';
import { addSessionScopeFlags, checkScope, type KillFlags } from './session-flags.ts';

export function registerKill(program: Command): void {
  const command = program
    .command('kill')
    .description('end sessions by id (kubectl mirrord status lists them), or all of yours with --all-mine: Job agents are deleted, ephemeral agents stop and remove their redirects, scaled-down workloads are restored')
    .argument('[session...]', 'session ids, as kubectl mirrord status shows them (SESSION, or HELD BY for a scaled-down workload)');
  addSessionScopeFlags(command)
    .option('--all-mine', 'end every session and release every scale_down hold whose user is you (whoami/k8s-user@hostname)')
    .addHelpText('after', '\nExamples:\n  kubectl mirrord kill 1a2b3c4d\n  kubectl mirrord kill --all-mine -A\n\nNeeds list on pods and jobs.batch, create on pods/exec (to tell an agent to stop), and delete on jobs.batch;\nfor a scaled-down workload, list and patch on its resource (deployments.apps, ...).\n')
    .action(async (sessions: string[], flags: KillFlags) => {
      checkScope(flags);
      if (sessions.length === 0 && !flags.allMine) {
        throw new UsageError('EKILLWHAT', 'kill needs session ids or --all-mine', { hint: 'kubectl mirrord status lists the session ids' });
      }
      if (sessions.length > 0 && flags.allMine) {
        throw new UsageError('EKILLWHAT', 'give session ids or --all-mine, not both', { hint: 'kubectl mirrord kill 1a2b3c4d, or kubectl mirrord kill --all-mine' });
      }
      const bad = sessions.find((s) => !/^[0-9a-f]{8}$/.test(s));
      if (bad !== undefined) {
        throw new UsageError('ESESSIONID', `"${bad}" is not a session id`, { hint: 'a session id is 8 hex digits, as kubectl mirrord status shows it (e.g. 1a2b3c4d)' });
      }
      const { runKill } = await import('./run-kill.ts');
      process.exitCode = await runKill(sessions, flags);
    });
}
