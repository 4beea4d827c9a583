/**
 * The targeted half of a forwarding run: the permission checks for the chosen agent mode, the
 * TargetedAgentManager (which resolves the target when it starts), and the -R forwards attached to
 * every session. Imported lazily with run-forwarding.ts.
 */
import type { AgentImagePull } from '../kube/agent-image.ts';
import { ReverseForwards } from '../forward/reverse-forward.ts';
import type { ConnectionLog } from '../forward/connection-events.ts';
import { errorFromKubeCall } from '../kube-api/api-errors.ts';
import type { KubeContext } from '../kube-api/kubeconfig.ts';
import { AGENT_PERMISSIONS, checkNamespace, checkPermissions, type Permission } from '../kube/preflight.ts';
import { kubeTargetApi } from '../kube/target-api.ts';
import { resolveTarget } from '../kube/target-resolve.ts';
import { TargetedAgentManager } from '../kube/targeted-agent.ts';
import type { Session } from '../session/session.ts';
import type { Targeting } from './targeting-options.ts';

/** Reading the target and connecting to it, in the target's namespace. */
const TARGET_PERMISSIONS: readonly Permission[] = [
  { verb: 'get', group: '', resource: 'pods', why: 'to find the target pod' },
  { verb: 'list', group: '', resource: 'pods', why: "to find a workload's pods" },
  { verb: 'watch', group: '', resource: 'pods', why: 'to follow the agent' },
  { verb: 'create', group: '', resource: 'pods', subresource: 'portforward', why: 'to connect to the agent' },
];

const EPHEMERAL_PERMISSION: Permission = { verb: 'patch', group: '', resource: 'pods', subresource: 'ephemeralcontainers', why: 'to add the agent to the target pod' };

export interface TargetedRun {
  manager: TargetedAgentManager;
  reverse: ReverseForwards | undefined;
  /** The namespace and permission checks, before anything is created. */
  prepare(): Promise<void>;
  /** Subscribes -R on a new session (the first, and after every reconnect). */
  attach(session: Session): Promise<void>;
  /** `pod/web-1` once resolved, else the target as given. */
  describe(): string;
}

export interface TargetedRunOptions {
  image: string;
  pull?: AgentImagePull;
  idleTimeoutMs: number;
  startupTimeoutMs: number;
  cliVersion: string;
  onProgress: (text: string) => void;
  log: ConnectionLog;
  say: (line: string) => void;
}

/** @param ctx the kube context in the target's namespace. */
export function startTargeted(ctx: KubeContext, targeting: Targeting, options: TargetedRunOptions): TargetedRun {
  const agentCtx: KubeContext = { ...ctx, namespace: targeting.agentNamespace ?? ctx.namespace };
  const manager = new TargetedAgentManager(agentCtx, {
    ...options,
    mode: targeting.mode,
    netAdmin: targeting.reverse.length > 0,
    resolve: async () => {
      options.onProgress(`resolving ${targeting.target.text} in namespace ${ctx.namespace}`);
      try {
        return await resolveTarget(kubeTargetApi(ctx), targeting.target, ctx.namespace);
      } catch (err) {
        throw errorFromKubeCall(err, `read ${targeting.target.kind}/${targeting.target.name} in namespace "${ctx.namespace}"`, ctx.server);
      }
    },
  });
  const describe = () => (manager.target ? `pod/${manager.target.podName}` : targeting.target.text);
  const reverse = targeting.reverse.length > 0 ? new ReverseForwards(targeting.reverse, { target: describe, log: options.log, say: options.say }) : undefined;
  return {
    manager,
    reverse,
    describe,
    prepare: async () => {
      options.onProgress(`checking access to namespace ${ctx.namespace}`);
      await checkNamespace(ctx);
      const inTarget = targeting.mode === 'ephemeral' ? [...TARGET_PERMISSIONS, EPHEMERAL_PERMISSION] : TARGET_PERMISSIONS;
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
