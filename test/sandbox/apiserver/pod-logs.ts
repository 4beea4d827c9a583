/**
 * GET pods/{name}/log (follow, tailLines, container, previous), streamed as text/plain the way the
 * apiserver proxies the kubelet's answer (pkg/registry/core/pod/rest/log.go).
 */
import type { ServerResponse } from 'node:http';
import type { KObject, SandboxNode } from '../contract.ts';
import { badRequest } from './status.ts';
import { podContainer } from './pod-container.ts';

/** Streams the log of `pod` to `res`; the node must be running. */
export function servePodLogs(node: SandboxNode | undefined, pod: KObject, query: URLSearchParams, res: ServerResponse): void {
  const container = podContainer(pod, query.get('container'));
  if (!node) throw badRequest(`container "${container}" in pod "${pod.metadata.name}" is waiting to start: no node is running`);
  const phase = pod.status?.phase;
  const started = (pod.status?.containerStatuses ?? []).concat(pod.status?.ephemeralContainerStatuses ?? [], pod.status?.initContainerStatuses ?? [])
    .some((s: any) => s.name === container && (s.state?.running || s.state?.terminated || s.lastState?.terminated));
  if (phase === 'Pending' && !started) {
    throw badRequest(`container "${container}" in pod "${pod.metadata.name}" is waiting to start: ContainerCreating`);
  }
  const follow = query.get('follow') === 'true' || query.get('follow') === '1';
  const tail = query.get('tailLines');
  let stream: ReturnType<SandboxNode['podLogs']>;
  try {
    stream = node.podLogs(pod.metadata.namespace!, pod.metadata.name, container, { follow, tailLines: tail === null ? undefined : Number(tail) });
  } catch (err) {
    throw badRequest(`container "${container}" in pod "${pod.metadata.name}" is not available: ${(err as Error).message}`);
  }
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
  stream.pipe(res);
  stream.on('error', () => res.end());
  res.on('close', () => stream.destroy());
}
