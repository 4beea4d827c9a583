/**
 * Starts the guard (guard.ts) for the agent's chain and keeps the pipe to it. See guard.ts for why
 * a separate process: a SIGKILLed agent runs no cleanup of its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { AgentLog } from '../log.ts';

/**
 * The guard's entry point: guard.ts beside this file when run from source, guard.mjs beside the
 * bundle when run as the shipped agent (scripts/build.ts bundles both entry points into one folder).
 */
const GUARD_PATH = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './guard.ts' : './guard.mjs', import.meta.url));

/** A running guard. */
export class GuardHandle {
  readonly #child: ChildProcess;
  #stopping = false;

  /**
   * Spawns the guard for `chain` (in IPv6 too when `ip6tablesBinary` is given, and the chain's ipsets). It runs in its own session (detached) so that signals sent to the
   * agent's process group do not reach it, and is unref'd so it never keeps the agent alive.
   */
  constructor(iptablesBinary: string, ipsetBinary: string, chain: string, log: AgentLog, ip6tablesBinary?: string) {
    const args = [GUARD_PATH, iptablesBinary, chain, ipsetBinary, ...(ip6tablesBinary ? [ip6tablesBinary] : [])];
    this.#child = spawn(process.execPath, [...process.execArgv, ...args], {
      stdio: ['pipe', 'ignore', 'inherit'],
      detached: true,
    });
    this.#child.unref();
    // The pipe is the point: never let it keep the agent's event loop alive either.
    (this.#child.stdin as unknown as { unref?: () => void }).unref?.();
    this.#child.stdin?.on('error', () => {});
    this.#child.once('exit', (code, signal) => {
      if (!this.#stopping) log.warn('the iptables guard exited early; rules are not guarded against an agent crash', { code, signal });
    });
    log.debug('iptables guard started', { pid: this.#child.pid, chain });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Closes the pipe: the guard removes the chain (if still there) and exits. */
  stop(): void {
    this.#stopping = true;
    this.#child.stdin?.end();
    this.#child.stdin?.destroy();
  }
}
