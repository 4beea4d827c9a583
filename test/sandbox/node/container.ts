/**
 * One container's life as a kubelet tracks it: waiting (ContainerCreating, ErrImagePull,
 * ImagePullBackOff, CreateContainerConfigError, CrashLoopBackOff) → running → terminated, restarts
 * with the kubelet's back-off (10 s doubling to 5 min, pkg/kubelet/kubelet.go backOffPeriod and
 * MaxContainerBackOff), readiness from its probe, and a log file per start.
 */
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { ContainerConfigError } from './container-env.ts';
import { enteredRoot, innerPid, type LaunchSpec, launchContainer } from './container-launch.ts';
import { probeLoop, runProbe, type ProbeTarget } from './probes.ts';
import { killCgroup, removeCgroupTree } from './container-cgroup.ts';

/** A container image the node cannot provide. */
export class ImagePullError extends Error {
  readonly image: string;
  constructor(image: string, reason = 'not found in the sandbox image registry (test/sandbox/images/images.json)') {
    // The kubelet's text when a registry does not have the image (pkg/kubelet/images/image_manager.go).
    super(`failed to pull and unpack image "${image}": failed to resolve reference "${image}": ${reason}`);
    this.image = image;
  }
}

/** What a container needs from its pod. */
export interface ContainerHost {
  /** Builds everything to start the container; throws ImagePullError or ContainerConfigError. */
  prepare(container: Container): Promise<LaunchSpec>;
  /** Something in this container's status changed. */
  changed(): void;
  restartPolicy: 'Always' | 'OnFailure' | 'Never';
  /** spec.terminationGracePeriodSeconds: how long a liveness kill waits before SIGKILL. */
  terminationGraceSeconds: number;
  probeTarget(): ProbeTarget;
}

export interface ContainerState {
  waiting?: { reason: string; message?: string };
  running?: { startedAt: string };
  terminated?: { exitCode: number; signal?: number; reason: string; message?: string; startedAt?: string; finishedAt: string; containerID?: string };
}

const BACKOFF_SECONDS = [0, 10, 20, 40, 80, 160, 300];
/** How often a container blocked on configuration (a missing ConfigMap, say) is retried. */
const RETRY_CONFIG_MS = 2000;

/**
 * regular: spec.containers; init: spec.initContainers, run to completion in order; sidecar: an init
 * container with `restartPolicy: Always` (native sidecar), started before the regular containers
 * and kept running; ephemeral: spec.ephemeralContainers, never restarted.
 */
export type ContainerKind = 'regular' | 'init' | 'sidecar' | 'ephemeral';

export class Container {
  readonly spec: any;
  readonly kind: ContainerKind;
  state: ContainerState = { waiting: { reason: 'ContainerCreating' } };
  lastState: ContainerState = {};
  restartCount = 0;
  containerID?: string;
  started = false;
  ready = false;
  /** The last LaunchSpec used, kept for exec and ephemeral containers joining this one. */
  launched?: LaunchSpec;
  #proc?: ChildProcess;
  #exited?: Promise<void>;
  #stopping = false;
  #timer?: NodeJS.Timeout;
  #stopProbes: Array<() => void> = [];
  readonly #host: ContainerHost;
  #settledWaiters: Array<(ok: boolean) => void> = [];

  constructor(spec: any, host: ContainerHost, kind: ContainerKind = 'regular') {
    this.spec = spec;
    this.#host = host;
    this.kind = kind;
  }

  get ephemeral(): boolean { return this.kind === 'ephemeral'; }
  get name(): string { return this.spec.name; }
  /** Host PID of the container's first process, while it runs. */
  get pid(): number | undefined {
    const outer = this.#proc?.pid;
    if (outer === undefined) return undefined;
    return this.launched?.hostPid ? outer : innerPid(outer);
  }
  get running(): boolean { return !!this.state.running; }

