/**
 * Runs `port-forward` and `socks`: bind every listener first (a port in use fails before anything
 * exists in the cluster), check the cluster, start the agent, then serve until Ctrl-C, reconnecting
 * when the agent connection drops. Imported lazily by the command actions, so `--help` never loads
 * @kubernetes/client-node.
 */
import { ExitCode, MirrordError } from '../errors.ts';
import type { ResolvedTarget } from '../kube/target-resolve.ts';
import { LocalForward } from '../forward/local-forward.ts';
import { UdpForward } from '../forward/udp-forward.ts';
import { formatHostPort } from '../forward/address-spec.ts';
import { describeMode } from '../forward/reverse-spec.ts';
import { AgentManager } from '../kube/agent-manager.ts';
import { agentVersionWarning, DEFAULT_AGENT_IMAGE } from '../kube/agent-image.ts';
import { loadKubeContext } from '../kube-api/kubeconfig.ts';
import type { KubeContext } from '../kube-api/kubeconfig.ts';
import { checkNamespace, checkPermissions } from '../kube/preflight.ts';
import { forwardingMode, sessionUser, type SessionFacts } from '../kube/session-meta.ts';
import { SocksServer } from '../socks/socks-server.ts';
import type { Session } from '../session/session.ts';
import type { ReverseForwards } from '../forward/reverse-forward.ts';
import { startTargeted, type TargetedRunOptions } from './run-targeted.ts';
import { AgentLink } from '../link/agent-link.ts';
import { requireSecureAgentLink } from '../transport/open-portforward.ts';
import { stderrColors as c } from '../ui/colors.ts';
import { connectionLogger, describeError } from '../ui/connection-log.ts';
import type { ConnectionLog } from '../forward/connection-events.ts';
import { Spinner } from '../ui/spinner.ts';
import { formatSummary } from '../ui/summary.ts';
import type { ForwardingPlan } from './forwarding-options.ts';
import { VERSION } from '../version.ts';
import { runtimeDescription } from '../node-options.ts';
import { startIdleCollector } from './idle-collector.ts';
import { memoryAddonDescription } from './memory-addon.ts';

/** Starts, reconnects and removes the agent: AgentManager (targetless) or TargetedAgentManager. */
export interface AgentProvider {
  readonly agent: { podName: string } | undefined;
  start(): Promise<Session>;
  reconnect(): Promise<Session>;
  cleanup(): Promise<void>;
}

export interface Listeners {
  forwards: Array<LocalForward | UdpForward>;
  socks: SocksServer | undefined;
  close(): Promise<void>;
}

const say = (line: string) => process.stderr.write(`${line}\n`);

export async function bindListeners(plan: ForwardingPlan, link: AgentLink, log: ConnectionLog): Promise<Listeners> {
  const forwards: Array<LocalForward | UdpForward> = [];
  let socks: SocksServer | undefined;
  const close = async () => {
    await Promise.all([...forwards.map((f) => f.close()), socks?.close()]);
  };
  try {
    for (const spec of plan.forwards) {
      forwards.push(spec.protocol === 'udp'
        ? await UdpForward.bind(spec, plan.bindAddress, link, log, { idleMs: plan.udpIdleTimeoutMs })
        : await LocalForward.bind(spec, plan.bindAddress, link, log));
    }
    if (plan.socks) socks = await SocksServer.bind(plan.socks, plan.socksAuth, link, log, { udpIdleMs: plan.udpIdleTimeoutMs });
  } catch (err) {
    await close();
    throw err;
  }
  return { forwards, socks, close };
}

function printSummary(plan: ForwardingPlan, listeners: Listeners, ctx: KubeContext, reverse: ReverseForwards | undefined, target: string | undefined): void {
  say(
    formatSummary({
      reverse: (reverse?.plans ?? []).map((r) => ({ from: `${target}:${r.remotePort}`, to: formatHostPort('127.0.0.1', r.localPort), mode: describeMode(r) })),
      forwards: listeners.forwards.map((f) => ({ address: plan.bindAddress, port: f.port, destination: formatHostPort(f.spec.host, f.spec.port), protocol: f.spec.protocol })),
      socks: listeners.socks ? { address: listeners.socks.spec.address, port: listeners.socks.port, auth: plan.socksAuth !== undefined } : undefined,
      namespace: ctx.namespace,
      context: ctx.contextName,
    }),
  );
}

/**
 * A `-L .../udp` needs an agent that speaks datagram streams; an older agent image (given with
 * --agent-image or a config file) would refuse every datagram, so say so before serving.
 * @throws MirrordError EAGENTUDP naming the agent and the -L.
 */
