/**
 * Notices when the program that exec started has exited, for the exec proxy. The CLI replaces
 * itself with the program (execve keeps the pid), so the CLI's pid is the program's for its whole
 * life. A static program never loads the layer, so no layer connection tells the proxy it ended:
 * the proxy polls the pid instead.
 *
 * The pid is identified by its start time (field 22 of /proc/<pid>/stat, proc(5)), which execve
 * does not change, so a pid reused by an unrelated process later does not count as the program.
 * A zombie (state Z, or X) has exited: it only waits for its parent, the shell, to reap it.
 */
import { readFileSync } from 'node:fs';

/** How often the pid is looked at, ms. */
export const PROGRAM_POLL_MS = 250;

export interface ProcessIdentity {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks since boot); undefined where /proc is missing. */
  startTime: string | undefined;
}

/** The fields after the command name, which is in parentheses and may itself hold ") ". */
function statFields(pid: number): string[] | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = text.lastIndexOf(')');
  return close < 0 ? undefined : text.slice(close + 2).trim().split(' ');
}

/** The identity of `pid` now (the CLI calls it with its own pid before execve). */
export function processIdentity(pid: number): ProcessIdentity {
  // After the name: field 3 (state) is index 0, so field 22 (starttime) is index 19.
  return { pid, startTime: statFields(pid)?.[19] };
}

/** Whether the process is still running (not gone, not a zombie, not a new process on the same pid). */
export function isRunning(who: ProcessIdentity): boolean {
  if (who.startTime === undefined) {
    try {
      process.kill(who.pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  const fields = statFields(who.pid);
  if (!fields) return false;
  if (fields[0] === 'Z' || fields[0] === 'X') return false;
  return fields[19] === who.startTime;
}

/**
 * Calls `onExit` once, when the process is no longer running. Returns a function that stops
 * watching. The timer does not keep the event loop alive.
 */
export function watchProgram(who: ProcessIdentity, onExit: () => void, pollMs = PROGRAM_POLL_MS): () => void {
  const timer = setInterval(() => {
    if (isRunning(who)) return;
    clearInterval(timer);
    onExit();
  }, pollMs);
  timer.unref();
  return () => clearInterval(timer);
}
