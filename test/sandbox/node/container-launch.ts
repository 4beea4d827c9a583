/**
 * Starts one container process: in the pod's network namespace (nsenter --net), in new mount, UTS,
 * IPC and PID namespaces (unshare ... --fork, so the command is PID 1 of its own PID namespace, as in
 * a container), chrooted into its rootfs, with the container runtime's capability bounding set
 * (setpriv) and exactly the container's environment (env -i).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { shellQuote } from './container-rootfs.ts';

/**
 * The default capabilities of containerd and Docker (containerd oci.DefaultCaps / moby
 * oci/caps/defaults.go). NET_ADMIN and SYS_ADMIN are deliberately not among them.
 */
export const DEFAULT_CAPABILITIES = [
  'CHOWN', 'DAC_OVERRIDE', 'FSETID', 'FOWNER', 'MKNOD', 'NET_RAW', 'SETGID', 'SETUID', 'SETFCAP',
  'SETPCAP', 'NET_BIND_SERVICE', 'SYS_CHROOT', 'KILL', 'AUDIT_WRITE',
];

/**
 * The bounding set for a securityContext: defaults + add − drop (names with or without `CAP_`,
 * `ALL` allowed in both), or undefined for privileged (keep everything).
 */
export function capabilitySet(securityContext: any): string[] | undefined {
  if (securityContext?.privileged) return undefined;
  const norm = (c: string) => c.toUpperCase().replace(/^CAP_/, '');
  const add: string[] = (securityContext?.capabilities?.add ?? []).map(norm);
  const drop: string[] = (securityContext?.capabilities?.drop ?? []).map(norm);
  if (add.includes('ALL')) return drop.includes('ALL') ? [] : undefined;
  let caps = drop.includes('ALL') ? [] : DEFAULT_CAPABILITIES.filter((c) => !drop.includes(c));
  caps = [...new Set([...caps, ...add])];
  return caps;
}

export interface LaunchSpec {
  netnsPath: string;
  /** mount-rootfs.sh from container-rootfs.ts. */
  rootfsScript: string;
  /** The rootfs directory the script chroots into. */
  root: string;
  argv: string[];
  env: Map<string, string>;
  workingDir: string;
  /** Bounding set; undefined = all (privileged). */
  capabilities: string[] | undefined;
  runAsUser?: number;
  runAsGroup?: number;
  logPath: string;
  /** Host PID of a process whose PID namespace to join (ephemeral container's target), instead of a new one. */
  joinPidOf?: number;
  /** hostPID: stay in the host's PID namespace (no fork: the spawned process becomes the container). */
  hostPid?: boolean;
  /** allowPrivilegeEscalation: false → the no_new_privs bit. */
  noNewPrivs?: boolean;
  /**
   * An OCI image's container: the rootfs script does not chroot, and the host's setpriv, env and
   * unshare (which the image does not have) enter `root` as the last step before the image's
   * program, as runc does in one process: capabilities, then environment, then root, working
   * directory and user (`unshare --root --wd --setuid --setgid`).
   */
  enterRoot?: boolean;
  /** The cgroup directory the container's first process joins before anything else runs. */
  cgroup?: string;
}

function namespaceArgs(spec: LaunchSpec): string[] {
  const base = ['nsenter', `--net=${spec.netnsPath}`];
  if (spec.hostPid) return [...base, '--', 'unshare', '--mount', '--uts', '--ipc'];
  // nsenter forks after joining a PID namespace, so its child is the container's first process.
  if (spec.joinPidOf !== undefined) return [...base, `--pid=/proc/${spec.joinPidOf}/ns/pid`, '--', 'unshare', '--mount', '--uts', '--ipc'];
  return [...base, '--', 'unshare', '--mount', '--uts', '--ipc', '--pid', '--fork', '--kill-child'];
}

/** The setpriv options for a container's identity and capabilities. */
export function setprivArgs(spec: Pick<LaunchSpec, 'capabilities' | 'runAsUser' | 'runAsGroup' | 'noNewPrivs'>): string[] {
  const args = ['setpriv', '--inh-caps=-all'];
  if (spec.capabilities) args.push(`--bounding-set=-all${spec.capabilities.map((c) => `,+${c.toLowerCase()}`).join('')}`);
  if (spec.runAsUser !== undefined || spec.runAsGroup !== undefined) {
    args.push(`--reuid=${spec.runAsUser ?? 0}`, `--regid=${spec.runAsGroup ?? 0}`, '--clear-groups');
  }
  if (spec.noNewPrivs) args.push('--no-new-privs');
  return args;
}

