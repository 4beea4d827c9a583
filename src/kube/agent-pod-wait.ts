/**
 * Waits for the agent Job's pod to run, with the pod watch of pod-watch.ts. Fails fast
 * on what will never get better: image pull errors, a container that cannot be created or exited, a
 * pod that pod security admission rejected (the Job controller reports that as a FailedCreate event,
 * or as a Failed condition on the Job), and the startup deadline.
 */
import { BatchV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { CoreV1Event, V1Pod } from '@kubernetes/client-node';
import { AgentError, ClusterError, MirrordError } from '../errors.ts';
import { AgentLabel } from './agent-job.ts';
import type { KubeContext } from '../kube-api/kubeconfig.ts';
import { watchPods } from './pod-watch.ts';

export interface WaitForPodOptions {
  jobName: string;
  sessionId: string;
  image: string;
  /** Absolute time (Date.now()) by which the pod must run. */
  deadline: number;
  startupTimeoutMs: number;
  /** Progress for the spinner: "pulling image", "pod Pending: Unschedulable ...". */
  onProgress?: (text: string) => void;
}

const IMAGE_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);
const CONTAINER_REASONS = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError', 'CrashLoopBackOff']);
const JOB_POLL_MS = 1000;

/** What a pod's state means for us: running (its name), a failure to throw, or progress text. */
export function judgePod(pod: V1Pod, image: string): { running: string } | { failure: MirrordError } | { progress: string } {
  const name = pod.metadata?.name ?? '?';
  const status = pod.status ?? {};
  const container = status.containerStatuses?.[0];
  const waiting = container?.state?.waiting;
  if (waiting?.reason && IMAGE_REASONS.has(waiting.reason)) {
    return {
      failure: new AgentError('EIMAGEPULL', `cannot pull the agent image "${image}": ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`, {
        hint: 'check that the cluster can reach the registry (imagePullSecrets, mirror), or pass --agent-image',
      }),
    };
  }
  if (waiting?.reason && CONTAINER_REASONS.has(waiting.reason)) {
    return { failure: new AgentError('EAGENTSTART', `the agent container in pod "${name}" cannot start: ${waiting.reason}: ${waiting.message ?? ''}`.trim(), { hint: `see kubectl describe pod ${name}` }) };
  }
  const terminated = container?.state?.terminated;
  if (status.phase === 'Failed' || status.phase === 'Succeeded' || terminated) {
    const why = terminated ? `exit code ${terminated.exitCode}${terminated.reason ? `, ${terminated.reason}` : ''}` : status.reason ?? status.phase;
    return { failure: new AgentError('EAGENTEXIT', `the agent in pod "${name}" stopped during startup (${why})`, { hint: `see kubectl logs ${name}` }) };
  }
  if (status.phase === 'Running' && container?.state?.running) return { running: name };
  const unschedulable = status.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  if (unschedulable) return { progress: `pod ${name} not scheduled: ${unschedulable.message ?? unschedulable.reason ?? ''}` };
  return { progress: waiting?.reason ? `pod ${name}: ${waiting.reason}` : `pod ${name} ${status.phase ?? 'Pending'}` };
}

/** A Job-level failure: a Failed condition, or a FailedCreate event (pod security admission). */
export function judgeJobEvents(events: CoreV1Event[]): MirrordError | undefined {
  const failedCreate = events.find((e) => e.reason === 'FailedCreate');
  if (!failedCreate) return undefined;
  const message = failedCreate.message ?? 'the Job controller could not create the agent pod';
  if (/PodSecurity/.test(message)) {
    return new ClusterError('EPODSECURITY', `the agent pod was rejected by pod security admission: ${message}`, {
      hint: 'the agent needs no privileges; a namespace label pod-security.kubernetes.io/enforce stricter than "restricted" or a policy engine (Kyverno, Gatekeeper) refused it',
    });
  }
  return new ClusterError('EFAILEDCREATE', `the Job controller could not create the agent pod: ${message}`, { hint: 'see kubectl describe job' });
}

/** Reads the Job and its events: a Failed condition or a FailedCreate event ends the wait. */
async function checkJob(ctx: KubeContext, jobName: string): Promise<MirrordError | undefined> {
  const batch = ctx.kc.makeApiClient(BatchV1Api);
  const core = ctx.kc.makeApiClient(CoreV1Api);
  const job = await batch.readNamespacedJob({ name: jobName, namespace: ctx.namespace });
  const events = await core.listNamespacedEvent({ namespace: ctx.namespace, fieldSelector: `involvedObject.name=${jobName}` });
  const eventFailure = judgeJobEvents(events.items);
  if (eventFailure) return eventFailure;
  const failed = job.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
  if (!failed) return undefined;
  return new AgentError('EJOBFAILED', `the agent Job failed: ${failed.reason ?? ''} ${failed.message ?? ''}`.trim(), { hint: `see kubectl describe job ${jobName}` });
}

/**
 * Resolves with the pod name once the agent's container runs: the pod watch (pod-watch.ts), a poll
 * of the Job and its events, and the deadline, whichever decides first.
 * @throws MirrordError: EIMAGEPULL, EAGENTSTART, EAGENTEXIT, EPODSECURITY, EJOBFAILED, ESTARTUPTIMEOUT.
 */
export function waitForAgentPod(ctx: KubeContext, options: WaitForPodOptions): Promise<string> {
  const { startupTimeoutMs, jobName } = options;
  return watchPods<string>(ctx, {
    select: { labelSelector: `${AgentLabel.session}=${options.sessionId}` },
    initialProgress: 'waiting for the agent pod',
    judge: (pod) => {
      const verdict = judgePod(pod!, options.image);
      return 'running' in verdict ? { done: verdict.running } : verdict;
    },
    deadline: options.deadline,
    onProgress: options.onProgress,
    poll: { everyMs: JOB_POLL_MS, check: () => checkJob(ctx, jobName) },
    onTimeout: (last) => new AgentError('ESTARTUPTIMEOUT', `the agent was not ready after ${Math.round(startupTimeoutMs / 1000)} s (last seen: ${last})`, {
      hint: `a slow image pull or a full cluster? raise --agent-startup-timeout, or see kubectl describe job ${jobName}`,
    }),
  });
}
