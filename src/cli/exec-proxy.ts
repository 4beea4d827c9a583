/**
 * The exec proxy process (`kubectl-mirrord __exec-proxy`). It holds the agent session for every
 * process that loads the layer, the way port-forward holds it for -L (the same AgentProvider,
 * AgentLink and listeners: src/cli/run-forwarding.ts), and serves the layer socket.
 *
 * Two stages, as mirrord's intproxy does with its double fork: the CLI starts the first stage in a
 * new session (setsid), which starts the second with the same pipes and exits at once. The second
 * is then nobody's child (init or the nearest subreaper adopts it), so a program that waits for
 * any child never sees it, and it is in no terminal's session, so Ctrl-C, Ctrl-Z and a hang-up at
 * the terminal reach the program but not the proxy. It still ignores SIGINT, SIGHUP and SIGTSTP in
 * case someone sends them by pid.
 *
 * It ends when the last layer connection has closed and none came back within GRACE_MS, once the
 * program has connected or exited (a static program never connects: the proxy watches its pid), or
 * when no layer connected within STARTUP_WINDOW_MS; then it removes the agent and its socket
 * directory.
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { CoreV1Api } from '@kubernetes/client-node';
import { ExitCode, MirrordError } from '../errors.ts';
import { bindListeners, linkFor, requireUdp, setUpAgent, type AgentSetup, type Listeners } from './run-forwarding.ts';
import { loadKubeContext, type KubeContext } from '../kube-api/kubeconfig.ts';
import { agentVersionWarning } from '../kube/agent-image.ts';
import { EphemeralPodSecurityError } from '../kube/ephemeral-errors.ts';
import type { ResolvedTarget } from '../kube/target-resolve.ts';
import { Requests } from '../protocol/requests.ts';
import { RequestError, ResponseErrorCode } from '../protocol/request-errors.ts';
import type { AgentLink } from '../link/agent-link.ts';
import { connectionLogger, describeError } from '../ui/connection-log.ts';
import { requireSecureAgentLink } from '../transport/open-portforward.ts';
import type { ConnectionLog } from '../forward/connection-events.ts';
import { VERSION } from '../version.ts';
import { runtimeDescription } from '../node-options.ts';
import { startIdleCollector } from './idle-collector.ts';
import { memoryAddonDescription } from './memory-addon.ts';
import { ExecLog } from '../exec/exec-log.ts';
import { FileStreams } from '../exec/file-streams.ts';
import { LayerServer } from '../exec/layer-server.ts';
import { HOLD_MS } from '../exec/layer-requests.ts';
import { selfCommand } from './self-command.ts';
import { TcpInterceptor } from '../exec/tcp-interceptor.ts';
import { IncomingListeners } from '../exec/incoming-listeners.ts';
import { replicaWarning } from '../exec/replica-warning.ts';
import { watchProgram } from '../exec/program-watch.ts';
import { ABORT_LINE, lineReader, PROXY_COMMAND, PROXY_DAEMON_FLAG, type ProxyEvent, type ProxyStart } from './exec-pipe.ts';

/** After the last layer connection closed: a fork child or an exec'd program may connect yet. */
export const GRACE_MS = 2_000;
/** No layer at all within this long (a static binary, a program that never started): give up. */
export const STARTUP_WINDOW_MS = 60_000;
/** The socket pair to the CLI (exec-pipe.ts). */
const CONTROL_FD = 3;