export function requireUdp(session: Session, plan: ForwardingPlan): void {
  const udp = plan.forwards.find((f) => f.protocol === 'udp');
  if (!udp || session.supportsDatagrams) return;
  throw new MirrordError('EAGENTUDP', `-L ${udp.text}: the agent (${session.peerName}) does not support UDP`, ExitCode.agent, {
    hint: 'use the agent image of this CLI version (drop --agent-image / agent.image), or forward over TCP',
  });
}

/** Tells the user about drops once each, and about reconnects; -v adds every retry. */
function reportLinkEvents(link: AgentLink, manager: AgentProvider, verbose: boolean): void {
  link.on('disconnected', (err) => {
    say(c.yellow(`agent connection lost${err ? ` (${describeError(err)})` : ''}; reconnecting, local ports stay open`));
  });
  link.on('retrying', (err, attempt, delayMs) => {
    if (verbose || attempt === 3) say(c.dim(`reconnect attempt ${attempt} failed (${describeError(err)}); retrying in ${(delayMs / 1000).toFixed(1)} s`));
  });
  link.on('reconnected', () => say(c.green(`reconnected to the agent (pod ${manager.agent?.podName ?? '?'})`)));
}

/** Resolves with the exit code when the user interrupts, or rejects when the link is lost for good. */
function waitForEnd(link: AgentLink): Promise<ExitCode> {
  return new Promise((resolve, reject) => {
    const onSignal = (signal: NodeJS.Signals) => {
      say(c.dim(`\n${signal}: removing the agent...`));
      // A second Ctrl-C while cleaning up means "now".
      process.once('SIGINT', () => process.exit(ExitCode.interrupted));
      resolve(signal === 'SIGINT' ? ExitCode.interrupted : ExitCode.ok);
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    link.once('ended', (reason) => {
      reject(new MirrordError('ESESSIONENDED', `the session was ended from the cluster: ${reason}`, ExitCode.disconnected, {
        hint: 'kubectl mirrord status lists the sessions that are left; run the command again to start a new one',
      }));
    });
    link.once('lost', (err) => {
      reject(new MirrordError('EDISCONNECTED', `the agent connection dropped${err ? ` (${describeError(err)})` : ''}`, ExitCode.disconnected, {
        hint: 'without --exit-on-disconnect, kubectl mirrord reconnects by itself',
      }));
    });
  });
}

/** Starts the agent under a spinner; Ctrl-C during startup still deletes what was created. */
async function startAgent(manager: AgentProvider, spinner: Spinner, prepare: () => Promise<void>, attach: (session: Session) => Promise<void>) {
  let onInterrupt: () => void = () => {};
  const interrupted = new Promise<never>((_, reject) => {
    onInterrupt = () => reject(new MirrordError('EINTERRUPTED', 'interrupted while the agent was starting', ExitCode.interrupted));
    process.once('SIGINT', onInterrupt);
  });
  // Nobody awaits `interrupted` once startup has finished.
  interrupted.catch(() => {});
  try {
    await Promise.race([prepare(), interrupted]);
    const session = await Promise.race([manager.start(), interrupted]);
    try {
      await Promise.race([attach(session), interrupted]);
    } catch (err) {
      session.destroy();
      throw err;
    }
    spinner.stop(c.green(`agent ready in ${spinner.elapsed} s`) + c.dim(` (pod ${manager.agent?.podName})`));
    return session;
  } catch (err) {
    spinner.stop();
    await manager.cleanup();
    throw err;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

/** Who runs this session and how, for `kubectl mirrord status`. */
function sessionFacts(plan: ForwardingPlan, ctx: KubeContext, mode?: SessionFacts['mode']): SessionFacts {
  const targeting = plan.targeting;
  return {
    user: sessionUser(ctx.kc),
    mode: mode ?? forwardingMode((targeting?.reverse ?? []).map((r) => r.mode)),
    ...(targeting ? { target: targeting.target.text, targetNamespace: ctx.namespace } : {}),
  };
}

/** The agent of a plan, how to start it, and what every session gets (-R). */
export interface AgentSetup {
  manager: AgentProvider;
  /** The namespace and permission checks, before anything is created. */
  prepare: () => Promise<void>;
  /** Called on every new session (the first and after reconnects). */
  attach: (session: Session) => Promise<void>;
  reverse: ReverseForwards | undefined;
  describeTarget: () => string | undefined;
  /** The target's pod and container once the agent started (undefined: targetless). */
  resolvedTarget: () => ResolvedTarget | undefined;
  image: string;
}

/** What setUpAgent needs besides the plan: the connection log, and exec's choices. */
export interface AgentSetupExtra {
  /** The one connection log of the command (-L, SOCKS, -R failures). */
  log: ConnectionLog;
  /** exec: a targeted agent with the target container's identity. */
  runAsTarget?: boolean;
  /** The mode `kubectl mirrord status` shows, when not port-forward's own (exec says 'exec'). */
  mode?: SessionFacts['mode'];
  /** exec's incoming traffic (run-targeted.ts). */
  dynamicIncoming?: TargetedRunOptions['dynamicIncoming'];
}

/**
 * Builds the agent for a plan: the targeted one (run-targeted.ts) or the targetless AgentManager.
 * Used by port-forward/socks (below) and by the exec proxy (src/exec/), so both start, reconnect
 * and remove agents the same way.
 * @param onProgress progress lines while an agent starts (a spinner, or the exec proxy's pipe).
 */
export function setUpAgent(plan: ForwardingPlan, ctx: KubeContext, onProgress: (text: string) => void, sayLine: (line: string) => void, extra: AgentSetupExtra): AgentSetup {
  const agentOptions = {
    image: plan.agentImage ?? DEFAULT_AGENT_IMAGE,
    pull: plan.agentImagePull,
    idleTimeoutMs: plan.agentIdleTimeoutMs,
    startupTimeoutMs: plan.agentStartupTimeoutMs,
    cliVersion: VERSION,
    onProgress,
    warn: (line: string) => sayLine(c.yellow(`warning: ${line}`)),
    session: sessionFacts(plan, ctx, extra.mode),
  };
  if (plan.targeting) {
    const run = startTargeted(ctx, plan.targeting, { ...agentOptions, log: extra.log, say: sayLine, runAsTarget: extra.runAsTarget, dynamicIncoming: extra.dynamicIncoming });
    return { manager: run.manager, prepare: run.prepare, attach: run.attach, reverse: run.reverse, describeTarget: run.describe, resolvedTarget: run.resolved, image: agentOptions.image };
  }
  return {
    manager: new AgentManager(ctx, agentOptions),
    prepare: async () => {
      onProgress(`checking access to namespace ${ctx.namespace}`);
      await Promise.all([checkNamespace(ctx), checkPermissions(ctx)]);
    },
    attach: async () => {},
    reverse: undefined,
    describeTarget: () => undefined,
    resolvedTarget: () => undefined,
    image: agentOptions.image,
  };
}

/**
 * An AgentLink whose reconnects go through `setup` (a new session gets its -R subscriptions before
 * it serves anything; if they fail, the link counts it as a failed attempt and retries).
 */
export function linkFor(getSetup: () => AgentSetup | undefined, exitOnDisconnect: boolean, waitForSessionMs?: number): AgentLink {
  return new AgentLink({
    waitForSessionMs,
    connect: async () => {
      const setup = getSetup() as AgentSetup;
      const session = await setup.manager.reconnect();
      try {
        await setup.attach(session);
      } catch (err) {
        session.destroy();
        throw err;
      }
      return session;
    },
    exitOnDisconnect,
  });
}

/**
 * Runs the plan until Ctrl-C. Returns the exit code for a normal end.
 * @throws MirrordError for every failure, after removing the listeners and the agent.
 */
export async function runForwarding(plan: ForwardingPlan): Promise<ExitCode> {
  if (plan.verbose) say(c.dim(`${runtimeDescription()}; ${memoryAddonDescription()}`));
  if (plan.exposedWarning) say(c.yellow(`warning: ${plan.exposedWarning}`));
  let setup: AgentSetup | undefined;
  const link = linkFor(() => setup, plan.exitOnDisconnect);
  // One log for -L, SOCKS and -R: failures print on stderr by default, rate-limited together.
  const log = connectionLogger(plan.verbose, say);
  const listeners = await bindListeners(plan, link, log);
  let stopCollector = () => {};
  try {
    const ctx = loadKubeContext({ kubeconfigPath: plan.kubeconfigPath, context: plan.context, namespace: plan.namespace });
    requireSecureAgentLink(ctx.server, ctx.contextName, plan.insecureAgentLink);
    const spinner = new Spinner('connecting to the cluster');
    // Startup progress drives the spinner; later (a replacement agent) it is shown only with -v.
    let progress = (text: string) => spinner.update(text);
    setup = setUpAgent(plan, ctx, (text) => progress(text), say, { log });
    const { manager, reverse } = setup;
    const firstAttach = setup.attach;
    const session = await startAgent(manager, spinner, setup.prepare, async (session) => {
      requireUdp(session, plan);
      await firstAttach(session);
    });
    const versionWarning = agentVersionWarning(session.peerName, VERSION, setup.image);
    if (versionWarning) say(c.yellow(`warning: ${versionWarning}`));
    link.start(session);
    stopCollector = startIdleCollector();
    progress = plan.verbose ? (text) => say(c.dim(text)) : () => {};
    printSummary(plan, listeners, ctx, reverse, setup.describeTarget());
    reportLinkEvents(link, manager, plan.verbose);
    return await waitForEnd(link);
  } finally {
    stopCollector();
    await listeners.close();
    log.flush();
    await link.close();
    await setup?.manager.cleanup();
  }
}
