/** Child processes for the benchmark: spawn a Node script, read its JSON-line events, read its peak RSS. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** The agent as it ships: the bundle `npm run build` makes (bench/run.ts builds it first). */
export const AGENT_SCRIPT = 'dist/agent/agent.mjs';

export interface BenchEvent {
  event: string;
  [key: string]: unknown;
}

/** A running helper process and the JSON events it prints. */
export class Proc {
  readonly child: ChildProcess;
  readonly #events: BenchEvent[] = [];
  readonly #waiters: Array<{ name: string; resolve(e: BenchEvent): void }> = [];
  #stderr = '';

  constructor(script: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [script, ...args], {
      cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Many `next()` calls may wait on one process at once (one per connection of a parallel run).
    this.child.setMaxListeners(0);
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let event: BenchEvent;
      try { event = JSON.parse(line) as BenchEvent; } catch { return; }
      const i = this.#waiters.findIndex((w) => w.name === event.event);
      if (i >= 0) this.#waiters.splice(i, 1)[0].resolve(event);
      else this.#events.push(event);
    });
    this.child.stderr!.on('data', (d: Buffer) => { this.#stderr = (this.#stderr + d.toString()).slice(-4000); });
  }

  /** The next event named `name` (one already printed, or the next one). */
  next(name: string, timeoutMs = 120_000): Promise<BenchEvent> {
    const i = this.#events.findIndex((e) => e.event === name);
    if (i >= 0) return Promise.resolve(this.#events.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${name}" event within ${timeoutMs} ms; stderr: ${this.#stderr}`)), timeoutMs);
      const onExit = (code: number | null) => { clearTimeout(timer); reject(new Error(`process exited (${code}) before "${name}"; stderr: ${this.#stderr}`)); };
      this.child.once('exit', onExit);
      this.#waiters.push({ name, resolve: (e) => { clearTimeout(timer); this.child.off('exit', onExit); resolve(e); } });
    });
  }

  async port(): Promise<number> {
    return Number((await this.next('listening')).port);
  }

  /** Peak resident set size so far, in bytes (VmHWM from /proc). */
  peakRss(): number {
    return peakRssBytes(this.child.pid ?? NaN);
  }

  async exited(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const [code] = await new Promise<[number | null]>((resolve) => this.child.once('exit', (c) => resolve([c])));
    return code;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

/** Starts each process of a path, and kills them all when done. */
export class ProcGroup {
  readonly #procs: Proc[] = [];

  start(script: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): Proc {
    const proc = new Proc(script, args, env);
    this.#procs.push(proc);
    return proc;
  }

  killAll(): void {
    for (const proc of this.#procs) proc.kill();
  }
}

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ; 100 on Linux for x86 and arm64). */
const CLOCK_TICKS = 100;

/**
 * CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (proc(5): fields 14
 * utime and 15 stime, in clock ticks), or NaN once it is gone. Children's times are not included.
 */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/** A size field of /proc/<pid>/status (proc(5): `VmRSS:  1234 kB`), in bytes, or NaN once the process is gone. */
function statusBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const kb = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return kb ? Number(kb[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Resident set size now, in bytes (VmRSS), or NaN once the process is gone. */
export function rssBytes(pid: number): number {
  return statusBytes(pid, 'VmRSS');
}

/** Peak resident set size, in bytes (VmHWM), or NaN once the process is gone. */
export function peakRssBytes(pid: number): number {
  return statusBytes(pid, 'VmHWM');
}

/** PIDs of the processes whose environment has the variable `name` (root can read every environ). */
export function findPidsWithEnv(name: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8');
      if (environ.split('\0').some((v) => v.startsWith(`${name}=`))) pids.push(Number(entry));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return pids;
}

const run = promisify(execFile);

/** Runs kubectl with `kubeconfig`, feeding `input` on stdin; resolves with its stdout. */
export async function kubectl(kubeconfig: string, args: string[], input?: string): Promise<string> {
  const child = run('kubectl', args, { env: { ...process.env, KUBECONFIG: kubeconfig } });
  if (input !== undefined) child.child.stdin?.end(input);
  return (await child).stdout;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
