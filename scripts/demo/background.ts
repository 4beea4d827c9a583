/**
 * The demo's long-running CLI processes (port-forward, exec) and their end. Each runs detached, in
 * a process group of its own, so a Ctrl-C at the terminal reaches only the demo, which then sends
 * each process exactly one SIGINT (a second would tell the CLI to skip removing its agent) and
 * SIGKILL after STOP_GRACE_MS. `stopAll` is what every exit path of the demo calls; once it has
 * been called, `startBackground` refuses to start anything (a step still running while the demo
 * stops must not leave a process behind that nobody stops).
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** How long a CLI process gets after SIGINT (the port-forward removes its agent) before SIGKILL. */
export const STOP_GRACE_MS = 20_000;

/**
 * How long after a process exits its output pipes may stay open before `exited` stops waiting for
 * them: something it started can hold them (the exec proxy holds stderr about 2 s after its
 * program ends; a program that outlived a SIGKILLed CLI, for ever).
 */
export const DRAIN_MS = 5_000;

/** A failed wait: what was awaited, and the process's output as evidence. */
export class WaitError extends Error {
  /** Why the wait ended ("not within 15 s", "exited (6) first"). */
  readonly reason: string;
  readonly evidence: string;

  constructor(what: string, reason: string, evidence: string) {
    super(`${what}: ${reason}`);
    this.reason = reason;
    this.evidence = evidence;
  }
}

export class Background {
  readonly child: ChildProcess;
  #output = '';
  readonly #listeners = new Set<() => void>();
  readonly #lineListeners = new Set<(line: string) => void>();
  #partial = '';
  /**
   * Resolves once the process ended and its output was read to the end (or DRAIN_MS after its
   * exit): with its exit code or signal, or -1 when it could not be started.
   */
  readonly exited: Promise<number | string>;
  /** Why the process ended ("exited (6)", "could not start (spawn kubectl ENOENT)"), once `exited` resolved. */
  #ended: string | undefined;
  #failedToStart = false;
  #stopping: Promise<number | string> | undefined;

  /** Labels the process in evidence and in the lines it prints ("port-forward", "copy, mirror"). */
  readonly name: string;

  constructor(name: string, argv: string[], options: SpawnOptions) {
    this.name = name;
    this.child = spawn(argv[0], argv.slice(1), { ...options, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      this.#output += text;
      const lines = (this.#partial + text).split('\n');
      this.#partial = lines.pop() ?? '';
      for (const line of lines) for (const l of this.#lineListeners) l(line);
      for (const l of this.#listeners) l();
    };
    this.child.stdout!.on('data', onData);
    this.child.stderr!.on('data', onData);
    let spawned = false;
    this.exited = new Promise((resolve) => {
      let drain: NodeJS.Timeout | undefined;
      const end = (result: number | string, why: string) => {
        clearTimeout(drain);
        this.#ended ??= why;
        resolve(result);
      };
      this.child.once('spawn', () => { spawned = true; });
      // 'close' comes once stdout and stderr were read to the end, so the output holds the last lines.
      this.child.once('close', (code, signal) => end(code ?? signal ?? -1, `exited (${code ?? signal})`));
      this.child.once('exit', (code, signal) => {
        drain = setTimeout(() => {
          this.child.stdout!.destroy();
          this.child.stderr!.destroy();
          end(code ?? signal ?? -1, `exited (${code ?? signal}; its output was still held open ${DRAIN_MS / 1000} s later)`);
        }, DRAIN_MS);
      });
      this.child.on('error', (err) => {
        this.#output += `\n${err.message}\n`;
        // Before 'spawn', the process never started (ENOENT, EACCES); after it, a kill failed and it may still run.
        if (!spawned) {
          this.#failedToStart = true;
          end(-1, `could not start (${err.message})`);
        }
      });
    });
    void this.exited.then(() => { for (const l of this.#listeners) l(); });
  }

  /** Whether the process runs: started, and not exited. */
  get running(): boolean {
    return !this.#failedToStart && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Everything printed so far, stdout and stderr interleaved. */
  output(): string {
    return this.#output;
  }

  /** The last `n` lines of output, for evidence. */
  tail(n = 25): string {
    return this.#output.trimEnd().split('\n').slice(-n).join('\n');
  }

  /** Calls `fn` with every complete line printed from now on. */
  onLine(fn: (line: string) => void): void {
    this.#lineListeners.add(fn);
  }

  /**
   * Resolves with the first match of `pattern` in the output. @throws WaitError after `timeoutMs`,
   * or as soon as the process ended (`exited`) without printing it.
   */
  waitFor(pattern: RegExp, what: string, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const finish = (err?: Error) => {
        this.#listeners.delete(check);
        clearTimeout(timer);
        if (err) reject(err);
      };
      const check = () => {
        const m = this.#output.match(pattern);
        if (m) {
          finish();
          resolve(m);
        } else if (this.#ended !== undefined) {
          finish(new WaitError(what, `${this.name} ${this.#ended} first`, this.tail()));
        }
      };
      const timer = setTimeout(() => finish(new WaitError(what, `not within ${timeoutMs / 1000} s`, this.tail())), timeoutMs);
      this.#listeners.add(check);
      check();
    });
  }

  /** One SIGINT, then SIGKILL after `graceMs`; resolves with the exit code or signal. Idempotent. */
  stop(graceMs = STOP_GRACE_MS): Promise<number | string> {
    this.#stopping ??= (async () => {
      if (this.running) this.child.kill('SIGINT');
      const grace = setTimeout(() => this.kill(), graceMs);
      try {
        return await this.exited;
      } finally {
        clearTimeout(grace);
      }
    })();
    return this.#stopping;
  }

  /** SIGKILL now (a second Ctrl-C, or the grace ran out). */
  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

const running = new Set<Background>();
/** Set by the first `stopAll`: from then on nothing starts. */
let stopping = false;

/** `startBackground` after `stopAll` began: the demo is stopping, so `name` was not started. */
export class StoppingError extends Error {
  constructor(name: string) {
    super(`the demo is stopping: ${name} was not started`);
  }
}

/**
 * Starts `argv` as a demo background process and registers it for `stopAll`.
 * @throws StoppingError once `stopAll` was called (nothing would stop the process).
 */
export function startBackground(name: string, argv: string[], options: SpawnOptions): Background {
  if (stopping) throw new StoppingError(name);
  const proc = new Background(name, argv, options);
  running.add(proc);
  void proc.exited.then(() => running.delete(proc));
  return proc;
}

/**
 * Stops every registered process at once (SIGINT, SIGKILL after the grace); resolves when all
 * exited. From the call on, `startBackground` throws StoppingError: the demo is ending.
 */
export async function stopAll(graceMs = STOP_GRACE_MS): Promise<void> {
  stopping = true;
  await Promise.all([...running].map((p) => p.stop(graceMs)));
}

/** SIGKILL to every registered process (the user pressed Ctrl-C again while stopping). */
export function killAll(): void {
  for (const p of running) p.kill();
}

/** How many registered processes still run. */
export function runningCount(): number {
  return running.size;
}
