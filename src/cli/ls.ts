/** `kubectl mirrord ls`: lists targets (pods, deployments). Not built yet. */
import type { Command } from 'commander';
import { notBuiltYet } from './not-built.ts';

export function registerLs(program: Command): void {
  program
    .command('ls')
    .description('list the targets an agent can attach to (not built yet)')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw notBuiltYet('kubectl mirrord ls', 'issue 5 (targets and incoming traffic)');
    });
}
