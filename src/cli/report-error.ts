/**
 * How the CLI entry point shows a failure: `error: <message>` then `hint: <hint>`, one line each, and
 * the stack only with --verbose. The only place that turns errors into text for the user.
 */
import { ExitCode, MirrordError } from '../errors.ts';
import { stderrColors as c } from '../ui/colors.ts';

/**
 * Writes the error to stderr and returns the exit code the process should end with.
 * @param verbose print the stack (and the cause chain) as well.
 */
export function reportError(err: unknown, verbose: boolean, write: (text: string) => void = (t) => process.stderr.write(t)): ExitCode {
  if (err instanceof MirrordError) {
    write(`${c.red('error:')} ${err.message}\n`);
    if (err.hint) write(`${c.yellow('hint:')} ${err.hint}\n`);
    if (verbose) writeStack(err, write);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  write(`${c.red('error:')} internal error: ${message}\n`);
  write(`${c.yellow('hint:')} this is a bug in kubectl-mirrord; run again with -v and report the output\n`);
  if (verbose) writeStack(err, write);
  return ExitCode.internal;
}

function writeStack(err: unknown, write: (text: string) => void): void {
  let current: unknown = err;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    write(`${c.dim(current.stack ?? String(current))}\n`);
    current = current.cause;
    if (current !== undefined) write(c.dim('caused by:\n'));
  }
}
