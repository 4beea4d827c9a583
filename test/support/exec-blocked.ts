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
  /** false: the command exited but something it started still held its output (see runBlocked). */
  drained: boolean;
}

/** How long after the command exits its pipes may stay open (the exec proxy holds stderr about 2 s). */
const DRAIN_MS = 20_000;

/**
 * Runs argv in the blocked context to its end; `timeoutMs` kills it (SIGKILL) if it runs longer.
 * Bounded even when a process it started keeps its stdout or stderr open (a proxy that never
 * exits): DRAIN_MS after the command's own exit, the pipes are dropped and the result carries
 * `drained: false`, so a test fails with the output instead of waiting forever.
 */
export function runBlocked(argv: string[], options: SpawnOptions & { input?: string; timeoutMs?: number } = {}): Promise<BlockedResult> {
  return new Promise((resolve, reject) => {
    const child = spawnBlocked(argv, { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    let drainTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    const done = (code: number | null, signal: NodeJS.Signals | null, drained: boolean) => {
      clearTimeout(timer);
      clearTimeout(drainTimer);
      resolve({ code, signal, stdout, stderr, drained });
    };
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('exit', (code, signal) => {
      drainTimer = setTimeout(() => {
        child.stdout!.destroy();
        child.stderr!.destroy();
        done(code, signal, false);
      }, DRAIN_MS);
    });
    child.once('close', (code, signal) => done(code, signal, true));
    child.stdin!.end(options.input ?? '');
  });
}

/**
 * A child whose end can be awaited at any time, even after it already happened (a listener added
 * after 'close' would wait forever), within a bound.
 */
export interface WatchedChild {
  child: ChildProcess;
  /** Sends `signal` (if it still runs) and resolves once it closed; SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
  /** Resolves with the exit code once it exited; rejects after `timeoutMs`. */
  exited(timeoutMs: number): Promise<number | null>;
}

export function watchChild(child: ChildProcess): WatchedChild {
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const within = <T>(p: Promise<T>, ms: number, what: string) => new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, reject);
  });
  return {
    child,
    exited: (timeoutMs) => within(exit, timeoutMs, 'the command did not exit'),
    stop: async (signal = 'SIGTERM', graceMs = 30_000) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      try {
        await within(closed, graceMs, 'the command did not close its output');
      } catch {
        child.kill('SIGKILL');
        child.stdout?.destroy();
        child.stderr?.destroy();
      }
    },
  };
}
