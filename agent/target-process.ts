/**
 * The target container's main process, whose environment and root filesystem the agent serves
 * (targetEnv and the file requests).
 *
 * How the agent finds it, in order:
 * - `--target-pid` / MIRRORD_AGENT_TARGET_PID: a pid in the agent's own PID namespace;
 * - MIRRORD_TARGET_CONTAINER_ID (`containerd://<hex>`, from the pod's status): the lowest pid whose
 *   /proc/<pid>/cgroup names that id. Container runtimes put a container's processes in a cgroup
 *   whose path holds the id (containerd, CRI-O, Docker; cgroupfs and systemd drivers), and a path
 *   seen from another cgroup namespace is shown relative to it (`/../cri-containerd-<id>.scope`,
 *   cgroup_namespaces(7)), so the id is there either way. The ephemeral agent shares the target's
 *   PID namespace (targetContainerName), where that is PID 1, or the target's first process when
 *   the pod shares one PID namespace (shareProcessNamespace, where PID 1 is the pause process).
 *   The Job agent runs with hostPID and searches the node's processes the same way.
 * - neither: the agent has no target (targetless), and answers ENOTFOUND.
 *
 * The pid is checked again (same start time) before each use, and looked up anew once its process
 * is gone: a restarted container has a new main process.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { processStartTime } from './incoming/owner.ts';

/** What the agent was told about its target. */
export interface TargetHint {
  pid?: number;
  containerId?: string;
}

/** The target's main process as found now: its pid and start time (field 22 of its stat). */
export interface TargetPid {
  pid: number;
  start: number;
}

/** Why no target process can be given. */
export class NoTargetError extends Error {
  readonly kind: 'targetless' | 'gone';
  constructor(kind: 'targetless' | 'gone', message: string) {
    super(message);
    this.kind = kind;
  }
}

/** The id part of `containerd://<hex>` (or the whole text when there is no scheme). */
export function containerIdOf(text: string): string {
  return text.replace(/^[a-z0-9-]+:\/\//, '');
}

/** The lowest pid in `procDir` whose cgroup file names `id`, other than `self`. */
export function findContainerPid(id: string, procDir = '/proc', self = process.pid): number | undefined {
  let best: number | undefined;
  for (const name of readdirSync(procDir)) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === self || (best !== undefined && pid >= best)) continue;
    try {
      if (readFileSync(`${procDir}/${name}/cgroup`, 'utf8').includes(id)) best = pid;
    } catch {
      // Gone since readdir, or not ours to read: not the target.
    }
  }
  return best;
}

export class TargetProcess {
  readonly #hint: TargetHint;
  #current: TargetPid | undefined;

  constructor(hint: TargetHint) {
    this.#hint = hint;
  }

  /** True when the agent was started for a target. */
  get targeted(): boolean {
    return this.#hint.pid !== undefined || this.#hint.containerId !== undefined;
  }

  /** The target's main process now. @throws NoTargetError when there is none. */
  current(): TargetPid {
    const known = this.#current;
    if (known && processStartTime(known.pid) === known.start) return known;
    this.#current = undefined;
    const pid = this.#find();
    const start = pid === undefined ? undefined : processStartTime(pid);
    if (pid === undefined || start === undefined) {
      throw new NoTargetError('gone', this.#hint.containerId
        ? `no process of the target container ${containerIdOf(this.#hint.containerId)} is visible to the agent (searched /proc/*/cgroup); the container may have restarted`
        : `the target's process ${this.#hint.pid} is gone`);
    }
    this.#current = { pid, start };
    return this.#current;
  }

  #find(): number | undefined {
    if (this.#hint.pid !== undefined) return this.#hint.pid;
    if (this.#hint.containerId !== undefined) return findContainerPid(containerIdOf(this.#hint.containerId));
    throw new NoTargetError('targetless', 'this agent has no target (it was started without -t), so there is no target environment or filesystem');
  }
}

/** The real and effective uid and gid of `pid`, from /proc/<pid>/status (readable by anyone). */
export function processIds(pid: number): { uid: number; gid: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const uid = /^Uid:\s+(\d+)\s+(\d+)/m.exec(status);
    const gid = /^Gid:\s+(\d+)\s+(\d+)/m.exec(status);
    return uid && gid ? { uid: Number(uid[2]), gid: Number(gid[2]) } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Why this process may not read `/proc/<pid>/environ` or `/proc/<pid>/root` (ptrace access mode
 * PTRACE_MODE_READ_FSCREDS, proc(5)): the same uid, or CAP_SYS_PTRACE, is needed.
 */
export function accessDeniedReason(pid: number, what: string): string {
  const target = processIds(pid);
  const own = `uid ${process.getuid?.() ?? '?'} gid ${process.getgid?.() ?? '?'}`;
  const theirs = target ? `uid ${target.uid} gid ${target.gid}` : 'another user';
  return `the agent (${own}) may not read ${what} of the target's main process (pid ${pid}, ${theirs}): ` +
    'Linux allows that only to the same uid or with CAP_SYS_PTRACE, which Pod Security "baseline" forbids; ' +
    'the agent runs as the target container\'s uid when started for exec, so the target\'s securityContext (or the cluster\'s policy) gave it another';
}
