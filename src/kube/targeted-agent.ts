/**
 * The targeted agent's life for one command: an ephemeral container in the target pod (default),
 * or a Job on the target's node (`--agent-mode job`, or automatically when the cluster has no
 * ephemeral containers); wait for it with a watch; connect through pods/portforward to the TARGET
 * pod at the agent's port (the agent shares the pod's network namespace); reconnect to it, or start
 * a new one when it is gone.
 *
 * Ephemeral containers cannot be removed: cleanup only closes the session, and the agent exits
 * after its idle timeout. The Job fallback is deleted on exit like the targetless agent.
 */
import { createHash, randomBytes } from 'node:crypto';
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { Session } from '../session/session.ts';
import { connectAgentSession } from '../link/agent-session.ts';
import type { PortForwardTarget } from '../transport/open-portforward.ts';
import { AgentError, MirrordError } from '../errors.ts';
import { AgentManager, type AgentManagerOptions } from './agent-manager.ts';
import { buildEphemeralAgent, ephemeralContainerName, ephemeralPatch, judgeEphemeral, randomAgentPort } from './ephemeral-agent.ts';
import { ephemeralPatchError } from './ephemeral-errors.ts';
import type { KubeContext } from '../kube-api/kubeconfig.ts';
import { buildNodeAgentJob } from './node-agent-job.ts';
import { watchPods } from './pod-watch.ts';
import type { ResolvedTarget } from './target-resolve.ts';
import type { TargetIdentity } from './target-identity.ts';

/** `auto`: an ephemeral container, or a Job when the cluster has none. */
export type AgentMode = 'auto' | 'ephemeral' | 'job';

export interface TargetedAgentOptions extends AgentManagerOptions {
  mode: AgentMode;
  /** NET_ADMIN for -R (steal and mirror both redirect with iptables). */
  netAdmin: boolean;
  /**
   * exec: the ephemeral agent runs as the target container's uid, gid and capabilities
   * (src/kube/target-identity.ts), adding none, so it can read the target's environment and files
   * under Pod Security "baseline". With netAdmin (exec's incoming traffic) it runs as root with the
   * redirect capabilities and what reading the target needs (ephemeral-agent.ts).
   */
  runAsTarget?: boolean;
  /** Finds the target's current pod again (the first one may be gone by a reconnect). */
  resolve: () => Promise<ResolvedTarget>;
}

/** Attempts with a fresh name and port when the agent exits at once (its port was taken). */
const START_ATTEMPTS = 3;
const CONNECT_RETRY_MS = 150;

interface EphemeralHandle {
  podName: string;
  namespace: string;
  container: string;
  port: number;
  token: Buffer;
}

export class TargetedAgentManager {
  readonly #ctx: KubeContext;
  readonly #options: TargetedAgentOptions;
  #target: ResolvedTarget | undefined;
  #ephemeral: EphemeralHandle | undefined;
  #job: AgentManager | undefined;

  /** @param ctx its namespace is where a Job fallback runs (the agent namespace). */
  constructor(ctx: KubeContext, options: TargetedAgentOptions) {
    this.#ctx = ctx;
    this.#options = options;
  }

  /** The pod and container the agent serves; set once start() has resolved the target. */
  get target(): ResolvedTarget | undefined {
    return this.#target;
  }

