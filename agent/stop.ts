/**
 * `agent.mjs stop`: what `kubectl mirrord kill` runs through `pods/exec` in an agent's container.
 * It finds the agent process of this container and sends it STOP_SIGNAL, on which the agent tells
 * its CLIs the session is over (GOAWAY `stopped`), removes its iptables redirects, and exits.
 *
 * Ephemeral containers cannot be removed from a pod, and an exec'd process cannot be told apart
 * from the agent by PID 1: an ephemeral agent shares the target container's PID namespace
 * (targetContainerName), where PID 1 is the target's own process, and the Job fallback runs with
 * hostPID. What a `kubectl exec` process shares with the container's main process is the
 * container's mount namespace, so the agent is the process with the agent's command line whose
 * /proc/PID/ns/mnt is ours. Reading another process's ns link needs ptrace read access
 * (proc(5)), which the same user in the same container has; other processes are skipped.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';

/** The signal the agent stops on (agent/main.ts). SIGUSR1 would start Node's inspector. */
export const STOP_SIGNAL = 'SIGUSR2';
/** How long `stop` waits for the agent to exit after the signal, ms. */
const EXIT_WAIT_MS = 10_000;
const POLL_MS = 50;

/** The agent's entry file names: the image's bundle, and agent/main.ts when run from source. */
const AGENT_FILES = new Set(['agent.mjs', 'main.ts']);

function readArgv(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  } catch {
    return undefined;
  }
}

function mountNamespace(pid: number | 'self'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return undefined;
  }
}

/** Whether `argv` runs the agent's server (not `stop`, not `scale-keeper`). */
export function isAgentServer(argv: readonly string[]): boolean {
  const entry = argv.findIndex((a) => AGENT_FILES.has(basename(a)));
  if (entry < 0) return false;
  const next = argv[entry + 1];
  return next === undefined || next.startsWith('-');
}

/** The agent servers of this container (same mount namespace), other than this process. */
export function findAgentPids(): number[] {
  const own = mountNamespace('self');
  if (own === undefined) return [];
  return readdirSync('/proc')
    .filter((name) => /^[0-9]+$/.test(name))
    .map(Number)
    .filter((pid) => pid !== process.pid && mountNamespace(pid) === own && isAgentServer(readArgv(pid) ?? []));
}

/** Running, not a zombie waiting for its parent (the runtime's shim) to reap it. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Signals the container's agent and waits for it to exit. Prints JSON lines on stdout:
 * `{"event":"signalled","pids":[...]}` at once, then `{"event":"stopped",...}`; returns the exit
 * code: 0 stopped, 3 no agent found, 4 still running after EXIT_WAIT_MS. Once the agent (the
 * container's main process) has exited, the runtime kills this process too, as it kills every
 * process left in a container, so the caller may see it end by SIGKILL after "signalled".
 */
export async function runStop(write: (line: string) => void = (l) => process.stdout.write(l)): Promise<number> {
  const pids = findAgentPids();
  if (pids.length === 0) {
    write(`${JSON.stringify({ event: 'no-agent', error: 'no agent process in this container (searched /proc for agent.mjs in this mount namespace)' })}\n`);
    return 3;
  }
  for (const pid of pids) {
    try {
      process.kill(pid, STOP_SIGNAL);
    } catch {
      // Gone in between: counts as stopped.
    }
  }
  write(`${JSON.stringify({ event: 'signalled', pids, signal: STOP_SIGNAL })}\n`);
  const deadline = Date.now() + EXIT_WAIT_MS;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, POLL_MS));
  const running = pids.filter(alive);
  if (running.length > 0) {
    write(`${JSON.stringify({ event: 'still-running', pids: running, error: `the agent did not exit within ${EXIT_WAIT_MS / 1000} s of ${STOP_SIGNAL}` })}\n`);
    return 4;
  }
  write(`${JSON.stringify({ event: 'stopped', pids })}\n`);
  return 0;
}