  /**
   * For init containers: resolves true once it has exited 0 for good, false once it failed for
   * good (restartPolicy Never) or was stopped. For sidecars: true once it runs.
   */
  settled(): Promise<boolean> {
    if (this.kind === 'sidecar' && this.running) return Promise.resolve(true);
    if (this.state.terminated && !this.#willRestart(this.state.terminated.exitCode)) return Promise.resolve(this.state.terminated.exitCode === 0);
    return new Promise((resolve) => this.#settledWaiters.push(resolve));
  }

  #settle(ok: boolean): void {
    for (const w of this.#settledWaiters.splice(0)) w(ok);
  }

  #willRestart(exitCode: number): boolean {
    if (this.#stopping) return false;
    switch (this.kind) {
      case 'ephemeral': return false;
      case 'sidecar': return true;
      case 'init': return this.#host.restartPolicy !== 'Never' && exitCode !== 0;
      case 'regular': return this.#host.restartPolicy === 'Always' || (this.#host.restartPolicy === 'OnFailure' && exitCode !== 0);
    }
  }

  /** Starts (or restarts) the container; problems become waiting reasons, never rejections. */
  async start(): Promise<void> {
    if (this.#stopping) return;
    let spec: LaunchSpec;
    try {
      spec = await this.#host.prepare(this);
    } catch (err) {
      return this.#startFailed(err as Error);
    }
    if (this.#stopping) return;
    const id = randomBytes(32).toString('hex');
    this.containerID = `containerd://${id}`;
    if (spec.cgroup) spec.cgroup = `${spec.cgroup}/${id}`;
    this.launched = spec;
    const proc = launchContainer(spec);
    this.#proc = proc;
    const startedAt = new Date().toISOString();
    let gone = false;
    this.#exited = new Promise((resolve) => {
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        if (gone) return;
        gone = true;
        this.#onExit(code, signal, startedAt);
        resolve();
      };
      proc.once('exit', finish);
      // nsenter itself could not be started: the container never ran (exit code 128, as runc's).
      proc.once('error', () => finish(128, null));
    });
    // "Running" only once the process is inside its rootfs: exec and probes rely on that.
    if (!(await enteredRoot(() => this.pid, spec.root, () => gone))) return;
    this.state = { running: { startedAt } };
    this.#startProbes();
    this.#host.changed();
    if (this.kind === 'sidecar') this.#settle(true);
  }

  #startFailed(err: Error): void {
    if (err instanceof ImagePullError) {
      this.state = { waiting: { reason: 'ErrImagePull', message: err.message } };
      this.#host.changed();
      // The kubelet reports the pull error once, then backs off and says so.
      this.#timer = setTimeout(() => {
        this.state = { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${err.image}"` } };
        this.#host.changed();
      }, 1000);
      return;
    }
    const reason = err instanceof ContainerConfigError ? err.reason : 'CreateContainerError';
    this.state = { waiting: { reason, message: err.message } };
    this.#host.changed();
    // A missing ConfigMap or Secret may appear later: the kubelet retries on every pod sync.
    this.#timer = setTimeout(() => void this.start(), RETRY_CONFIG_MS);
  }

  #onExit(code: number | null, signal: NodeJS.Signals | null, startedAt: string): void {
    this.#clearProbes();
    const signo = signal ? (osConstants.signals[signal] ?? 9) : undefined;
    const exitCode = code ?? 128 + (signo ?? 9);
    const terminated = {
      exitCode, ...(signo ? { signal: signo } : {}), reason: exitCode === 0 ? 'Completed' : 'Error',
      startedAt, finishedAt: new Date().toISOString(), containerID: this.containerID,
    };
    this.#proc = undefined;
    this.ready = false;
    // containerd kills whatever is left in the container once its main process exited.
    const cgroup = this.launched?.cgroup;
    if (cgroup) void killCgroup(cgroup).then(() => removeCgroupTree(cgroup));
    if (!this.#willRestart(exitCode)) {
      this.state = { terminated };
      this.started = false;
      this.#host.changed();
      this.#settle(exitCode === 0 && !this.#stopping);
      return;
    }
    this.lastState = { terminated };
    this.started = false;
    const delay = BACKOFF_SECONDS[Math.min(this.restartCount, BACKOFF_SECONDS.length - 1)];
    this.state = delay === 0 ? { waiting: { reason: 'ContainerCreating' } }
      : { waiting: { reason: 'CrashLoopBackOff', message: `back-off ${delay}s restarting failed container=${this.name}` } };
    this.#host.changed();
    this.#timer = setTimeout(() => {
      this.restartCount++;
      void this.start();
    }, delay * 1000);
  }

  /**
   * A startupProbe holds readiness and liveness back until it succeeds, and kills the container
   * when it fails `failureThreshold` times (pkg/kubelet/prober). `started` follows it.
   */
  #startProbes(): void {
    const startup = this.spec.startupProbe;
    this.ready = !this.spec.readinessProbe && !startup;
    this.started = !startup;
    if (!startup) return this.#startRunningProbes();
    const attempt = () => runProbe(startup, this.#host.probeTarget(), this);
    const stop = probeLoop(startup, false, true, attempt, (ok) => {
      if (!ok) return;
      stop();
      this.started = true;
      this.ready = !this.spec.readinessProbe;
      this.#host.changed();
      this.#startRunningProbes();
    }, () => this.#livenessKill());
    this.#stopProbes.push(stop);
  }

  #startRunningProbes(): void {
    const readiness = this.spec.readinessProbe;
    if (readiness) {
      const attempt = () => runProbe(readiness, this.#host.probeTarget(), this);
      this.#stopProbes.push(probeLoop(readiness, false, true, attempt, (ready) => {
        this.ready = ready;
        this.#host.changed();
      }));
    }
    const liveness = this.spec.livenessProbe;
    if (liveness) {
      const attempt = () => runProbe(liveness, this.#host.probeTarget(), this);
      this.#stopProbes.push(probeLoop(liveness, true, false, attempt, (alive) => {
        if (!alive) this.#livenessKill();
      }));
    }
  }

  /** A failed liveness (or startup) probe kills the container; #onExit restarts it per restartPolicy. */
  #livenessKill(): void {
    if (this.#proc?.pid) void this.#kill(this.#proc.pid, this.#host.terminationGraceSeconds);
  }

  #clearProbes(): void {
    for (const stop of this.#stopProbes.splice(0)) stop();
  }

  async #kill(pid: number, graceSeconds: number): Promise<void> {
    signalGroup(pid, 'SIGTERM');
    const kill = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceSeconds * 1000);
    await this.#exited;
    clearTimeout(kill);
  }

  /** SIGTERM, then SIGKILL after `graceSeconds`; resolves once the process is gone. No restart. */
  async stop(graceSeconds: number): Promise<void> {
    this.#stopping = true;
    this.#settle(false);
    clearTimeout(this.#timer);
    this.#clearProbes();
    const pid = this.#proc?.pid;
    if (pid) await this.#kill(pid, graceSeconds);
  }
}

/**
 * Signals the container's process group. A container's PID 1 only receives SIGTERM if it handles
 * it, exactly as in a real container; SIGKILL always lands and takes the whole PID namespace along.
 */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
  const inner = innerPid(pid);
  if (inner) {
    try { process.kill(inner, signal); } catch { /* already gone */ }
  }
}
