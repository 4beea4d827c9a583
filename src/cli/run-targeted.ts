/**
 * The targeted half of a forwarding run: the permission checks for the chosen agent mode, the
 * TargetedAgentManager (which resolves the target when it starts), and the -R forwards attached to
 * every session. Imported lazily with run-forwarding.ts.
 */
import type { AgentImagePull } from '../kube/agent-image.ts';
import { ReverseForwards, type DeliveryTracker } from '../forward/reverse-forward.ts';
import type { ConnectionLog } from '../forward/connection-events.ts';
import { errorFromKubeCall } from '../kube-api/api-errors.ts';
import type { KubeContext } from '../kube-api/kubeconfig.ts';
import { AGENT_PERMISSIONS, checkNamespace, checkPermissions, type Permission } from '../kube/preflight.ts';
import { kubeTargetApi } from '../kube/target-api.ts';
import { resolveTarget, type ResolvedTarget } from '../kube/target-resolve.ts';
import { TargetedAgentManager } from '../kube/targeted-agent.ts';
import type { Session } from '../session/session.ts';
import type { Targeting } from './targeting-options.ts';
import { CopySession } from '../kube/copy-session.ts';
import { scaleDownPermissions, scaleTargetOf, ScaleDownSession } from '../kube/scale-down-session.ts';
import { sessionUser, type SessionFacts } from '../kube/session-meta.ts';
import { stderrColors as c } from '../ui/colors.ts';
import { ExitCode, MirrordError } from '../errors.ts';

/** Reading the target and connecting to it, in the target's namespace. */
const TARGET_PERMISSIONS: readonly Permission[] = [
  { verb: 'get', group: '', resource: 'pods', why: 'to find the target pod' },
  { verb: 'list', group: '', resource: 'pods', why: "to find a workload's pods" },
  { verb: 'watch', group: '', resource: 'pods', why: 'to follow the agent' },
  { verb: 'create', group: '', resource: 'pods', subresource: 'portforward', why: 'to connect to the agent' },
];

const EPHEMERAL_PERMISSION: Permission = { verb: 'patch', group: '', resource: 'pods', subresource: 'ephemeralcontainers', why: 'to add the agent to the target pod' };

/** Making the copy (copy_target): reading the target, its Job, following its pod, the lease. */
const COPY_PERMISSIONS: readonly Permission[] = [
  { verb: 'create', group: 'batch', resource: 'jobs', why: 'to create the copy of the target' },
  { verb: 'patch', group: 'batch', resource: 'jobs', why: "to renew the copy's lease" },
  { verb: 'delete', group: 'batch', resource: 'jobs', why: 'to remove the copy on exit' },
];

const TARGET_READ: Record<string, Permission> = {
  pod: { verb: 'get', group: '', resource: 'pods', why: 'to copy its spec' },
  deployment: { verb: 'get', group: 'apps', resource: 'deployments', why: 'to copy its pod template' },
  statefulset: { verb: 'get', group: 'apps', resource: 'statefulsets', why: 'to copy its pod template' },
  replicaset: { verb: 'get', group: 'apps', resource: 'replicasets', why: 'to copy its pod template' },
  job: { verb: 'get', group: 'batch', resource: 'jobs', why: 'to copy its pod template' },
  cronjob: { verb: 'get', group: 'batch', resource: 'cronjobs', why: 'to copy its jobTemplate' },
  rollout: { verb: 'get', group: 'argoproj.io', resource: 'rollouts', why: 'to copy its pod template' },
};

/** The shape run-forwarding.ts's AgentProvider has (declared here too, so no import goes back). */
interface AgentProvider {
  readonly agent: { podName: string } | undefined;
  start(): Promise<Session>;
  reconnect(): Promise<Session>;
  cleanup(): Promise<void>;
}

export interface TargetedRun {
  manager: AgentProvider;
  reverse: ReverseForwards | undefined;
  /** The namespace and permission checks, before anything is created. */
  prepare(): Promise<void>;
  /** Subscribes -R on a new session (the first, and after every reconnect). */
  attach(session: Session): Promise<void>;
  /** `pod/web-1` once resolved, else the target as given. */
  describe(): string;
  /** The target's pod and container, once the agent has started. */
  resolved(): ResolvedTarget | undefined;
}

export interface TargetedRunOptions {
  image: string;
  pull?: AgentImagePull;
  idleTimeoutMs: number;
  startupTimeoutMs: number;
  cliVersion: string;
  onProgress: (text: string) => void;
  /** Who started the session and how, for `kubectl mirrord status`. */
  session?: SessionFacts;
  log: ConnectionLog;
  say: (line: string) => void;
  /** Cleanup problems, e.g. a Job that could not be deleted and the command that deletes it. */
  warn: (line: string) => void;
  /** exec: the agent runs as the target container's user, adding no capabilities (no -R). */
  runAsTarget?: boolean;
  /**
   * exec's incoming traffic: the ports come and go with the program (ReverseForwards.add/remove),
   * and the agent gets what redirecting needs.
   */
  dynamicIncoming?: { tracker: DeliveryTracker };
}

