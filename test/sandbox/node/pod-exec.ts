/** `exec` of the SandboxNode contract: a command in one of a pod's running containers. */
import type { Readable } from 'node:stream';
import type { ExecOptions } from '../contract.ts';
import { execInContainer } from './container-exec.ts';
import type { PodWorker } from './pod-worker.ts';

/**
 * Starts `opts.command` in the container (the only one when unnamed). `tty` is not emulated: output
 * arrives on stdout/stderr as with a pipe. Throws for an unknown or stopped container.
 */
export function execInPod(worker: PodWorker, opts: ExecOptions): { stdin: NodeJS.WritableStream | null; stdout: Readable; stderr: Readable; exit: Promise<number> } {
  const c = worker.container(opts.container);
  if (!c) {
    const names = worker.containers.map((x) => x.name).join(' ');
    throw new Error(opts.container === undefined
      ? `a container name must be specified for pod ${worker.name}, choose one of: [${names}]`
      : `container ${opts.container} not found in pod ${worker.name}`);
  }
  const child = execInContainer(c, opts.command, [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe']);
  const exit = new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 + 9 : 1)));
    child.on('error', () => resolve(126));
  });
  return { stdin: child.stdin, stdout: child.stdout!, stderr: child.stderr!, exit };
}
