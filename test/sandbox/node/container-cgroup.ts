/**
 * Each container's cgroup, laid out as containerd's cgroupfs driver does for the kubelet
 * (`/kubepods/besteffort/pod<uid>/<container id>`), below a `kmsb` parent so it never mixes with a
 * real kubelet's. The container's processes join it before anything else runs, so
 * /proc/<pid>/cgroup names the container id as on a real node (proc(5), "/proc/pid/cgroup"): the
 * Job fallback agent finds its target that way (src/kube/node-agent-job.ts).
 *
 * The hierarchy is cgroup v2 when /sys/fs/cgroup is one, else the v1 `pids` hierarchy (or
 * systemd's named one). No controller is configured: the cgroup is there to be seen, not to limit.
 */
import { existsSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const CGROUP_ROOT = '/sys/fs/cgroup';
/** Everything of the sandbox's lives below this directory of the hierarchy. */
export const CGROUP_PARENT = 'kmsb';

/** The mounted hierarchy to use, or undefined when the host shows none. */
export function cgroupHierarchy(): string | undefined {
  if (existsSync(join(CGROUP_ROOT, 'cgroup.controllers'))) return CGROUP_ROOT;
  for (const name of ['pids', 'systemd']) {
    const dir = join(CGROUP_ROOT, name);
    if (existsSync(join(dir, 'cgroup.procs'))) return dir;
  }
  return undefined;
}

/** `<hierarchy>/kmsb/kubepods/besteffort/pod<uid>/<hex>` for a container. */
export function containerCgroup(hierarchy: string, podUid: string, containerHex: string): string {
  return join(hierarchy, CGROUP_PARENT, 'kubepods', 'besteffort', `pod${podUid}`, containerHex);
}

/** Removes empty cgroup directories below `dir`, deepest first, then `dir`; busy ones stay. */
export function removeCgroupTree(dir: string): void {
  if (!existsSync(dir)) return;
  for (const entry of readdirSync(dir)) {
    const child = join(dir, entry);
    try {
      if (statSync(child).isDirectory()) removeCgroupTree(child);
    } catch {
      // Gone meanwhile.
    }
  }
  try {
    rmdirSync(dir);
  } catch {
    // Still has processes (EBUSY) or already gone.
  }
}

/** The pids in `dir`'s cgroup and every cgroup below it. */
export function cgroupPids(dir: string): number[] {
  const pids: number[] = [];
  const walk = (d: string) => {
    try {
      for (const line of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (line) pids.push(Number(line));
      for (const entry of readdirSync(d)) if (statSync(join(d, entry)).isDirectory()) walk(join(d, entry));
    } catch {
      // Removed meanwhile.
    }
  };
  walk(dir);
  return pids;
}

/**
 * What containerd does when a container's main process exits: every process left in the
 * container's cgroup is killed (the shim runs `runc kill --all` / `runc delete`, which signal the
 * whole cgroup, libcontainer's signalAllProcesses). A container in a PID namespace of its own
 * loses them anyway when its PID 1 dies; a container sharing one (hostPID, an ephemeral container
 * in its target's) would keep them, and so would a detached child. SIGKILL, again until the cgroup
 * is empty, since a process may fork while it is being killed. Resolves with the pids killed.
 */
export async function killCgroup(dir: string): Promise<number[]> {
  const killed = new Set<number>();
  for (let round = 0; round < 200; round++) {
    const pids = cgroupPids(dir);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try { process.kill(pid, 'SIGKILL'); killed.add(pid); } catch { /* already gone */ }
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return [...killed];
}
