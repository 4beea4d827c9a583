/**
 * The exit-code table shown at the end of every `--help`. It is built from `ExitCode` so the
 * documentation cannot drift from what the program does.
 */
import { ExitCode } from '../errors.ts';

const MEANINGS: Record<keyof typeof ExitCode, string> = {
  ok: 'success',
  internal: 'unexpected internal error (a bug: please report it)',
  usage: 'bad flags or specs, or a command that is not built yet',
  kubeconfig: 'kubeconfig missing or unusable, or the API server unreachable',
  cluster: 'the cluster refused: RBAC, pod security admission, unknown namespace',
  agent: 'the agent failed to start, or the session with it failed',
  local: 'a local port is in use, or binding it was not permitted',
  disconnected: 'the agent connection dropped and --exit-on-disconnect was given, or kubectl mirrord kill ended the session',
  notExecutable: 'exec: the program is not executable (before it starts; afterwards exec exits with the program\'s own code)',
  notFound: 'exec: the program was not found',
  interrupted: 'interrupted (Ctrl-C)',
};

/** The "Exit codes:" help section. */
export function exitCodeHelp(): string {
  const rows = (Object.keys(ExitCode) as Array<keyof typeof ExitCode>).map(
    (key) => `  ${String(ExitCode[key]).padStart(3)}  ${MEANINGS[key]}`,
  );
  return `\nExit codes:\n${rows.join('\n')}\n`;
}
