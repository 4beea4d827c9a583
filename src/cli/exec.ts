/** `kubectl mirrord exec`: runs a local program with the cluster's network and environment. Not built yet. */
import type { Command } from 'commander';
import { notBuiltYet } from './not-built.ts';

export function registerExec(program: Command): void {
  program
    .command('exec')
    .description('run a local program with the cluster as its network (not built yet)')
    .argument('[command...]', 'the program and its arguments')
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw notBuiltYet('kubectl mirrord exec', 'the LD_PRELOAD exec layer (a later issue)');
    });
}
