/**
 * The agent's life for one command: create its Job, wait for its pod, connect (ready = handshake
 * done), reconnect to it or replace it when the connection drops, and delete it on exit.
 */
import type { AgentImagePull } from './agent-image.ts';
import { createHash, randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import { BatchV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { Session } from '../session/session.ts';
import { connectAgentSession } from '../link/agent-session.ts';
import { MirrordError } from '../errors.ts';
import { errorFromKubeCall } from '../kube-api/api-errors.ts';
import type { V1Job } from '@kubernetes/client-node';
import type { PortForwardTarget } from '../transport/open-portforward.ts';
import { AGENT_PORT, agentJobName, buildAgentJob, type AgentJobOptions } from './agent-job.ts';
import { waitForAgentPod } from './agent-pod-wait.ts';
import { deleteJobReported, stderrWarn, type CleanupWarn } from './job-delete.ts';
import type { KubeContext } from '../kube-api/kubeconfig.ts';
import type { SessionFacts } from './session-meta.ts';

export interface AgentManagerOptions {
  image: string;
  /** imagePullPolicy / imagePullSecrets of the agent's pod. */
  pull?: AgentImagePull;
  idleTimeoutMs: number;
  startupTimeoutMs: number;
  cliVersion: string;
  /** Progress lines while an agent starts (for the spinner). */
  onProgress?: (text: string) => void;
  /** Builds the Job; default: the targetless agent (buildAgentJob). The Job fallback of a target passes its own. */
  buildJob?: (options: AgentJobOptions) => V1Job;
  /** Who started the session and how, written into the agent's spec for `kubectl mirrord status`. */
  session?: SessionFacts;
  /** Where the agent of a running pod listens; default: that pod, port AGENT_PORT. */
  endpoint?: (agentPodName: string) => PortForwardTarget;
  /** Cleanup problems (a Job that could not be deleted, with the command that deletes it). Default: stderr. */
  warn?: CleanupWarn;
}

/** One agent Job and how to reach it. */
export interface AgentHandle {
  sessionId: string;
  jobName: string;
  podName: string;
  token: Buffer;
}

/** Retry interval while the agent process starts listening inside a running pod. */
const CONNECT_RETRY_MS = 150;

/** The user's name on this machine, for labels and scale-down records. */
export function localUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

export class AgentManager {
  readonly #ctx: KubeContext;
  readonly #options: AgentManagerOptions;
  readonly #jobs = new Set<string>();
  /** Deletes of replaced agents still running; cleanup waits for them. */
  readonly #deleting = new Set<Promise<void>>();
  #agent: AgentHandle | undefined;

  constructor(ctx: KubeContext, options: AgentManagerOptions) {
    this.#ctx = ctx;
    this.#options = options;
  }

  /** The agent in use, if any. */
  get agent(): AgentHandle | undefined {
    return this.#agent;
  }

  /**
   * Creates a new agent and connects to it.
   * @throws MirrordError for every startup failure (see waitForAgentPod), after deleting the Job.
   */
  async start(): Promise<Session> {
    const deadline = Date.now() + this.#options.startupTimeoutMs;
    const sessionId = randomBytes(4).toString('hex');
    const token = randomBytes(32);
    const jobName = agentJobName(sessionId);
    const job = (this.#options.buildJob ?? buildAgentJob)({
      sessionId,
      namespace: this.#ctx.namespace,
      image: this.#options.image,
      tokenSha256: createHash('sha256').update(token).digest('hex'),
      idleTimeoutMs: this.#options.idleTimeoutMs,
      user: localUser(),
      cliVersion: this.#options.cliVersion,
      pull: this.#options.pull,
      session: this.#options.session,
    });
    this.#options.onProgress?.(`creating Job ${jobName} in namespace ${this.#ctx.namespace}`);
    const batch = this.#ctx.kc.makeApiClient(BatchV1Api);
    try {
      await batch.createNamespacedJob({ namespace: this.#ctx.namespace, body: job });
    } catch (err) {
      throw errorFromKubeCall(err, `create Job "${jobName}" in namespace "${this.#ctx.namespace}"`, this.#ctx.server);
    }
    this.#jobs.add(jobName);
    try {
      const podName = await waitForAgentPod(this.#ctx, { jobName, sessionId, image: this.#options.image, deadline, startupTimeoutMs: this.#options.startupTimeoutMs, onProgress: this.#options.onProgress });
      this.#options.onProgress?.(`connecting to pod ${podName}`);
      const agent = { sessionId, jobName, podName, token };
      const session = await this.#connectUntil(agent, deadline);
      this.#agent = agent;
      return session;
    } catch (err) {
      await this.#deleteJob(jobName);
      throw err;
    }
  }

  /**
   * For the AgentLink after a drop: the same agent if its pod still runs, else a new agent.
   * Throws to have the link retry later.
   */
  async reconnect(): Promise<Session> {
    const agent = this.#agent;
    if (agent && (await this.#podRunning(agent.podName))) {
      return await connectAgentSession(this.#ctx.kc, this.#target(agent), { token: agent.token, client: `kubectl-mirrord/${this.#options.cliVersion}` });
    }
    if (agent) {
      this.#agent = undefined;
      // The replacement need not wait for the old Job to go; cleanup does, and a failure is reported.
      const deleting = this.#deleteJob(agent.jobName).finally(() => this.#deleting.delete(deleting));
      this.#deleting.add(deleting);
    }
    return await this.start();
  }

  /** Deletes every Job this manager created (Background propagation: the pod goes with it). */
  async cleanup(): Promise<void> {
    await Promise.all([...this.#deleting]);
    await Promise.all([...this.#jobs].map((name) => this.#deleteJob(name)));
  }

  #target(agent: AgentHandle): PortForwardTarget {
    return this.#options.endpoint?.(agent.podName) ?? { namespace: this.#ctx.namespace, pod: agent.podName, port: AGENT_PORT };
  }

  /** Connects, retrying while the agent is not listening yet, until the startup deadline. */
  async #connectUntil(agent: AgentHandle, deadline: number): Promise<Session> {
    for (;;) {
      try {
        return await connectAgentSession(this.#ctx.kc, this.#target(agent), { token: agent.token, client: `kubectl-mirrord/${this.#options.cliVersion}` });
      } catch (err) {
        const retriable = err instanceof MirrordError && (err.code === 'EPORTFORWARD' || err.code === 'EHANDSHAKE') && Date.now() + CONNECT_RETRY_MS < deadline;
        if (!retriable) throw err;
        await new Promise((resolve) => setTimeout(resolve, CONNECT_RETRY_MS));
      }
    }
  }

  async #podRunning(podName: string): Promise<boolean> {
    const core = this.#ctx.kc.makeApiClient(CoreV1Api);
    try {
      const pod = await core.readNamespacedPod({ name: podName, namespace: this.#ctx.namespace });
      return pod.status?.phase === 'Running' && pod.metadata?.deletionTimestamp === undefined;
    } catch (err) {
      if ((err as { code?: unknown }).code === 404) return false;
      throw errorFromKubeCall(err, `read pod "${podName}"`, this.#ctx.server);
    }
  }

  /** Never rejects: a failure is reported through `warn` (and the Job kept for a later try). */
  async #deleteJob(name: string): Promise<void> {
    // Kept in #jobs on failure, so that cleanup tries (and reports) once more.
    if (await deleteJobReported(this.#ctx, name, 'the agent', this.#options.warn ?? stderrWarn)) this.#jobs.delete(name);
  }
}
