/**
 * An in-memory Store for the node's tests: enough of the API server's store to run the kubelet,
 * kube-proxy and DNS without it (no validation, no admission, no controllers).
 */
import { randomUUID } from 'node:crypto';
import type { KObject, Store, WatchEventType } from '../contract.ts';

type Handler = (type: WatchEventType, obj: KObject) => void;

/** An object as a test writes it: metadata beyond name/namespace is filled in by `put`. */
export interface NewObject {
  metadata: { name: string; namespace?: string; [key: string]: unknown };
  spec?: any;
  status?: any;
  [key: string]: unknown;
}

const KINDS: Record<string, [string, string]> = {
  pods: ['v1', 'Pod'], services: ['v1', 'Service'], endpoints: ['v1', 'Endpoints'],
  configmaps: ['v1', 'ConfigMap'], secrets: ['v1', 'Secret'], namespaces: ['v1', 'Namespace'],
};

export class FakeStore implements Store {
  #objects = new Map<string, KObject>();
  #handlers = new Map<string, Set<Handler>>();
  #rv = 1;

  #key(resource: string, ns: string | undefined, name: string): string {
    return `${resource}/${ns ?? ''}/${name}`;
  }

  #emit(resource: string, type: WatchEventType, obj: KObject): void {
    for (const h of this.#handlers.get(resource) ?? []) h(type, structuredClone(obj));
  }

  /** Creates or replaces an object, filling in metadata the API server would. Returns the stored copy. */
  put(resource: string, obj: NewObject): KObject {
    const ns = resource === 'namespaces' ? undefined : (obj.metadata.namespace ?? 'default');
    const key = this.#key(resource, ns, obj.metadata.name);
    const prev = this.#objects.get(key);
    const [apiVersion, kind] = KINDS[resource] ?? ['v1', resource];
    const stored = {
      apiVersion, kind, ...structuredClone(obj),
      metadata: {
        ...structuredClone(obj.metadata), ...(ns ? { namespace: ns } : {}),
        uid: prev?.metadata.uid ?? obj.metadata.uid ?? randomUUID(),
        creationTimestamp: prev?.metadata.creationTimestamp ?? new Date().toISOString(),
        resourceVersion: String(++this.#rv),
      },
    } as KObject;
    this.#objects.set(key, stored);
    this.#emit(resource, prev ? 'MODIFIED' : 'ADDED', stored);
    return structuredClone(stored);
  }

  /** Marks an object for graceful deletion, as a DELETE with a grace period does for pods. */
  markDeleted(resource: string, ns: string, name: string, graceSeconds: number): void {
    const obj = this.#objects.get(this.#key(resource, ns, name));
    if (!obj) return;
    obj.metadata.deletionTimestamp = new Date().toISOString();
    obj.metadata.deletionGracePeriodSeconds = graceSeconds;
    obj.metadata.resourceVersion = String(++this.#rv);
    this.#emit(resource, 'MODIFIED', obj);
  }

  get(resource: string, namespace: string | undefined, name: string): KObject | undefined {
    const o = this.#objects.get(this.#key(resource, namespace, name));
    return o && structuredClone(o);
  }

  list(resource: string, namespace?: string): KObject[] {
    return [...this.#objects.entries()]
      .filter(([k, o]) => k.startsWith(`${resource}/`) && (namespace === undefined || o.metadata.namespace === namespace))
      .map(([, o]) => structuredClone(o));
  }

  watch(resource: string, handler: Handler): () => void {
    const set = this.#handlers.get(resource) ?? new Set();
    set.add(handler);
    this.#handlers.set(resource, set);
    return () => set.delete(handler);
  }

  updateStatus(resource: string, namespace: string | undefined, name: string, status: unknown): KObject | undefined {
    const obj = this.#objects.get(this.#key(resource, namespace, name));
    if (!obj) return undefined;
    obj.status = structuredClone(status);
    obj.metadata.resourceVersion = String(++this.#rv);
    this.#emit(resource, 'MODIFIED', obj);
    return structuredClone(obj);
  }

  remove(resource: string, namespace: string | undefined, name: string): void {
    const key = this.#key(resource, namespace, name);
    const obj = this.#objects.get(key);
    if (!obj) return;
    this.#objects.delete(key);
    this.#emit(resource, 'DELETED', obj);
  }

  /** Resolves once `predicate` holds for the object (polling), or rejects after `timeoutMs`. */
  async waitFor(resource: string, ns: string, name: string, predicate: (o: KObject | undefined) => boolean, timeoutMs = 15_000): Promise<KObject | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const o = this.get(resource, ns, name);
      if (predicate(o)) return o;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${resource} ${ns}/${name}; last seen: ${JSON.stringify(o?.status ?? o)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