/** @param ctx the kube context in the target's namespace. */
export function startTargeted(ctx: KubeContext, targeting: Targeting, options: TargetedRunOptions): TargetedRun {
  const agentCtx: KubeContext = { ...ctx, namespace: targeting.agentNamespace ?? ctx.namespace };
  const copy = targeting.copy
    ? new CopySession(ctx, {
      spec: targeting.target, plan: targeting.copy, idleTimeoutMs: options.idleTimeoutMs, startupTimeoutMs: options.startupTimeoutMs, cliVersion: options.cliVersion,
      onProgress: options.onProgress,
      warn: options.warn,
      onLeaseError: (err) => options.say(c.yellow(`warning: renewing the copy's lease failed (${err.message}); it is removed after --agent-idle-timeout without one`)),
    })
    : undefined;
  let scaleDown: ScaleDownSession | undefined;
  /** The copy, and with scale_down the workload taken, on the first call; the same copy after. */
  // Set when cleanup starts: a startup still running (Ctrl-C during it: startAgent stops waiting,
  // not the requests) must not leave a copy or a scaled-down workload behind.
  let ended = false;
  const interrupted = () => new MirrordError('EINTERRUPTED', 'interrupted while the copy was starting', ExitCode.interrupted);
  const resolveCopy = async (session: CopySession) => {
    if (session.target) return await session.current();
    if (scaleDown) await scaleDown.checkFree();
    const target = await session.create();
    if (ended) {
      await session.remove();
      throw interrupted();
    }
    if (scaleDown) {
      await scaleDown.startKeeper(session.sessionId, session.jobName);
      if (ended) {
        await Promise.all([session.remove(), scaleDown.removeKeeper()]);
        throw interrupted();
      }
      options.onProgress(`scaling ${scaleDown.workload.text} down to 0`);
      const replicas = await scaleDown.take(session.sessionId, session.jobName);
      if (ended) {
        await scaleDown.restore();
        await Promise.all([session.remove(), scaleDown.removeKeeper()]);
        throw interrupted();
      }
      options.say(c.dim(`scaled ${scaleDown.workload.text} down from ${replicas} to 0; it is restored on exit (or by the scale keeper, ${Math.round(options.idleTimeoutMs / 1000)} s after this CLI stops)`));
      for (const note of await scaleDown.autoscalers()) options.say(c.dim(`note: ${note}`));
      const workload = scaleDown.workload;
      scaleDown.watchScaleBack((now, manager) => options.say(c.yellow(
        `warning: ${workload.text} was scaled back up to ${now} by ${manager ? `"${manager}"` : 'something else'} (a GitOps sync, a controller or a person); its pods now compete with the copy. On exit it is set to the recorded count.`,
      )));
    }
    options.say(c.dim(`copy of ${targeting.target.text}: pod ${target.podName} (Job ${session.jobName}, no probes)`));
    return target;
  };
  const agents = new TargetedAgentManager(agentCtx, {
    ...options,
    mode: targeting.mode,
    netAdmin: targeting.reverse.length > 0 || options.dynamicIncoming !== undefined,
    runAsTarget: options.runAsTarget,
    resolve: async () => {
      if (copy) return await resolveCopy(copy);
      options.onProgress(`resolving ${targeting.target.text} in namespace ${ctx.namespace}`);
      try {
        return await resolveTarget(kubeTargetApi(ctx), targeting.target, ctx.namespace);
      } catch (err) {
        throw errorFromKubeCall(err, `read ${targeting.target.kind}/${targeting.target.name} in namespace "${ctx.namespace}"`, ctx.server);
      }
    },
  });
  const manager: AgentProvider = {
    get agent() {
      return agents.agent;
    },
    start: () => agents.start(),
    reconnect: () => agents.reconnect(),
    cleanup: async () => {
      ended = true;
      await agents.cleanup();
      if (scaleDown) options.say(c.dim(await scaleDown.restore()));
      await copy?.remove();
      await scaleDown?.removeKeeper();
    },
  };
  const describe = () => (agents.target ? `pod/${agents.target.podName}` : targeting.target.text);
  const reverse = options.dynamicIncoming
    ? new ReverseForwards([], { target: describe, log: options.log, say: options.say, tracker: options.dynamicIncoming.tracker, name: (plan) => `port ${plan.remotePort}` })
    : targeting.reverse.length > 0 ? new ReverseForwards(targeting.reverse, { target: describe, log: options.log, say: options.say }) : undefined;
  return {
    manager,
    reverse,
    describe,
    resolved: () => agents.target,
    prepare: async () => {
      options.onProgress(`checking access to namespace ${ctx.namespace}`);
      await checkNamespace(ctx);
      const inTarget = targeting.mode === 'ephemeral' ? [...TARGET_PERMISSIONS, EPHEMERAL_PERMISSION] : [...TARGET_PERMISSIONS];
      if (copy) inTarget.push(TARGET_READ[targeting.target.kind], ...COPY_PERMISSIONS);
      if (targeting.copy?.scaleDown) {
        const workload = await scaleTargetOf(ctx, targeting.target);
        // The record names the user as status's USER column does, so kill --all-mine finds the hold.
        scaleDown = new ScaleDownSession(ctx, workload, { image: options.image, user: options.session?.user ?? sessionUser(ctx.kc), cliVersion: options.cliVersion, startupTimeoutMs: options.startupTimeoutMs, onProgress: options.onProgress, warn: options.warn });
        inTarget.push(...scaleDownPermissions(workload));
      }
      await checkPermissions(ctx, inTarget);
      if (targeting.mode === 'job') {
        if (agentCtx.namespace !== ctx.namespace) await checkNamespace(agentCtx);
        await checkPermissions(agentCtx, AGENT_PERMISSIONS);
      }
    },
    attach: async (session) => {
      if (reverse) await reverse.attach(session);
    },
  };
}