/**
 * The command that becomes the container's process (or an exec's), from the host's tools: for
 * host-program images it runs after the chroot, for OCI images it does the entering itself.
 * CAP_SYS_CHROOT (and CAP_SETUID / CAP_SETGID when it changes user) stay in the bounding set of
 * an OCI container that dropped them, because unshare needs them to enter the root and change
 * user after setpriv has set the bounding set: a deviation from runc, which drops the bounding set
 * in the same process that still holds them (libcontainer/init_linux.go finalizeNamespace). A
 * non-root container ends with no effective capabilities either way.
 */
export function containerCommand(spec: LaunchSpec, argv: string[], workingDir = spec.workingDir): string[] {
  const env = [...spec.env].map(([k, v]) => `${k}=${v}`);
  if (!spec.enterRoot) return [...setprivArgs(spec), '--', 'env', '-i', '-C', workingDir, ...env, ...argv];
  const changesUser = spec.runAsUser !== undefined || spec.runAsGroup !== undefined;
  const needed = ['SYS_CHROOT', ...(changesUser ? ['SETUID', 'SETGID'] : [])];
  const caps = spec.capabilities && [...new Set([...spec.capabilities, ...needed])];
  const user = changesUser ? ['--setuid', String(spec.runAsUser ?? 0), '--setgid', String(spec.runAsGroup ?? 0)] : [];
  return [...setprivArgs({ ...spec, capabilities: caps, runAsUser: undefined, runAsGroup: undefined }), '--', 'env', '-i', ...env,
    'unshare', `--root=${spec.root}`, `--wd=${workingDir}`, ...user, '--', ...argv];
}

/**
 * Spawns the container; the returned process is the outer nsenter/unshare whose exit status is
 * the container's. It leads its own process group, so signalling `-pid` reaches the container.
 */
export function launchContainer(spec: LaunchSpec): ChildProcess {
  const inner = containerCommand(spec, spec.argv);
  // The environment goes into a root-only file, not onto the command line of the processes that
  // wait for the container (nsenter, unshare), where `ps` would show every Secret value in it.
  const start = join(dirname(spec.rootfsScript), 'start.sh');
  // `$$` is this shell, which every later step exec()s over: the container's process. Written from
  // inside a new PID namespace it is 1, which the kernel reads in the writer's namespace.
  const joinCgroup = spec.cgroup ? `mkdir -p ${shellQuote(spec.cgroup)} && echo $$ > ${shellQuote(`${spec.cgroup}/cgroup.procs`)}\n` : '';
  writeFileSync(start, `${joinCgroup}exec /bin/sh ${[spec.rootfsScript, ...inner].map(shellQuote).join(' ')}\n`, { mode: 0o700 });
  const namespaces = namespaceArgs(spec);
  const log = openSync(spec.logPath, 'a');
  try {
    return spawn(namespaces[0], [...namespaces.slice(1), '/bin/sh', start], {
      stdio: ['ignore', log, log],
      detached: true,
    });
  } finally {
    closeSync(log);
  }
}

/**
 * Resolves true once the process `pid()` names has chrooted into `root` (the mount script is done),
 * false if `gone()` says it exited first. Until then its /proc/<pid>/root is the host's /, and an
 * exec or probe entering it would run against the host's files.
 */
export async function enteredRoot(pid: () => number | undefined, root: string, gone: () => boolean): Promise<boolean> {
  for (;;) {
    if (gone()) return false;
    const p = pid();
    if (p !== undefined) {
      try {
        if (readlinkSync(`/proc/${p}/root`) === root) return true;
      } catch {
        // Between exec()s or already gone: look again.
      }
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * The host PID of the container's own first process (the child of nsenter/unshare), or undefined
 * while it is not forked yet.
 */
export function innerPid(outerPid: number): number | undefined {
  try {
    const children = readFileSync(`/proc/${outerPid}/task/${outerPid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
    return children.length ? Number(children[0]) : undefined;
  } catch {
    return undefined;
  }
}
