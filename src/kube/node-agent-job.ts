/**
 * The targeted agent's fallback, for clusters without ephemeral containers (or `--agent-mode job`):
 * a Job pinned to the target pod's node, in the host's PID namespace, whose agent enters the target
 * container's network namespace, as mirrord's targeted Job agent does. Pure: builds the manifest.
 *
 * How the agent finds the target: container runtimes put each container's processes in a cgroup
 * whose path holds the container id (containerd, CRI-O and Docker, with the cgroupfs and systemd
 * drivers alike), so the first process whose /proc/<pid>/cgroup mentions the id is in the target
 * container; `nsenter --target <pid> --net` then runs the agent in its network namespace. With
 * hostPID, /proc shows every process of the node. That needs CAP_SYS_ADMIN (setns) and
 * CAP_SYS_PTRACE (to open another user's /proc/<pid>/ns/net), and NET_ADMIN for iptables.
 *
 * The agent image must therefore hold /bin/sh, grep and nsenter (util-linux), and its agent at
 * AGENT_ENTRYPOINT, since `command` replaces the image's entrypoint.
 */
import type { V1Job } from '@kubernetes/client-node';
import { buildAgentJob, type AgentJobOptions } from './agent-job.ts';
import { AGENT_IMAGE_ENTRYPOINT } from './agent-image.ts';

/** The agent inside the agent image (the image's entrypoint). */
export const AGENT_ENTRYPOINT = [...AGENT_IMAGE_ENTRYPOINT];

/** Capabilities the Job's container adds (see the file comment). */
export const NODE_AGENT_CAPABILITIES = ['NET_ADMIN', 'SYS_ADMIN', 'SYS_PTRACE'];

/**
 * Finds the target container's first process and execs the agent ("$@") in its network namespace.
 * POSIX sh, so busybox and dash both run it.
 */
export const ENTER_TARGET_SCRIPT = [
  'id="${MIRRORD_TARGET_CONTAINER_ID##*://}"',
  'pid=""',
  'for f in /proc/[0-9]*/cgroup; do',
  '  if grep -q -- "$id" "$f" 2>/dev/null; then p="${f#/proc/}"; pid="${p%/cgroup}"; break; fi',
  'done',
  'if [ -z "$pid" ]; then echo "no process of container $id on this node (searched /proc/*/cgroup)" >&2; exit 3; fi',
  'exec nsenter --target "$pid" --net -- "$@"',
].join('\n');

export interface NodeAgentJobOptions extends AgentJobOptions {
  /** The target pod's node. */
  nodeName: string;
  /** The target container's id from its status: `containerd://<hex>`. */
  containerId: string;
  /** Where the agent listens, on the target pod's loopback. */
  port: number;
}

/** The Job manifest: the targetless Job's labels and lifetime, with the privileges entering needs. */
export function buildNodeAgentJob(options: NodeAgentJobOptions): V1Job {
  const job = buildAgentJob(options);
  const pod = job.spec!.template.spec!;
  const container = pod.containers[0];
  pod.nodeName = options.nodeName;
  delete pod.nodeSelector;
  pod.hostPID = true;
  // The target's node may be tainted (dedicated pools); the agent must run there or nowhere.
  pod.tolerations = [{ operator: 'Exists' }];
  pod.securityContext = { runAsNonRoot: false, runAsUser: 0, runAsGroup: 0, seccompProfile: { type: 'RuntimeDefault' } };
  container.command = ['/bin/sh', '-c', ENTER_TARGET_SCRIPT, 'kubectl-mirrord-agent', ...AGENT_ENTRYPOINT];
  container.env = [
    ...(container.env ?? []).filter((e) => e.name !== 'MIRRORD_AGENT_LISTEN'),
    { name: 'MIRRORD_AGENT_LISTEN', value: `127.0.0.1:${options.port}` },
    { name: 'MIRRORD_TARGET_CONTAINER_ID', value: options.containerId },
  ];
  container.securityContext = {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: false,
    runAsUser: 0,
    capabilities: { drop: ['ALL'], add: NODE_AGENT_CAPABILITIES },
  };
  return job;
}
