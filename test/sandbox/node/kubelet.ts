/**
 * The kubelet's sync loop: every pod bound to this node (or not bound at all: the sandbox has one
 * node and no scheduler of its own) gets a PodWorker; a deletionTimestamp starts graceful deletion,
 * which ends with the kubelet confirming it (`store.remove`), as the real one does with a
 * zero-grace delete.
 */
import type { KObject, Store, WatchEventType } from '../contract.ts';
import { NODE_NAME } from './network-constants.ts';
import { type NodeContext, PodWorker } from './pod-worker.ts';

export class Kubelet {
  readonly #workers = new Map<string, PodWorker>();
  readonly #ctx: NodeContext;
  #unwatch?: () => void;

  constructor(ctx: NodeContext) {
    this.#ctx = ctx;
  }

  /** Starts every existing pod and watches for changes. */
  start(): void {
    this.#unwatch = this.#ctx.store.watch('pods', (type, pod) => this.#sync(type, pod));
    for (const pod of this.#ctx.store.list('pods')) this.#sync('ADDED', pod);
  }

  /** The worker of a pod, if it runs here. */
  worker(namespace: string, name: string): PodWorker | undefined {
    for (const w of this.#workers.values()) if (w.namespace === namespace && w.name === name) return w;
    return undefined;
  }

  /** Stops watching and tears every pod down (`graceSeconds` each, in parallel). */
  async stop(graceSeconds: number): Promise<void> {
    this.#unwatch?.();
    await Promise.all([...this.#workers.values()].map((w) => w.terminate(graceSeconds)));
    this.#workers.clear();
  }

  #sync(type: WatchEventType, pod: KObject): void {
    const uid = pod.metadata.uid;
    const nodeName = pod.spec?.nodeName;
    if (nodeName && nodeName !== NODE_NAME) return;
    const worker = this.#workers.get(uid);
    if (type === 'DELETED') {
      // Force-deleted (grace 0) or removed by us: nothing to confirm, just clean up.
      if (worker) void worker.terminate(0).finally(() => this.#workers.delete(uid));
      return;
    }
    if (!worker) {
      if (pod.metadata.deletionTimestamp) {
        // Never ran here: confirm the deletion at once, outside the store's own watch callback.
        setImmediate(() => this.#ctx.store.remove('pods', pod.metadata.namespace, pod.metadata.name));
        return;
      }
      const w = new PodWorker(pod, this.#ctx);
      this.#workers.set(uid, w);
      void w.start();
      return;
    }
    worker.update(pod);
    if (pod.metadata.deletionTimestamp) void this.#delete(worker, pod);
  }

  async #delete(worker: PodWorker, pod: KObject): Promise<void> {
    const grace = Number(pod.metadata.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30);
    await worker.terminate(grace);
    if (this.#workers.get(pod.metadata.uid) !== worker) return;
    this.#workers.delete(pod.metadata.uid);
    this.#ctx.store.remove('pods', pod.metadata.namespace, pod.metadata.name);
  }
}
