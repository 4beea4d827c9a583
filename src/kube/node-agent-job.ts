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
 * What keeps the Job from acting on the node itself, since a mistake here would rewrite the node's
 * iptables: the container id must have its runtime's form (64 hex digits after `containerd://`,
 * `cri-o://` or `docker://`), checked here before the Job is built and again by the script before
 * it reads /proc; and the script refuses a namespace that is PID 1's (with hostPID, the node's
 * init) or PID 2's (kthreadd: kernel threads live in the initial network namespace). It checks
 * both because PID 1's can be unreadable even with CAP_SYS_PTRACE (when PID 1 holds a capability
 * the agent's bounding set lacks, as on this project's test machines), and refuses when it can
 * read neither.
 * It holds the namespace open on fd 3 and enters that, so a pid reused in between cannot swap it.
 * Once inside, setpriv drops the bounding set to NET_ADMIN and NET_RAW (what -R needs, see
 * REDIRECT_CAPABILITIES in ephemeral-agent.ts) and SYS_PTRACE before the agent runs, so the agent
 * never holds SYS_ADMIN or SETPCAP (which dropping the bounding set takes, capabilities(7):
 * "CAP_SETPCAP ... drop capabilities from the bounding set"). SYS_PTRACE stays: the agent reads the
 * target's /proc/<pid>/environ and /proc/<pid>/root (exec's environment and files), which proc(5)
 * allows only under a ptrace read-access check, and a target with the runtime's default
 * capabilities is not a subset of NET_ADMIN+NET_RAW (security/commoncap.c).
 *
 * The agent image must therefore hold /bin/sh, grep, nsenter and setpriv (util-linux), and its
 * agent at AGENT_ENTRYPOINT, since `command` replaces the image's entrypoint.
 */
import type { V1Job } from '@kubernetes/client-node';
import { AgentError } from '../errors.ts';
import { buildAgentJob, type AgentJobOptions } from './agent-job.ts';
import { AGENT_IMAGE_ENTRYPOINT } from './agent-image.ts';

/** The agent inside the agent image (the image's entrypoint). */
export const AGENT_ENTRYPOINT = [...AGENT_IMAGE_ENTRYPOINT];

/** Capabilities the Job's container adds (see the file comment). */
export const NODE_AGENT_CAPABILITIES = ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN', 'SYS_PTRACE', 'SETPCAP'];

/** The runtimes whose container ids the Job can find, and the form of their ids. */
export const CONTAINER_ID_FORMAT = /^(containerd|cri-o|docker):\/\/([0-9a-f]{64})$/;

/** The variable naming the target container (`containerd://<64 hex>`); status links the agent to its target pod by it. */
export const TARGET_CONTAINER_ID_ENV = 'MIRRORD_TARGET_CONTAINER_ID';

/** The script's exit codes, which show in the Job pod's status. */
export const ENTER_EXIT = { badId: 4, notFound: 3, hostNamespace: 5 } as const;

/**
 * Checks a container status's id (`containerd://<64 hex>`) and returns it unchanged.
 * @throws AgentError EJOBFALLBACK naming the id and the accepted forms.
 */
export function checkContainerId(containerId: string): string {
  if (CONTAINER_ID_FORMAT.test(containerId)) return containerId;
  throw new AgentError('EJOBFALLBACK', `the target container's id ${JSON.stringify(containerId)} is not one the Job agent can look for: ` +
    'it takes containerd://, cri-o:// or docker:// followed by 64 hex digits', {
    hint: 'the pod\'s status.containerStatuses[].containerID has another form (another runtime?); use the ephemeral-container agent (--agent-mode ephemeral)',
  });
}

/**
 * Checks the id, finds the target container's first process, refuses the node's own network
 * namespace, and execs the agent ("$@") in the target's with only NET_ADMIN, NET_RAW and SYS_PTRACE.
 * POSIX sh (dash has `-ef`: same device and inode), so busybox and dash both run it.
 */
export const ENTER_TARGET_SCRIPT = [
  'raw="$MIRRORD_TARGET_CONTAINER_ID"',
  'id="${raw#*://}"',
  'case "$raw" in containerd://*|cri-o://*|docker://*) ;; *) id="";; esac',
  'case "$id" in *[!0-9a-f]*) id="";; esac',
  `if [ \${#id} -ne 64 ]; then echo "refusing MIRRORD_TARGET_CONTAINER_ID=$raw: not containerd://, cri-o:// or docker:// followed by 64 hex digits" >&2; exit ${ENTER_EXIT.badId}; fi`,
  'pid=""',
  'for f in /proc/[0-9]*/cgroup; do',
  '  if grep -q -- "$id" "$f" 2>/dev/null; then p="${f#/proc/}"; pid="${p%/cgroup}"; break; fi',
  'done',
  `if [ -z "$pid" ] || ! command exec 3<"/proc/$pid/ns/net"; then echo "no process of container $id on this node (searched /proc/*/cgroup)" >&2; exit ${ENTER_EXIT.notFound}; fi`,
  'host=""',
  'for n in 1 2; do if [ -e "/proc/$n/ns/net" ]; then host="$n"; if [ /proc/self/fd/3 -ef "/proc/$n/ns/net" ]; then',
  `  echo "refusing to run in the node's network namespace: process $pid of container $id shares it with PID $n" >&2; exit ${ENTER_EXIT.hostNamespace}; fi; fi; done`,
  `if [ -z "$host" ]; then echo "refusing to enter: cannot read the network namespace of PID 1 or 2 (kthreadd) to tell the node's from the target's" >&2; exit ${ENTER_EXIT.hostNamespace}; fi`,
  'exec nsenter --net=/proc/self/fd/3 -- setpriv --inh-caps=-all --bounding-set=-all,+net_admin,+net_raw,+sys_ptrace -- "$@"',
].join('\n');

export interface NodeAgentJobOptions extends AgentJobOptions {
  /** The target pod's node. */
  nodeName: string;
  /** The target container's id from its status: `containerd://<64 hex>`; checked by checkContainerId. */
  containerId: string;
  /** Where the agent listens, on the target pod's loopback. */
  port: number;
}

/** The Job manifest: the targetless Job's labels and lifetime, with the privileges entering needs. */
export function buildNodeAgentJob(options: NodeAgentJobOptions): V1Job {
  const containerId = checkContainerId(options.containerId);
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
    { name: TARGET_CONTAINER_ID_ENV, value: containerId },
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
