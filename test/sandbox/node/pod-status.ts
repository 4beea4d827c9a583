/**
 * A pod's status as the kubelet reports it (pkg/kubelet/status/generate.go, kubelet_pods.go
 * getPhase): phase from the containers' states and restartPolicy, the four standard conditions
 * with their lastTransitionTime, and one status per container.
 */
import type { Container, ContainerState } from './container.ts';
import { imageIdOf } from './images.ts';

export interface PodStatusInput {
  restartPolicy: 'Always' | 'OnFailure' | 'Never';
  containers: Container[];
  initContainers: Container[];
  ephemeralContainers: Container[];
  podIP?: string;
  podIP6?: string;
  hostIP: string;
  startTime: string;
  /** The pod is being torn down: nothing is ready any more. */
  terminating: boolean;
}

/** Remembers when each condition last changed, across status builds. */
export class ConditionClock {
  #last = new Map<string, { status: string; time: string }>();

  stamp(type: string, status: boolean): { type: string; status: string; lastProbeTime: null; lastTransitionTime: string } {
    const s = status ? 'True' : 'False';
    const prev = this.#last.get(type);
    const time = prev && prev.status === s ? prev.time : new Date().toISOString();
    this.#last.set(type, { status: s, time });
    return { type, status: s, lastProbeTime: null, lastTransitionTime: time };
  }
}

/** Whether every init container has completed (sidecars: is running). */
export function initialized(initContainers: Container[]): boolean {
  return initContainers.every((c) => (c.kind === 'sidecar' ? c.started : c.state.terminated?.exitCode === 0));
}

/**
 * getPhase: Pending while initializing or until something ran; Failed when an init container
 * failed for good; Succeeded/Failed once every container is done for good.
 */
export function podPhase(containers: Container[], initContainers: Container[], restartPolicy: PodStatusInput['restartPolicy']): string {
  if (restartPolicy === 'Never' && initContainers.some((c) => c.kind === 'init' && c.state.terminated && c.state.terminated.exitCode !== 0)) return 'Failed';
  if (!initialized(initContainers)) return 'Pending';
  const everStarted = containers.some((c) => c.running || c.state.terminated || c.lastState.terminated);
  if (!everStarted) return 'Pending';
  const allDone = containers.every((c) => c.state.terminated);
  if (allDone) return containers.every((c) => c.state.terminated!.exitCode === 0) ? 'Succeeded' : 'Failed';
  return 'Running';
}

function stateJson(state: ContainerState): Record<string, unknown> {
  if (state.running) return { running: state.running };
  if (state.terminated) return { terminated: state.terminated };
  if (state.waiting) return { waiting: state.waiting };
  return {};
}

function containerStatus(c: Container): Record<string, unknown> {
  return {
    name: c.name,
    image: c.spec.image,
    imageID: imageIdOf(c.spec.image ?? ''),
    ...(c.containerID ? { containerID: c.containerID } : {}),
    ready: c.ready && c.running,
    started: c.running && c.started,
    restartCount: c.restartCount,
    state: stateJson(c.state),
    lastState: stateJson(c.lastState),
  };
}

/**
 * The pod's QoS class (pkg/apis/core/v1/helper/qos): Guaranteed when every container sets cpu and
 * memory limits equal to its requests, BestEffort when none sets any, Burstable otherwise.
 */
export function qosClass(containers: Container[]): string {
  const resources = containers.map((c) => c.spec.resources ?? {});
  if (resources.every((r) => !Object.keys(r.requests ?? {}).length && !Object.keys(r.limits ?? {}).length)) return 'BestEffort';
  const guaranteed = resources.every((r) => ['cpu', 'memory'].every((k) => r.limits?.[k] !== undefined && (r.requests?.[k] ?? r.limits[k]) === r.limits[k]));
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** The full `status` object for store.updateStatus. */
export function buildPodStatus(input: PodStatusInput, clock: ConditionClock): Record<string, unknown> {
  const phase = podPhase(input.containers, input.initContainers, input.restartPolicy);
  const containersReady = !input.terminating && input.containers.every((c) => c.ready && c.running);
  const status: Record<string, unknown> = {
    phase,
    conditions: [
      clock.stamp('PodReadyToStartContainers', !!input.podIP),
      clock.stamp('Initialized', initialized(input.initContainers)),
      clock.stamp('Ready', containersReady),
      clock.stamp('ContainersReady', containersReady),
      clock.stamp('PodScheduled', true),
    ],
    hostIP: input.hostIP,
    hostIPs: [{ ip: input.hostIP }],
    startTime: input.startTime,
    containerStatuses: input.containers.map(containerStatus),
    qosClass: qosClass(input.containers),
  };
  if (input.podIP) {
    status.podIP = input.podIP;
    status.podIPs = [{ ip: input.podIP }, ...(input.podIP6 ? [{ ip: input.podIP6 }] : [])];
  }
  if (input.initContainers.length) status.initContainerStatuses = input.initContainers.map(containerStatus);
  if (input.ephemeralContainers.length) status.ephemeralContainerStatuses = input.ephemeralContainers.map(containerStatus);
  return status;
}
