/**
 * What the CLI and the exec proxy say to each other while the agent starts, over the proxy's fd 3
 * (a Unix socket pair). The CLI writes one JSON line (the ProxyStart), and later possibly `abort`.
 * The proxy writes JSON lines (progress, then ready or failed) and then ends its side. After
 * `ready` the CLI replaces itself with the program (execve closes its end: close-on-exec), so an
 * EOF after ready means "the program runs", and before ready "the CLI is gone: undo everything".
 */
import type { ForwardingPlan } from './forwarding-options.ts';
import type { ExecFeatures } from '../exec/exec-plan.ts';
import type { ProcessIdentity } from '../exec/program-watch.ts';

/** The internal command that runs the proxy (the CLI's own executable, re-invoked). */
export const PROXY_COMMAND = '__exec-proxy';
/** Its second stage, after the first stage has detached it (see proxy-main.ts). */
export const PROXY_DAEMON_FLAG = '--daemon';

export interface ProxyStart {
  forwarding: ForwardingPlan;
  features: ExecFeatures;
  /** The 0700 directory the CLI made; the proxy listens on `<dir>/proxy.sock` and removes it on exit. */
  socketDir: string;
  socketPath: string;
  logPath: string;
  /** The program as resolved, for log lines. */
  program: string;
  /** The CLI's own process, which becomes the program (execve keeps the pid): the proxy watches it. */
  programProcess: ProcessIdentity;
  /** What the CLI execs first (env(1) resetting signals), if anything; its HELLO is not the program's. */
  launcher: string | undefined;
  verbose: boolean;
}

export type ProxyEvent =
  | { type: 'progress'; text: string }
  /** The agent runs; `env` is the target container's environment ({} without a target). */
  | { type: 'ready'; env: Record<string, string>; agentPod: string | undefined; target: string | undefined; notes: string[] }
  | { type: 'failed'; code: string; message: string; hint: string | undefined; exitCode: number };

/** The CLI's line after the start: undo everything and exit. */
export const ABORT_LINE = 'abort';

/** Splits a byte stream into lines. */
export function lineReader(onLine: (line: string) => void): (chunk: Buffer) => void {
  let buffered = '';
  return (chunk) => {
    buffered += chunk.toString('utf8');
    let nl = buffered.indexOf('\n');
    while (nl !== -1) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line !== '') onLine(line);
      nl = buffered.indexOf('\n');
    }
  };
}