/** Entry point of `__exec-proxy` (main.ts calls it before building the commander program). */
export function runProxy(argv: readonly string[]): void {
  if (!argv.includes(PROXY_DAEMON_FLAG)) {
    const self = selfCommand();
    const child = spawn(self.file, [...self.args, PROXY_COMMAND, PROXY_DAEMON_FLAG], { detached: true, stdio: ['ignore', 'ignore', 2, CONTROL_FD] });
    child.unref();
    process.exit(0);
  }
  for (const signal of ['SIGINT', 'SIGHUP', 'SIGTSTP', 'SIGTTIN', 'SIGTTOU', 'SIGQUIT'] as const) process.on(signal, () => {});
  const control = new net.Socket({ fd: CONTROL_FD, readable: true, writable: true });
  send = (event) => {
    if (!control.destroyed) control.write(`${JSON.stringify(event)}\n`);
  };
  endControl = () => new Promise<void>((resolve) => control.end(() => resolve()));
  const readLine = lineReader((line) => onControl(line));
  let start: ProxyStart | undefined;
  let proxy: ExecProxy | undefined;
  const onControl = (line: string) => {
    if (start === undefined) {
      start = JSON.parse(line) as ProxyStart;
      proxy = new ExecProxy(start);
      void proxy.run();
    } else if (line === ABORT_LINE) {
      void proxy?.stop('the CLI asked to stop');
    }
  };
  control.on('data', readLine);
  control.on('error', () => {});
  control.once('end', () => {
    if (!proxy) process.exit(ExitCode.internal);
    // Before ready: the CLI died or was interrupted. After: it became the program (execve closed its end).
    else if (!proxy.ready) void proxy.stop('the CLI went away before the agent was ready');
  });
}

/** Writes one event to the CLI (set up by runProxy); a CLI that is gone shows as the socket's end. */
let send: (event: ProxyEvent) => void = () => {};
let endControl: () => Promise<void> = async () => {};

class ExecProxy {
  readonly #start: ProxyStart;
  readonly #log: ExecLog;
  #setup: AgentSetup | undefined;
  #link: AgentLink | undefined;
  #listeners: Listeners | undefined;
  #server: LayerServer | undefined;
  #connections: (ConnectionLog & { flush(): void }) | undefined;
  #interceptor: TcpInterceptor | undefined;
  #timer: NodeJS.Timeout | undefined;
  #startupTimer: NodeJS.Timeout | undefined;
  #unwatchProgram: (() => void) | undefined;
  /** The program itself (the pid the CLI had) has exited; its children may still hold links. */
  #programExited = false;
  #stopping = false;
  ready = false;

  constructor(start: ProxyStart) {
    this.#start = start;
    this.#log = new ExecLog(start.logPath, start.verbose);
  }

