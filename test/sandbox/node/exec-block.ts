/**
 * The laptop's view of the cluster, for programs that tests run under `kubectl mirrord exec`: no
 * route to the pod and Service ranges. The host itself reaches them (the bridge's routes and
 * kube-proxy's OUTPUT DNAT), and a laptop never does, so a program that bypassed the layer would
 * still reach `ip-info` and a test would pass for the wrong reason.
 *
 * Processes in the cgroup v2 directory EXEC_BLOCK_CGROUP (and everything they start, which inherits
 * it) get their packets to the pod range, the Service range and the pod IPv6 range rejected on the
 * host's OUTPUT path (`-m cgroup --path`, iptables-extensions(8), matched against the socket's
 * cgroup v2 path). The filter table's OUTPUT runs after the nat table's, so a ClusterIP is already
 * DNAT'd to a pod IP there and the pod range covers it; the Service range is listed too, for
 * ClusterIPs without endpoints and the DNS address. The answer is ICMP net-unreachable, so
 * connect() fails at once with ENETUNREACH, as on a machine without a route, instead of hanging.
 *
 * The sandbox's daemon, the kubelet's processes and the benchmarks' reference paths are not in
 * that cgroup and keep their routes. test/support/exec-blocked.ts runs a command inside it.
 */
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { sh } from './sh.ts';
import { CHAIN_PREFIX, POD_CIDR, POD_CIDR6, SERVICE_CIDR } from './network-constants.ts';

/** The cgroup v2 path (relative to the v2 root) whose processes have no route into the cluster. */
export const EXEC_BLOCK_CGROUP = 'kmsb-exec-blocked';
export const EXEC_BLOCK_CHAIN = `${CHAIN_PREFIX}EXEC-BLOCK`;

/** Where cgroup v2 is mounted: /sys/fs/cgroup (unified) or /sys/fs/cgroup/unified (hybrid), else undefined. */
export function cgroup2Root(): string | undefined {
  for (const dir of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
    if (existsSync(join(dir, 'cgroup.controllers')) || existsSync(join(dir, 'cgroup.procs')) && existsSync(join(dir, 'cgroup.subtree_control'))) return dir;
  }
  return undefined;
}

/** The blocked cgroup's directory, or undefined when the host has no cgroup v2. */
export function execBlockCgroupDir(): string | undefined {
  const root = cgroup2Root();
  return root && join(root, EXEC_BLOCK_CGROUP);
}

function rules(family: 4 | 6): string {
  const reject = family === 4 ? '--reject-with icmp-net-unreachable' : '--reject-with icmp6-no-route';
  const ranges = family === 4 ? [POD_CIDR, SERVICE_CIDR] : [POD_CIDR6];
  return [
    '*filter',
    `:${EXEC_BLOCK_CHAIN} - [0:0]`,
    ...ranges.map((r) => `-A ${EXEC_BLOCK_CHAIN} -d ${r} -m comment --comment "kmsb: no route into the cluster for exec test programs" -j REJECT ${reject}`),
    `-I OUTPUT 1 -m cgroup --path ${EXEC_BLOCK_CGROUP} -m comment --comment "kmsb exec block" -j ${EXEC_BLOCK_CHAIN}`,
    'COMMIT', '',
  ].join('\n');
}

/**
 * Creates the cgroup and the rules (IPv4 and IPv6). Without cgroup v2 it does nothing and says so:
 * the tests that need the blocked context then fail with that message (exec-blocked.ts).
 */
export async function setupExecBlock(): Promise<void> {
  const dir = execBlockCgroupDir();
  if (!dir) {
    console.error('sandbox: no cgroup v2 on this host, so programs run under exec in tests keep the host\'s routes to pods');
    return;
  }
  mkdirSync(dir, { recursive: true });
  await sh('iptables-restore', ['--noflush'], { input: rules(4) });
  await sh('ip6tables-restore', ['--noflush'], { input: rules(6) });
}

/** Removes the cgroup directory when it is empty (the rules go with every KMSB- chain in cleanup.ts). */
export function removeExecBlockCgroup(): void {
  const dir = execBlockCgroupDir();
  if (!dir || !existsSync(dir)) return;
  try {
    rmdirSync(dir);
  } catch {
    // A test program still runs in it (EBUSY); the next cleanup removes it.
  }
}
