/**
 * `npm run demo`'s flags, parsed without side effects (scripts/demo.ts prints and exits).
 *
 *   --interactive      pause before each step and at the end ("press Enter"); the default when
 *                      stdin is a terminal
 *   --no-interactive   run every step without pausing, then stop everything and exit
 *   --step N           run steps 1 to N (1-4) and stop there
 *   -h, --help         usage
 */
import { parseArgs } from 'node:util';

/** How many steps the demo has (scripts/demo/steps.ts). */
export const STEP_COUNT = 4;

export const ACCEPTED_FLAGS = `--interactive, --no-interactive, --step N (N from 1 to ${STEP_COUNT}), --help`;

export const USAGE = `usage: npm run demo [-- [--interactive | --no-interactive] [--step N] [--help]]

Brings up the sandbox cluster with the demo workload and walks through kubectl-mirrord:
  1. port-forward -L and SOCKS5 to the cluster
  2. exec: the ip-visit-counter runs on this machine with the pod's environment, files and DNS
  3. mirroring: the pod keeps answering, and the copy on this machine sees each request
  4. a header-filtered steal: only requests with "X-User: me" reach the copy on this machine
Each step prints the commands to try it yourself, and checks what it claims.

  --interactive      pause before each step and at the end (default when stdin is a terminal)
  --no-interactive   run every step without pausing, then stop everything and exit
  --step N           run steps 1 to N (N from 1 to ${STEP_COUNT})
  -h, --help         this text

Exit codes: 0 every step worked, 1 a step failed (named, with its evidence), 2 bad usage,
129 the terminal closed (SIGHUP), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
Every CLI process the demo started is stopped on every exit path, and the sandbox is
brought down only if the demo started it.`;

export interface DemoOptions {
  help: boolean;
  interactive: boolean;
  /** The last step to run, 1 to STEP_COUNT. */
  lastStep: number;
}

/** A bad command line; `message` names what was wrong and the accepted flags. */
export class UsageError extends Error {
  readonly exitCode = 2;
}

/**
 * Parses the demo's argv (without node and the script). `stdinIsTty` decides the default of
 * --interactive. @throws UsageError for an unknown flag, a stray argument or a bad --step.
 */
export function parseDemoArgs(argv: string[], stdinIsTty: boolean): DemoOptions {
  let values: { help?: boolean; interactive?: boolean; 'no-interactive'?: boolean; step?: string };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        interactive: { type: 'boolean' },
        'no-interactive': { type: 'boolean' },
        step: { type: 'string' },
      },
    }));
  } catch (err) {
    const reason = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '');
    throw new UsageError(`${reason}; accepted: ${ACCEPTED_FLAGS}`);
  }
  if (values.interactive && values['no-interactive']) {
    throw new UsageError(`--interactive and --no-interactive contradict each other; accepted: ${ACCEPTED_FLAGS}`);
  }
  let lastStep = STEP_COUNT;
  if (values.step !== undefined) {
    if (!/^[0-9]+$/.test(values.step) || Number(values.step) < 1 || Number(values.step) > STEP_COUNT) {
      throw new UsageError(`--step must be a whole number from 1 to ${STEP_COUNT}, not "${values.step}"; accepted: ${ACCEPTED_FLAGS}`);
    }
    lastStep = Number(values.step);
  }
  const interactive = values.interactive ?? (values['no-interactive'] ? false : stdinIsTty);
  return { help: values.help ?? false, interactive, lastStep };
}
