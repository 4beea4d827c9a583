/**
 * Runs a command the way a laptop would run it: with no route to the sandbox's pod and Service
 * ranges (test/sandbox/node/exec-block.ts). Exec tests run `kubectl-mirrord exec -- PROGRAM` in
 * this context, so PROGRAM reaches the cluster only through the layer and the agent; one that
 * bypassed the layer gets ENETUNREACH. The command and everything it starts (the exec proxy
 * included, which needs only the API server on loopback) stay in the blocked cgroup.
 *
 * Needs root (writing cgroup.procs) and a running sandbox (which creates the cgroup and its rules).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execBlockCgroupDir } from '../sandbox/node/exec-block.ts';

/** The blocked cgroup's directory. @throws Error saying what is missing. */
export function blockedCgroupDir(): string {
  const dir = execBlockCgroupDir();
  if (!dir) throw new Error('this host has no cgroup v2, so there is no context without routes to the sandbox\'s pods (exec-block.ts)');
  if (!existsSync(join(dir, 'cgroup.procs'))) throw new Error(`${dir} does not exist: start the sandbox first (it creates the blocked cgroup and its iptables rules)`);
  return dir;
}

/**
 * `argv` prefixed so that it runs in the blocked cgroup: a shell moves itself there, then execs
 * argv (so argv's pid is the shell's and signals reach it directly). For spawn helpers of one's
 * own (tmux, node-pty): spawn `blockedArgv(argv)` instead of `argv`.
 */
export function blockedArgv(argv: string[]): string[] {
  const procs = join(blockedCgroupDir(), 'cgroup.procs');
  return ['/bin/sh', '-c', `echo $$ > '${procs}' && exec "$@"`, 'kmsb-exec-blocked', ...argv];
}

/** spawn(argv[0], argv.slice(1), options), in the blocked context. */
export function spawnBlocked(argv: string[], options: SpawnOptions = {}): ChildProcess {
  const [file, ...args] = blockedArgv(argv);
  return spawn(file, args, options);
}

export interface BlockedResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs argv in the blocked context to its end; `timeoutMs` kills it (SIGKILL) if it runs longer. */
export function runBlocked(argv: string[], options: SpawnOptions & { input?: string; timeoutMs?: number } = {}): Promise<BlockedResult> {
  return new Promise((resolve, reject) => {
    const child = spawnBlocked(argv, { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin!.end(options.input ?? '');
  });
}
