/**
 * The commander program: one `register*` per command file. Building it imports nothing heavy, so
 * `--help` and `--version` stay fast; each action imports what it needs lazily.
 */
import { Command } from 'commander';
import { exitCodeHelp } from './exit-codes.ts';
import { registerExec } from './exec.ts';
import { registerKill } from './kill.ts';
import { registerLs } from './ls.ts';
import { registerPortForward } from './port-forward.ts';
import { registerSocks } from './socks.ts';
import { registerStatus } from './status.ts';
import { VERSION } from '../version.ts';

/** Builds the program. Commander's own usage errors are thrown (exitOverride) for the entry point. */
export function buildProgram(): Command {
  const program = new Command('kubectl mirrord')
    .description('Reach anything your Kubernetes cluster can reach: port-forward to any host, SOCKS5, and more, through one agent.')
    .version(VERSION, '--version', 'print the version')
    // exec passes everything after its program name to the program (passThroughOptions needs this).
    .enablePositionalOptions()
    .showHelpAfterError('hint: run with --help to see the accepted commands, flags and forms')
    .addHelpText('after', exitCodeHelp());
  registerPortForward(program);
  registerSocks(program);
  registerExec(program);
  registerLs(program);
  registerStatus(program);
  registerKill(program);
  for (const command of [program, ...program.commands]) {
    command.exitOverride();
    if (command !== program) command.addHelpText('after', exitCodeHelp());
  }
  return program;
}
