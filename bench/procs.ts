/** Child processes for the benchmark: spawn a Node script, read its JSON-line events, read its peak RSS. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

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
    const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    const kb = /VmHWM:\s+(\d+) kB/.exec(status);
    return kb ? Number(kb[1]) * 1024 : NaN;
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
