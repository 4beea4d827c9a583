/**
 * The container a pods/log or pods/exec request is for, checked the way kube-apiserver does before
 * it proxies to the kubelet (pkg/registry/core/pod/strategy.go, validateContainer): a named
 * container must be one of the pod's containers, init containers or ephemeral containers; without
 * a name, the pod's only container, else 400 naming the choices.
 */
import type { KObject } from '../contract.ts';
import { badRequest } from './status.ts';

/** Picks the container the way upstream does: the named one, else the only one, else an error. */
export function podContainer(pod: KObject, requested: string | null): string {
  const containers: Array<{ name: string }> = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? []), ...(pod.spec?.ephemeralContainers ?? [])];
  const name = pod.metadata.name;
  if (requested) {
    if (!containers.some((c) => c.name === requested)) {
      throw badRequest(`container ${requested} is not valid for pod ${name}`);
    }
    return requested;
  }
  const main: Array<{ name: string }> = pod.spec?.containers ?? [];
  if (main.length === 1) return main[0].name;
  const names = main.map((c) => c.name).join(' ');
  throw badRequest(`a container name must be specified for pod ${name}, choose one of: [${names}]`);
}

