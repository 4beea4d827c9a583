/**
 * Follows one pod by name with a watch (list, then watch from the list's resourceVersion; when a
 * watch ends, watch again from the last resourceVersion seen; on 410 Gone, list again) until a
 * judge says the wait is over, or a deadline passes.
 */
import { CoreV1Api, Watch } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { errorFromKubeCall } from './api-errors.ts';
import type { KubeContext } from './kubeconfig.ts';

/** What one version of the pod means: the wait's result, a failure, or progress text. */
export type PodVerdict<T> = { done: T } | { failure: Error } | { progress: string };

export interface WatchPodOptions<T> {
  namespace: string;
  name: string;
  judge: (pod: V1Pod | undefined) => PodVerdict<T>;
  /** Absolute time (Date.now()) to give up at; the error comes from `onTimeout(lastProgress)`. */
  deadline: number;
  onTimeout: (lastProgress: string) => Error;
  onProgress?: (text: string) => void;
}

/**
 * Resolves with the judge's result, or rejects with its failure, a watch error mapped by
 * errorFromKubeCall, or the timeout error. A deleted pod is judged as `undefined`.
 */
export function watchPod<T>(ctx: KubeContext, options: WatchPodOptions<T>): Promise<T> {
  const { namespace, name } = options;
  const fieldSelector = `metadata.name=${name}`;
  return new Promise<T>((resolve, reject) => {
    let finished = false;
    let abort: AbortController | undefined;
    let resourceVersion: string | undefined;
    let lastProgress = `waiting for pod ${name}`;
    const finish = (err: Error | undefined, value?: T) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      abort?.abort();
      if (err) reject(err);
      else resolve(value as T);
    };
    const onPod = (pod: V1Pod | undefined) => {
      const verdict = options.judge(pod);
      if ('done' in verdict) finish(undefined, verdict.done);
      else if ('failure' in verdict) finish(verdict.failure);
      else if (verdict.progress !== lastProgress) {
        lastProgress = verdict.progress;
        options.onProgress?.(verdict.progress);
      }
    };
    const watch = async (): Promise<void> => {
      if (finished) return;
      try {
        if (resourceVersion === undefined) {
          const list = await ctx.kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace, fieldSelector });
          resourceVersion = list.metadata?.resourceVersion;
          onPod(list.items[0]);
          if (finished) return;
        }
        abort = await new Watch(ctx.kc).watch(
          `/api/v1/namespaces/${namespace}/pods`,
          { fieldSelector, resourceVersion, allowWatchBookmarks: true },
          (type, pod: V1Pod) => {
            resourceVersion = pod.metadata?.resourceVersion ?? resourceVersion;
            if (type === 'ADDED' || type === 'MODIFIED') onPod(pod);
            else if (type === 'DELETED') onPod(undefined);
          },
          (err) => {
            if ((err as { code?: number } | null)?.code === 410) resourceVersion = undefined;
            if (!finished) setTimeout(() => void watch(), err ? 500 : 0);
          },
        );
        if (finished) abort.abort();
      } catch (err) {
        finish(errorFromKubeCall(err, `watch pod "${name}" in namespace "${namespace}"`, ctx.server));
      }
    };
    const timer = setTimeout(() => finish(options.onTimeout(lastProgress)), Math.max(0, options.deadline - Date.now()));
    void watch();
  });
}
