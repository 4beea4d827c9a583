/**
 * Runs a command inside a running container (exec probes, `kubectl exec`): nsenter joins all its
 * namespaces and its root (`-r`, the chroot) and working directory (`-w`), then the same capability
 * bounding set and environment as the container's own process.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import type { Container } from './container.ts';
import { containerCommand, setprivArgs } from './container-launch.ts';

/** Thrown when the container has no running process to join. */
export class ContainerNotRunningError extends Error {
  readonly code = 'CONTAINER_NOT_RUNNING';
}

/** Spawns `command` in `container`; throws ContainerNotRunningError if it is not running. */
export function execInContainer(container: Container, command: string[], stdio: StdioOptions): ChildProcess {
  const pid = container.pid;
  const spec = container.launched;
  if (!pid || !spec || !container.running) {
    throw new ContainerNotRunningError(`container ${container.name} is not running: cannot exec in a container that is not running`);
  }
  if (spec.enterRoot) {
    // An OCI image has no setpriv or env: join the mount namespace outside the root, where the
    // host's tools are, and let them enter the root last (container-launch.ts containerCommand).
    return spawn('nsenter', ['-t', String(pid), '-m', '-u', '-i', '-n', '-p', '--', ...containerCommand(spec, command)], { stdio });
  }
  const setpriv = setprivArgs(spec);
  const env = [...spec.env].map(([k, v]) => `${k}=${v}`);
  return spawn('nsenter', ['-t', String(pid), '-m', '-u', '-i', '-n', '-p', '-r', '-w', '--', ...setpriv, '--', 'env', '-i', ...env, ...command], { stdio });
}
