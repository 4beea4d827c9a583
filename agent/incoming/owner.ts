/**
 * Who owns an iptables chain. Every rule the agent adds carries a comment naming the agent process
 * (pid and start time), so a later agent can tell a live owner from a dead one: a pid alone is not
 * enough, since pids are reused, but a pid with the same start time is the same process.
 *
 * The comment also names the pid namespace, because a pid only means something inside its own
 * namespace: two agents in the same pod may target different containers and so see different pids.
 */
import { readFileSync, readlinkSync } from 'node:fs';

/** The identity of one agent process. */
export interface Owner {
  /** The agent's id: 8 hex digits, also in its chain's name. */
  agentId: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks after boot when the process started. */
  start: number;
  /** The pid namespace's inode (from /proc/<pid>/ns/pid), or 0 when unknown. */
  pidNs: number;
}

/**
 * The start time of process `pid` (field 22 of /proc/<pid>/stat, proc(5)), or undefined when no
 * such process is visible. The command name (field 2) may hold spaces and parentheses, so fields
 * are counted after the last ')'.
 */
export function processStartTime(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the command name come field 3 (state) onward, so field 22 is at index 22 - 3.
  const start = Number(fields[22 - 3]);
  return Number.isFinite(start) ? start : undefined;
}

/** The inode of `pid`'s pid namespace ("pid:[4026531836]"), or 0 when it cannot be read. */
export function pidNamespace(pid: number | 'self' = 'self'): number {
  try {
    const m = /\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/pid`));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** This process, as the owner of the chain with id `agentId`. */
export function currentOwner(agentId: string): Owner {
  return { agentId, pid: process.pid, start: processStartTime(process.pid) ?? 0, pidNs: pidNamespace() };
}

/** The comment put on every rule: `kubectl-mirrord agent <id> pid <pid> start <start> pidns <inode>`. */
export function ownerComment(owner: Owner): string {
  return `kubectl-mirrord agent ${owner.agentId} pid ${owner.pid} start ${owner.start} pidns ${owner.pidNs}`;
}

/** Reads an owner back from a rule comment, or undefined when the comment is not ours. */
export function parseOwnerComment(comment: string): Owner | undefined {
  const m = /kubectl-mirrord agent ([0-9a-f]{8}) pid (\d+) start (\d+)(?: pidns (\d+))?/.exec(comment);
  if (!m) return undefined;
  return { agentId: m[1], pid: Number(m[2]), start: Number(m[3]), pidNs: Number(m[4] ?? 0) };
}

/**
 * Whether `owner` is certainly dead, seen from this process: same pid namespace, and no process
 * with that pid and start time. 'unknown' when the owner lives in another pid namespace, where
 * its pid cannot be looked up.
 */
export function ownerState(owner: Owner, ourPidNs = pidNamespace()): 'alive' | 'dead' | 'unknown' {
  if (owner.pidNs !== 0 && ourPidNs !== 0 && owner.pidNs !== ourPidNs) return 'unknown';
  const start = processStartTime(owner.pid);
  return start !== undefined && start === owner.start ? 'alive' : 'dead';
}
