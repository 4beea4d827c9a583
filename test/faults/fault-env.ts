/**
 * What the fault scenarios share: the sandbox's kubeconfig, the demo workloads, and the probes
 * that say what a fault left behind (our rules and ipsets in a pod, our Jobs, bound local ports,
 * the agent's processes found by their command line in the image, /opt/kubectl-mirrord/).
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { promisify } from 'node:util';
import { curl, kubectlJson } from '../e2e/cli-process.ts';

const run = promisify(execFile);

/** The targeted demo: its Deployment, the container port the Service maps 80 to. */
export const TARGET = 'deployment/ip-visit-counter';
export const POD_PORT = 8080;
/** Where the image keeps the agent and its guard (agent.mjs, guard.mjs). */
export const AGENT_DIR = '/opt/kubectl-mirrord/';

export interface FaultEnv {
  kubeconfig: string;
  /** http://<ClusterIP of ip-visit-counter> */
  serviceUrl: string;
}

/** What one fault did, as the table shows it. */
export interface FaultObservation {
  fault: string;
  /** The CLI's local ports after the fault: still bound (and answering) or not. */
  portsBound: string;
  /** Milliseconds from the fault until traffic flowed again (undefined: never; null: not a question here), and what flowed. */
  recoveryMs: number | undefined | null;
  recovery: string;
  /** Our iptables rules and ipsets left in the pod (after the CLI ended, or as stated). */
  rulesLeft: string[];
  /** Our Jobs left once the CLI ended. */
  jobsLeft: string[];
  /** Whether connections that survived lost or corrupted data. */
  dataLoss: string;
  /** Anything else seen, one line each. */
  notes: string[];
}

/** The demo pod behind the deployment. */
export async function demoPod(env: FaultEnv, app = 'ip-visit-counter'): Promise<{ name: string; uid: string }> {
  const pods = (await kubectlJson(env.kubeconfig, ['get', 'pods', '-l', `app=${app}`])).items
    .filter((p: any) => p.status.phase === 'Running' && !p.metadata.deletionTimestamp);
  return { name: pods[0].metadata.name, uid: pods[0].metadata.uid };
}

async function inPod(uid: string, cmd: string, args: string[]): Promise<string> {
  return (await run('ip', ['netns', 'exec', `kmsb-${uid}`, cmd, ...args])).stdout;
}

/** A short form of ourRules' lines for the table: how many, and which chains and sets. */
export function describeRules(lines: string[]): string {
  if (lines.length === 0) return 'none';
  const chains = [...new Set(lines.filter((l) => l.startsWith(':KMRD-')).map((l) => l.split(' ')[0].slice(1)))];
  const sets = lines.filter((l) => l.startsWith('ipset ')).map((l) => l.slice(6));
  const redirects = lines.filter((l) => l.includes('REDIRECT')).length;
  return `${lines.length} lines: chain ${chains.join(', ') || '-'} (nat+filter, IPv4+IPv6), ${redirects} REDIRECT, sets ${sets.join(', ') || 'none'}`;
}

/**
 * Our chains, rules and ipsets in a pod's network namespace (nat and filter, IPv4 and then IPv6
 * prefixed `ip6: `), one line each.
 */
export async function ourRules(uid: string): Promise<string[]> {
  const lines = [
    ...(await inPod(uid, 'iptables-save', ['-t', 'nat'])).split('\n'),
    ...(await inPod(uid, 'iptables-save', ['-t', 'filter'])).split('\n'),
    ...(await inPod(uid, 'ip6tables-save', ['-t', 'nat'])).split('\n').map((l) => `ip6: ${l}`),
    ...(await inPod(uid, 'ip6tables-save', ['-t', 'filter'])).split('\n').map((l) => `ip6: ${l}`),
    ...(await inPod(uid, 'ipset', ['list', '-n'])).split('\n').map((s) => s && `ipset ${s}`),
  ];
  return lines.filter((l) => l.includes('KMRD'));
}

/** The live members of our ipsets in a pod (`ipset list` shows no expired element). */
export async function liveSetMembers(uid: string): Promise<string[]> {
  const listing = await inPod(uid, 'ipset', ['list']).catch(() => '');
  const members: string[] = [];
  for (const block of listing.split(/^Name: /m).slice(1)) {
    if (!block.startsWith('KMRD-')) continue;
    const after = block.split(/^Members:\n/m)[1] ?? '';
    members.push(...after.split('\n').filter(Boolean).map((m) => `${block.split('\n')[0]} ${m}`));
  }
  return members;
}

/** Our agent Jobs (names). */
export async function ourJobs(env: FaultEnv): Promise<string[]> {
  const jobs = await kubectlJson(env.kubeconfig, ['get', 'jobs', '-A', '-l', 'app.kubernetes.io/managed-by=kubectl-mirrord']);
  return jobs.items.filter((j: any) => !j.metadata.deletionTimestamp).map((j: any) => `${j.metadata.namespace}/${j.metadata.name}`);
}

/** Host pids of the agent's processes (agent and guard) inside the pod with `uid`. */
export function agentProcesses(uid: string): number[] {
  const netns = statSync(`/run/netns/kmsb-${uid}`).ino;
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(AGENT_DIR)) continue;
      if (statSync(`/proc/${entry}/ns/net`).ino === netns) pids.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks), or 0. */
function startTime(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]) || 0;
  } catch {
    return 0;
  }
}

/**
 * The newest agent main process (agent.mjs, not guard.mjs) in the pod with `uid`: an earlier
 * session's agent may still be there, waiting out its idle timeout.
 */
export function agentMainProcess(uid: string): number | undefined {
  const mains = agentProcesses(uid).filter((pid) => {
    try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('agent.mjs'); } catch { return false; }
  });
  return mains.sort((a, b) => startTime(b) - startTime(a))[0];
}

/** The state letter of /proc/<pid>/status (R, S, T for stopped...), or '?' when gone. */
export function processState(pid: number): string {
  try {
    return /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '?';
  } catch {
    return '?';
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
export function isBound(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/** The remote demo app answers JSON with a visit count (or "ok" on /health). */
export function isRemote(body: string): boolean {
  return body.trim() === 'ok' || /"count":\s*\d+/.test(body);
}

/** Polls `probe` every 100 ms until it holds; resolves with the ms it took, or undefined at `timeoutMs`. */
export async function timeUntil(probe: () => Promise<boolean>, timeoutMs: number, since = Date.now()): Promise<number | undefined> {
  const deadline = since + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return Date.now() - since;
    await new Promise((r) => setTimeout(r, 100));
  }
  return undefined;
}

/** One GET of the Service with a short timeout: its body, or '' on failure. */
export async function serviceBody(env: FaultEnv, path = '/count', maxTimeS = 3): Promise<string> {
  return (await curl(['--max-time', String(maxTimeS), `${env.serviceUrl}${path}`])).stdout;
}

/** The user's app: answers `local <path>`. */
export async function userApp(): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => res.end(`local ${req.url}`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
