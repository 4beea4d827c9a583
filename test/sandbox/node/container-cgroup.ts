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
import { existsSync, readdirSync, rmdirSync, statSync } from 'node:fs';
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