  async run(): Promise<void> {
    const { forwarding } = this.#start;
    const log = (line: string) => this.#log.line(line);
    this.#log.line(`exec proxy ${VERSION} (pid ${process.pid}) for ${this.#start.program}`);
    this.#log.line(`${runtimeDescription()}; ${memoryAddonDescription()}`);
    try {
      // A held layer request waits as long as HOLD_MS for the next session.
      const link = linkFor(() => this.#setup, false, HOLD_MS);
      this.#link = link;
      // Failed connections of -L, SOCKS and outgoing go to the session's log: the program owns the terminal.
      const connections = connectionLogger(forwarding.verbose, log);
      this.#connections = connections;
      this.#listeners = await bindListeners(forwarding, link, connections);
      const ctx = loadKubeContext({ kubeconfigPath: forwarding.kubeconfigPath, context: forwarding.context, namespace: forwarding.namespace });
      requireSecureAgentLink(ctx.server, ctx.contextName, forwarding.insecureAgentLink);
      let progress = (text: string) => {
        log(text);
        send({ type: 'progress', text });
      };
      const incomingPlan = this.#start.features.incoming;
      let incomingOn = incomingPlan.mode !== 'off' && forwarding.targeting !== undefined;
      // The listeners need the forwards setUpAgent makes, which report deliveries to the listeners.
      let incoming: IncomingListeners | undefined;
      const tracker = { connecting: (source: Parameters<IncomingListeners['connecting']>[0]) => incoming!.connecting(source) };
      let localReason: string | undefined;
      const setUp = () => {
        const setup = setUpAgent(forwarding, ctx, (text) => progress(text), log, {
          log: connections, runAsTarget: true, mode: 'exec', ...(incomingOn ? { dynamicIncoming: { tracker } } : {}),
        });
        if (incomingPlan.mode !== 'off') {
          incoming = new IncomingListeners({ plan: incomingPlan, forwards: incomingOn ? setup.reverse : undefined, localReason, log, warnOnce: (text) => this.#log.warnOnce(text) });
        }
        this.#setup = setup;
        return setup;
      };
      let setup = setUp();
      await setup.prepare();
      let session;
      try {
        session = await setup.manager.start();
      } catch (err) {
        // Mirroring is only the default: in a namespace whose Pod Security level forbids the
        // NET_ADMIN it needs, the rest of exec (environment, files, DNS, outgoing) still works.
        // Only for the ephemeral agent on the target itself: a Job agent is privileged either way,
        // and a copy (with scale_down) would be made, and the workload scaled, a second time.
        const retry = incomingOn && !incomingPlan.asked && forwarding.targeting?.copy === undefined
          && err instanceof EphemeralPodSecurityError && err.askedNetAdmin;
        if (!retry) throw err;
        this.#log.warnOnce(`incoming traffic stays on this machine: ${err.message}. Mirroring the pod's traffic (feature.network.incoming, "mirror" by default) needs NET_ADMIN in the agent; set feature.network.incoming to "off" to skip this attempt, or ask for "mirror" or --steal explicitly to make it an error`);
        await setup.manager.cleanup();
        incomingOn = false;
        localReason = 'the cluster\'s Pod Security level refused the agent that incoming traffic needs (see the warning above)';
        setup = setUp();
        await setup.prepare();
        session = await setup.manager.start();
      }
      const files = new FileStreams(incomingOn);
      files.attach(session);
      requireUdp(session, forwarding);
      await setup.attach(session);
      const versionWarning = agentVersionWarning(session.peerName, VERSION, setup.image);
      if (versionWarning) this.#log.warnOnce(versionWarning);
      link.start(session);
      // Runs until the process exits (stop() ends in process.exit).
      startIdleCollector();
      link.on('reconnected', (s) => {
        files.attach(s);
        log('reconnected to the agent');
      });
      link.on('disconnected', (err) => log(`agent connection lost${err ? ` (${describeError(err)})` : ''}; reconnecting (layer requests wait up to ${HOLD_MS / 1000} s)`));
      link.on('retrying', (err, attempt) => log(`reconnect attempt ${attempt} failed: ${describeError(err)}`));
      progress = log;
      const target = setup.resolvedTarget();
      const env = target ? await fetchEnv(session, target) : {};
      const mounts = target ? await readMounts(ctx, target).catch((err: unknown) => {
        this.#log.warnOnce(`could not read the volume mounts of ${target.podName} (${(err as Error).message}): only /etc/resolv.conf, /etc/hosts, /etc/hostname and read_only paths are remote`);
        return [];
      }) : undefined;
      if (incomingOn && target) {
        const warning = await replicaWarning(ctx, target);
        if (warning) this.#log.warnOnce(warning);
      }
      if (mounts) log(`remote mounts of ${target?.podName}/${target?.container}: ${mounts.join(', ') || '(none)'}`);
      this.#interceptor = await TcpInterceptor.listen(log);
      this.#server = await LayerServer.listen(this.#start.socketPath, {
        source: link,
        files,
        interceptor: this.#interceptor,
        incoming,
        maxFileBytes: this.#start.features.fs.maxFileBytes,
        log,
        warnOnce: (text) => this.#log.warnOnce(text),
      }, { features: this.#start.features, mounts });
      this.#server.launcher = this.#start.launcher;
      this.#server.on('count', (open) => this.#onCount(open));
      this.#startupTimer = setTimeout(() => {
        if (this.#server?.programs === 0 && this.#server.open === 0) void this.stop(`no process loaded the layer within ${STARTUP_WINDOW_MS / 1000} s`);
      }, STARTUP_WINDOW_MS);
      const notes = this.#listeners.forwards.map((f) => `-L ${forwarding.bindAddress}:${f.port} -> ${f.spec.host}:${f.spec.port}`);
      if (this.#listeners.socks) notes.push(`SOCKS5 on ${this.#listeners.socks.spec.address}:${this.#listeners.socks.port}`);
      this.ready = true;
      send({ type: 'ready', env, agentPod: setup.manager.agent?.podName, target: setup.describeTarget(), notes });
      await endControl();
      log(`ready: layer socket ${this.#start.socketPath}`);
      const program = this.#start.programProcess;
      this.#unwatchProgram = watchProgram(program, () => {
        this.#programExited = true;
        log(`the program (pid ${program.pid}) has exited`);
        this.#onCount(this.#server?.open ?? 0);
      });
    } catch (err) {
      const e = err instanceof MirrordError ? err : new MirrordError('EPROXY', `the exec proxy failed: ${(err as Error).message}`, ExitCode.internal, { hint: `its log is ${this.#start.logPath}` });
      log(`failed: ${e.message}${e.hint ? ` (${e.hint})` : ''}`);
      send({ type: 'failed', code: e.code, message: e.message, hint: e.hint, exitCode: e.exitCode });
      await endControl();
      await this.stop('startup failed');
    }
  }

  /**
   * The grace timer: armed when no layer connection is open, once the program itself has
   * connected or has exited (a static program, which cannot load the layer). Before that (only the
   * launcher came and went) the startup window still applies.
   */
  #onCount(open: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (open !== 0) return;
    if ((this.#server?.programs ?? 0) > 0) {
      this.#timer = setTimeout(() => void this.stop('the last process that loaded the layer has exited'), GRACE_MS);
    } else if (this.#programExited) {
      this.#timer = setTimeout(() => void this.stop('the program exited and no process loaded the layer'), GRACE_MS);
    }
  }

  /** Removes everything (listeners, agent, socket directory) and exits. Runs once. */
  async stop(why: string): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#log.line(`stopping: ${why}`);
    this.#unwatchProgram?.();
    try {
      await this.#server?.close();
      await this.#interceptor?.close();
      await this.#listeners?.close();
      this.#connections?.flush();
      await this.#link?.close();
      await this.#setup?.manager.cleanup();
    } catch (err) {
      this.#log.line(`cleanup: ${(err as Error).message}`);
    } finally {
      rmSync(this.#start.socketDir, { recursive: true, force: true });
      this.#log.line('stopped');
      process.exit(0);
    }
  }
}

/**
 * The target container's environment.
 * @throws MirrordError EENVREFUSED (exit 4) naming why the agent may not read it.
 */
async function fetchEnv(session: Parameters<typeof requireUdp>[0], target: ResolvedTarget): Promise<Record<string, string>> {
  try {
    return (await session.call(Requests.targetEnv, {})).env;
  } catch (err) {
    if (err instanceof RequestError && err.code === ResponseErrorCode.notPermitted) {
      throw new MirrordError('EENVREFUSED', `the agent may not read the environment of ${target.podName}/${target.container}: ${err.message}`, ExitCode.cluster, {
        hint: 'the agent runs as the target container\'s user with no added capabilities; a policy that forbids even that (runAsNonRoot with a different uid, a PodSecurity level) must allow it',
      });
    }
    throw new MirrordError('EENV', `reading the environment of ${target.podName}/${target.container} failed: ${(err as Error).message}`, ExitCode.agent);
  }
}

/** The mountPath of every volume mount of the target container. */
async function readMounts(ctx: KubeContext, target: ResolvedTarget): Promise<string[]> {
  const core = ctx.kc.makeApiClient(CoreV1Api);
  const pod = await core.readNamespacedPod({ name: target.podName, namespace: target.namespace });
  const container = pod.spec?.containers.find((c) => c.name === target.container);
  return (container?.volumeMounts ?? []).map((m) => m.mountPath);
}
