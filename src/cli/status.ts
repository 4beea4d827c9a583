/**
 * `kubectl mirrord status [-n NS | -A] [--json]`: the live sessions (agents) of a namespace, read
 * from the cluster's objects and the agents' logs (sessions/session-list.ts), and the workloads
 * scale_down holds (sessions/scale-hold-list.ts), as tables or JSON.
 */
import type { Command } from 'commander';
import { addSessionScopeFlags, checkScope, type SessionScopeFlags } from './session-flags.ts';

interface StatusFlags extends SessionScopeFlags {
  json?: boolean;
}

export function registerStatus(program: Command): void {
  const command = program
    .command('status')
    .description('list the live sessions (agents) in a namespace, or in all with -A: who runs them, what they redirect, whether a CLI is connected; and the workloads scale_down holds');
  addSessionScopeFlags(command)
    .option('--json', 'print JSON: {sessions: [{session, agent, namespace, target, targetNamespace, mode, ports, user, startedAt, ageSeconds, cliConnected, state}], scaledDown: [{workload, namespace, session, user, replicas, since, copyJob, keeperJob, copy, keeper, agentSessions, alive}]}')
    .addHelpText('after', '\nExamples:\n  kubectl mirrord status\n  kubectl mirrord status -A --json\n  kubectl mirrord kill 1a2b3c4d\n\nNeeds list on pods and jobs.batch, get on pods/log for the PORTS and CLI columns, and list on deployments, statefulsets, replicasets (apps) and rollouts (argoproj.io) for the scaled-down workloads.\n')
    .action(async (flags: StatusFlags) => {
      checkScope(flags);
      const { runStatus } = await import('./run-status.ts');
      await runStatus(flags);
    });
}