  /** The pod the session goes to, for messages. */
  get agent(): { podName: string } | undefined {
    if (this.#ephemeral) return { podName: `${this.#ephemeral.podName} (container ${this.#ephemeral.container})` };
    return this.#job?.agent;
  }

  /** Starts an agent for the target and connects. @throws MirrordError for every failure. */
  async start(): Promise<Session> {
    this.#target ??= await this.#options.resolve();
    if (this.#options.mode === 'job') return await this.#startJob();
    try {
      return await this.#startEphemeral();
    } catch (err) {
      if (!(err instanceof MirrordError && err.code === 'ENOEPHEMERAL' && this.#options.mode === 'auto')) throw err;
      this.#options.onProgress?.('this cluster has no ephemeral containers; starting the agent as a Job on the target\'s node');
      return await this.#startJob();
    }
  }

  /** For the AgentLink after a drop: the same agent if it still runs, else a new one. */
  async reconnect(): Promise<Session> {
    if (this.#job) return await this.#job.reconnect();
    const handle = this.#ephemeral;
    if (handle && (await this.#ephemeralRunning(handle))) return await this.#connect(handle);
    this.#ephemeral = undefined;
    this.#target = await this.#options.resolve();
    return await this.start();
  }

  /** Deletes a Job fallback; an ephemeral container cannot be deleted and exits when idle. */
  async cleanup(): Promise<void> {
    await this.#job?.cleanup();
  }

  async #startJob(): Promise<Session> {
    const target = this.#target!;
    if (!target.nodeName || !target.containerId) {
      throw new AgentError('EJOBFALLBACK', `pod "${target.podName}" has no node or container id yet, which the Job agent needs`, { hint: 'wait until the pod runs' });
    }
    const port = randomAgentPort();
    this.#job = new AgentManager(this.#ctx, {
      ...this.#options,
      buildJob: (o) => buildNodeAgentJob({ ...o, nodeName: target.nodeName!, containerId: target.containerId!, port }),
      endpoint: (): PortForwardTarget => ({ namespace: target.namespace, pod: target.podName, port }),
    });
    return await this.#job.start();
  }

  async #startEphemeral(): Promise<Session> {
    const deadline = Date.now() + this.#options.startupTimeoutMs;
    let lastExit = '';
    for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
      const handle = await this.#addContainer();
      const state = await watchPods(this.#ctx, {
        namespace: handle.namespace,
        select: { name: handle.podName },
        initialProgress: `waiting for pod ${handle.podName}`,
        judge: (pod) => {
          const verdict = judgeEphemeral(pod, handle.container, this.#options.image);
          return 'done' in verdict ? { done: verdict } : verdict;
        },
        deadline,
        onProgress: this.#options.onProgress,
        onTimeout: (last) => new AgentError('ESTARTUPTIMEOUT', `the agent was not ready after ${Math.round(this.#options.startupTimeoutMs / 1000)} s (last seen: ${last})`, {
          hint: `a slow image pull? raise --agent-startup-timeout, or see kubectl describe pod ${handle.podName} -n ${handle.namespace}`,
        }),
      });
      if (state.done === 'running') {
        this.#ephemeral = handle;
        return await this.#connectUntil(handle, deadline);
      }
      lastExit = state.detail ?? 'exited';
      this.#options.onProgress?.(`the agent container exited at once (${lastExit}); trying another port`);
    }
    const { podName, namespace } = this.#target!;
    throw new AgentError('EAGENTEXIT', `the agent in pod "${podName}" exited during startup ${START_ATTEMPTS} times (last: ${lastExit})`, {
      hint: `see kubectl logs ${podName} -n ${namespace} -c <mirrord-agent-... container>`,
    });
  }

  /** Adds one ephemeral container with a new name, port and token. */
  async #addContainer(): Promise<EphemeralHandle> {
    const target = this.#target!;
    const token = randomBytes(32);
    const sessionId = randomBytes(4).toString('hex');
    const handle = { podName: target.podName, namespace: target.namespace, container: ephemeralContainerName(sessionId), port: randomAgentPort(), token };
    const container = buildEphemeralAgent({
      name: handle.container,
      sessionId,
      session: this.#options.session,
      image: this.#options.image,
      targetContainer: target.container,
      port: handle.port,
      tokenSha256: createHash('sha256').update(token).digest('hex'),
      idleTimeoutMs: this.#options.idleTimeoutMs,
      netAdmin: this.#options.netAdmin,
      runAs: this.#runAs(),
      targetContainerId: target.containerId,
      pullPolicy: this.#options.pull?.policy,
    });
    this.#options.onProgress?.(`adding agent container ${handle.container} to pod ${target.podName}`);
    const core = this.#ctx.kc.makeApiClient(CoreV1Api);
    try {
      await core.patchNamespacedPodEphemeralcontainers(
        { name: target.podName, namespace: target.namespace, body: ephemeralPatch(container) },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      );
    } catch (err) {
      // With netAdmin the agent asked for more than the target's identity: the error says what.
      throw await ephemeralPatchError(this.#ctx, err, target, this.#options.netAdmin ? undefined : this.#runAs(), this.#options.netAdmin);
    }
    return handle;
  }

  /** The identity an exec agent takes, or undefined for the image's own user. */
  #runAs(): TargetIdentity | undefined {
    if (!this.#options.runAsTarget) return undefined;
    return this.#target?.identity ?? { uid: 0, gid: 0, capabilities: undefined, source: 'assumed' };
  }

  #connect(handle: EphemeralHandle): Promise<Session> {
    return connectAgentSession(this.#ctx.kc, { namespace: handle.namespace, pod: handle.podName, port: handle.port }, { token: handle.token, client: `kubectl-mirrord/${this.#options.cliVersion}` });
  }

  /** Connects, retrying while the agent is not listening yet, until the startup deadline. */
  async #connectUntil(handle: EphemeralHandle, deadline: number): Promise<Session> {
    this.#options.onProgress?.(`connecting to the agent in pod ${handle.podName}`);
    for (;;) {
      try {
        return await this.#connect(handle);
      } catch (err) {
        const retriable = err instanceof MirrordError && (err.code === 'EPORTFORWARD' || err.code === 'EHANDSHAKE') && Date.now() + CONNECT_RETRY_MS < deadline;
        if (!retriable) throw err;
        await new Promise((resolve) => setTimeout(resolve, CONNECT_RETRY_MS));
      }
    }
  }

  async #ephemeralRunning(handle: EphemeralHandle): Promise<boolean> {
    try {
      const pod = await this.#ctx.kc.makeApiClient(CoreV1Api).readNamespacedPod({ name: handle.podName, namespace: handle.namespace });
      const verdict = judgeEphemeral(pod, handle.container, this.#options.image);
      return 'done' in verdict && verdict.done === 'running';
    } catch (err) {
      if ((err as { code?: unknown }).code === 404) return false;
      throw err;
    }
  }
}
