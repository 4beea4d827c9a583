/**
 * The CLI entry point (run by bin/kubectl-mirrord). Parses the command line, runs the command, and is
 * the only place that prints errors and sets the exit code.
 */
import { CommanderError } from 'commander';
import { ExitCode } from '../errors.ts';
import { buildProgram } from './program.ts';
import { reportError } from './report-error.ts';
import { PROXY_COMMAND } from './exec-pipe.ts';

const argv = process.argv.slice(2);
const verbose = argv.includes('-v') || argv.includes('--verbose');

// No top-level await: the single executable (scripts/release/) runs this file bundled as CommonJS,
// which has none.
if (argv[0] === PROXY_COMMAND) {
  // The exec proxy: this same executable re-run by `exec` (src/cli/exec-proxy.ts).
  void import('./exec-proxy.ts').then((proxy) => proxy.runProxy(argv.slice(1)));
} else buildProgram().parseAsync(argv, { from: 'user' }).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    // Commander has already printed its message (and the help hint). Help and --version end in 0;
    // every other commander error is bad usage.
    const helpOrVersion = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
    process.exitCode = helpOrVersion ? ExitCode.ok : ExitCode.usage;
  } else {
    process.exitCode = reportError(err, verbose);
  }
}).finally(() => {
  // A forwarding command has closed its listeners and removed its agent by now; lingering sockets or
  // timers (an HTTP keep-alive agent, a watch being torn down) must not keep the CLI alive.
  process.exit(process.exitCode ?? ExitCode.ok);
});
