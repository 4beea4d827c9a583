/**
 * The pod's shared PID namespace for `shareProcessNamespace: true`: like the pause container, a
 * process that only sleeps as PID 1 of a new PID namespace (in the pod's network namespace), which
 * every container then joins. Containers can restart without taking the namespace down with them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { innerPid } from './container-launch.ts';

export class PodPause {
  readonly #proc: ChildProcess;

  constructor(netnsPath: string) {
    this.#proc = spawn('nsenter', [`--net=${netnsPath}`, '--', 'unshare', '--pid', '--fork', '--kill-child', 'sleep', 'infinity'], {
      stdio: 'ignore', detached: true,
    });
    // A spawn failure shows up as `pid()` never resolving to a PID; no unhandled 'error'.
    this.#proc.on('error', () => undefined);
  }

  /** Host PID of the namespace's PID 1, once it exists; rejects after ~2 s (fork failed). */
  async pid(): Promise<number> {
    for (let i = 0; i < 200; i++) {
      const pid = this.#proc.pid === undefined ? undefined : innerPid(this.#proc.pid);
      if (pid) return pid;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('the pod\'s shared PID namespace did not start (unshare --pid --fork)');
  }

  stop(): void {
    try { process.kill(-this.#proc.pid!, 'SIGKILL'); } catch { /* already gone */ }
  }
}
