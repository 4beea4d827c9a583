/**
 * The one error type of kubectl-mirrord. Every failure a user can see is a `MirrordError` subclass
 * with a stable `code` (tests and callers match on it, never on the message), a one-line `message`
 * that names what was wrong, an optional `hint` that says what would be accepted or what to do, and
 * the process exit code. Only the CLI entry point prints errors and exits.
 */

/** Process exit codes, documented in `kubectl mirrord --help`. */
export const ExitCode = {
  ok: 0,
  /** Anything unexpected: a bug. */
  internal: 1,
  /** Bad flags, specs or config: fix the command line. */
  usage: 2,
  /** The kubeconfig is missing or unusable, or the API server cannot be reached. */
  kubeconfig: 3,
  /** The cluster refused: RBAC, pod security admission, a missing namespace or target. */
  cluster: 4,
  /** The agent failed to start, or the session with it failed. */
  agent: 5,
  /** A local resource failed: port in use, permission denied binding a port. */
  local: 6,
  /** The agent connection dropped and `--exit-on-disconnect` was given, or `kubectl mirrord kill` ended the session. */
  disconnected: 7,
  /** exec: the program was found but cannot be run (not executable, a directory), as a shell says. */
  notExecutable: 126,
  /** exec: the program was not found (on PATH, or at the path given), as a shell says. */
  notFound: 127,
  /** Interrupted by the user (128 + SIGINT). */
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface MirrordErrorOptions {
  hint?: string;
  cause?: unknown;
}

export class MirrordError extends Error {
  /** Stable machine-readable identifier, e.g. `EPORTSPEC`. */
  readonly code: string;
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;

  constructor(code: string, message: string, exitCode: ExitCode, options: MirrordErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.exitCode = exitCode;
  }
}

/** Bad command-line input or config. */
export class UsageError extends MirrordError {
  constructor(code: string, message: string, options?: MirrordErrorOptions) {
    super(code, message, ExitCode.usage, options);
  }
}

/** The kubeconfig or the API server connection. */
export class KubeconfigError extends MirrordError {
  constructor(code: string, message: string, options?: MirrordErrorOptions) {
    super(code, message, ExitCode.kubeconfig, options);
  }
}

/** The cluster refused a request. */
export class ClusterError extends MirrordError {
  constructor(code: string, message: string, options?: MirrordErrorOptions) {
    super(code, message, ExitCode.cluster, options);
  }
}

/** The agent could not start, or the session with it broke. */
export class AgentError extends MirrordError {
  constructor(code: string, message: string, options?: MirrordErrorOptions) {
    super(code, message, ExitCode.agent, options);
  }
}

/** A resource on the user's machine: a port in use, a permission denied. */
export class LocalError extends MirrordError {
  constructor(code: string, message: string, options?: MirrordErrorOptions) {
    super(code, message, ExitCode.local, options);
  }
}
