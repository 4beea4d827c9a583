/**
 * The one list/watch/relist loop for pods: list, then watch from the list's resourceVersion; when a
 * watch ends, watch again from the last resourceVersion seen; on 410 Gone, list again. A judge says
 * when the wait is over; a deadline, or an optional poll of something the watch cannot see (a Job's
 * events), may end it first. Whatever decides first wins, and the watch is always closed, also when
 * the decision comes while a list or a watch request is still on its way.
 */
import { CoreV1Api, Watch } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { errorFromKubeCall } from '../kube-api/api-errors.ts';
import type { KubeContext } from '../kube-api/kubeconfig.ts';

/** What one version of a pod means: the wait's result, a failure, or progress text. */
export type PodVerdict<T> = { done: T } | { failure: Error } | { progress: string };

/** Which pods to follow: one by name (its deletion is judged as `undefined`), or all that match labels. */
export type PodSelector = { name: string } | { labelSelector: string };

export interface WatchPodsOptions<T> {
  /** Namespace of the pods; default the context's. */
  namespace?: string;
  select: PodSelector;
  /** Judges every pod the list or the watch shows; `undefined` when a pod followed by name is gone. */
  judge: (pod: V1Pod | undefined) => PodVerdict<T>;
  /** Absolute time (Date.now()) to give up at; the error comes from `onTimeout(lastProgress)`. */
  deadline: number;
  onTimeout: (lastProgress: string) => Error;
  onProgress?: (text: string) => void;
  /** First progress text, until a judge says otherwise. */
  initialProgress?: string;
  /** Asked every `everyMs`: an Error ends the wait with it. Its own failures are ignored. */
  poll?: { everyMs: number; check: () => Promise<Error | undefined> };
}

/** Delay before watching again after a watch failed (a finished watch restarts at once). */
const REWATCH_AFTER_ERROR_MS = 500;

/**
 * Resolves with the judge's result, or rejects with its failure, the poll's failure, a list or
 * watch error mapped by errorFromKubeCall, or the timeout error.
 */
export function watchPods<T>(ctx: KubeContext, options: WatchPodsOptions<T>): Promise<T> {
  const namespace = options.namespace ?? ctx.namespace;
  const byName = 'name' in options.select;
  const selector = 'name' in options.select
    ? { fieldSelector: `metadata.name=${options.select.name}` }
    : { labelSelector: options.select.labelSelector };
  const what = 'name' in options.select ? `pod "${options.select.name}"` : 'pods';
  return new Promise<T>((resolve, reject) => {
    let finished = false;
    let abort: AbortController | undefined;
    let resourceVersion: string | undefined;
    let lastProgress = options.initialProgress ?? `waiting for ${what}`;
    // The deadline, the poll and the pending re-watch: one each, so a long wait holds no growing list.
    let deadline: NodeJS.Timeout | undefined;
    let poller: NodeJS.Timeout | undefined;
    let rewatch: NodeJS.Timeout | undefined;
    const finish = (err: Error | undefined, value?: T) => {
      if (finished) return;
      finished = true;
      clearTimeout(deadline);
      clearInterval(poller);
      clearTimeout(rewatch);
      abort?.abort();
      if (err) reject(err);
      else resolve(value as T);
    };
    const onPod = (pod: V1Pod | undefined) => {
      if (finished) return;
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
          const list = await ctx.kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace, ...selector });
          resourceVersion = list.metadata?.resourceVersion;
          if (byName) onPod(list.items[0]);
          else list.items.forEach(onPod);
          if (finished) return;
        }
        abort = await new Watch(ctx.kc).watch(
          `/api/v1/namespaces/${namespace}/pods`,
          { ...selector, resourceVersion, allowWatchBookmarks: true },
          (type, pod: V1Pod) => {
            resourceVersion = pod.metadata?.resourceVersion ?? resourceVersion;
            if (type === 'ADDED' || type === 'MODIFIED') onPod(pod);
            else if (type === 'DELETED' && byName) onPod(undefined);
          },
          (err) => {
            // 410 Gone: our resourceVersion is too old, so list again.
            if ((err as { code?: number } | null)?.code === 410) resourceVersion = undefined;
            if (!finished) rewatch = setTimeout(() => void watch(), err ? REWATCH_AFTER_ERROR_MS : 0);
          },
        );
        // The wait may have been decided while the watch request was on its way.
        if (finished) abort.abort();
      } catch (err) {
        finish(errorFromKubeCall(err, `watch ${what} in namespace "${namespace}"`, ctx.server));
      }
    };
    deadline = setTimeout(() => finish(options.onTimeout(lastProgress)), Math.max(0, options.deadline - Date.now()));
    const poll = options.poll;
    if (poll) {
      poller = setInterval(() => {
        poll.check().then((failure) => { if (failure) finish(failure); }, () => {
          // A poll is a second opinion; the watch and the deadline still decide.
        });
      }, poll.everyMs);
    }
    void watch();
  });
}
