/**
 * Runs `port-forward` and `socks`: bind every listener first (a port in use fails before anything
 * exists in the cluster), check the cluster, start the agent, then serve until Ctrl-C, reconnecting
 * when the agent connection drops. Imported lazily by the command actions, so `--help` never loads
 * @kubernetes/client-node.
 */
import { ExitCode, MirrordError } from '../errors.ts';
import { LocalForward } from '../forward/local-forward.ts';
import { formatHostPort } from '../forward/address-spec.ts';
import { AgentManager } from '../kube/agent-manager.ts';
import { DEFAULT_AGENT_IMAGE } from '../kube/agent-image.ts';
import { loadKubeContext } from '../kube/kubeconfig.ts';
import type { KubeContext } from '../kube/kubeconfig.ts';
import { checkNamespace, checkPermissions } from '../kube/preflight.ts';
import { SocksServer } from '../socks/socks-server.ts';
import { AgentLink } from '../transport/agent-link.ts';
import { stderrColors as c } from '../ui/colors.ts';
import { connectionLogger, describeError } from '../ui/connection-log.ts';
import { Spinner } from '../ui/spinner.ts';
import { formatSummary } from '../ui/summary.ts';
import type { ForwardingPlan } from './forwarding-options.ts';
import { CLI_VERSION } from './version.ts';

interface Listeners {
  forwards: LocalForward[];
  socks: SocksServer | undefined;
  close(): Promise<void>;
}

const say = (line: string) => process.stderr.write(`${line}\n`);

async function bindListeners(plan: ForwardingPlan, link: AgentLink): Promise<Listeners> {
  const log = connectionLogger(plan.verbose, say);
  const forwards: LocalForward[] = [];
  let socks: SocksServer | undefined;
  const close = async () => {
    await Promise.all([...forwards.map((f) => f.close()), socks?.close()]);
  };
  try {
    for (const spec of plan.forwards) forwards.push(await LocalForward.bind(spec, plan.bindAddress, link, log));
    if (plan.socks) socks = await SocksServer.bind(plan.socks, plan.socksAuth, link, log);
  } catch (err) {
    await close();
    throw err;
  }
  return { forwards, socks, close };
}

function printSummary(plan: ForwardingPlan, listeners: Listeners, ctx: KubeContext): void {
  say(
    formatSummary({
      forwards: listeners.forwards.map((f) => ({ address: plan.bindAddress, port: f.port, destination: formatHostPort(f.spec.host, f.spec.port) })),
      socks: listeners.socks ? { address: listeners.socks.spec.address, port: listeners.socks.port, auth: plan.socksAuth !== undefined } : undefined,
      namespace: ctx.namespace,
      context: ctx.contextName,
    }),
  );
}

/** Tells the user about drops once each, and about reconnects; -v adds every retry. */
function reportLinkEvents(link: AgentLink, manager: AgentManager, verbose: boolean): void {
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
    link.once('lost', (err) => {
      reject(new MirrordError('EDISCONNECTED', `the agent connection dropped${err ? ` (${describeError(err)})` : ''}`, ExitCode.disconnected, {
        hint: 'without --exit-on-disconnect, kubectl mirrord reconnects by itself',
      }));
    });
  });
}

/** Starts the agent under a spinner; Ctrl-C during startup still deletes what was created. */
async function startAgent(ctx: KubeContext, manager: AgentManager, spinner: Spinner) {
  const interrupted = new Promise<never>((_, reject) => {
    process.once('SIGINT', () => reject(new MirrordError('EINTERRUPTED', 'interrupted while the agent was starting', ExitCode.interrupted)));
  });
  try {
    spinner.update(`checking access to namespace ${ctx.namespace}`);
    await Promise.race([Promise.all([checkNamespace(ctx), checkPermissions(ctx)]), interrupted]);
    const session = await Promise.race([manager.start(), interrupted]);
    spinner.stop(c.green(`agent ready in ${spinner.elapsed} s`) + c.dim(` (pod ${manager.agent?.podName})`));
    return session;
  } catch (err) {
    spinner.stop();
    await manager.cleanup();
    throw err;
  } finally {
    process.removeAllListeners('SIGINT');
  }
}

/**
 * Runs the plan until Ctrl-C. Returns the exit code for a normal end.
 * @throws MirrordError for every failure, after removing the listeners and the agent.
 */
export async function runForwarding(plan: ForwardingPlan): Promise<ExitCode> {
  if (plan.exposedWarning) say(c.yellow(`warning: ${plan.exposedWarning}`));
  let manager: AgentManager | undefined;
  const link = new AgentLink({ connect: () => (manager as AgentManager).reconnect(), exitOnDisconnect: plan.exitOnDisconnect });
  const listeners = await bindListeners(plan, link);
  try {
    const ctx = loadKubeContext({ kubeconfigPath: plan.kubeconfigPath, context: plan.context, namespace: plan.namespace });
    const spinner = new Spinner('connecting to the cluster');
    // Startup progress drives the spinner; later (a replacement agent) it is shown only with -v.
    let progress = (text: string) => spinner.update(text);
    manager = new AgentManager(ctx, {
      image: plan.agentImage ?? DEFAULT_AGENT_IMAGE,
      idleTimeoutMs: plan.agentIdleTimeoutMs,
      startupTimeoutMs: plan.agentStartupTimeoutMs,
      cliVersion: CLI_VERSION,
      onProgress: (text) => progress(text),
    });
    link.start(await startAgent(ctx, manager, spinner));
    progress = plan.verbose ? (text) => say(c.dim(text)) : () => {};
    printSummary(plan, listeners, ctx);
    reportLinkEvents(link, manager, plan.verbose);
    return await waitForEnd(link);
  } finally {
    await listeners.close();
    await link.close();
    await manager?.cleanup();
  }
}
