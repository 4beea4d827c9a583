/**
 * The object store: every object of every resource in memory, one global resourceVersion counter
 * (as etcd's revision is for kube-apiserver), and a bounded history of changes so that watches can
 * resume from a resourceVersion. Objects go in and come out as copies, so no caller can change a
 * stored object behind the store's back.
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { KObject, Store, WatchEventType } from '../contract.ts';
import { WATCH_HISTORY } from './constants.ts';
import { resourceByPlural } from './resources.ts';
import { alreadyExists, conflict, gone, notFound } from './status.ts';

/** One change, as kept in history and handed to watchers. */
export interface StoreEvent {
  resourceVersion: number;
  resource: string;
  type: WatchEventType;
  object: KObject;
  /** For MODIFIED: the object before the change (watches with selectors need it). */
  previous?: KObject;
}

type Listener = (event: StoreEvent) => void;

function keyOf(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

/** A deep copy through JSON, which also drops keys set to undefined (they would defeat no-op detection). */
function plainCopy(obj: KObject): KObject {
  return JSON.parse(JSON.stringify(obj)) as KObject;
}

function groupOf(resource: string): string {
  return resourceByPlural(resource)?.group ?? '';
}

/** Implements the node's `Store` contract plus what the API server needs (create, update, history). */
export class ObjectStore implements Store {
  private readonly objects = new Map<string, Map<string, KObject>>();
  private readonly history: StoreEvent[] = [];
  private readonly listeners = new Set<Listener>();
  private readonly queue: StoreEvent[] = [];
  private dispatching = false;
  private revision = 1;
  /** The resourceVersion of the newest event dropped from history: older ones cannot be resumed from. */
  private compacted = 0;
  private readonly historyLimit: number;

  /** `historyLimit`: how many changes are kept for resuming watches (older ones get 410). */
  constructor(historyLimit = WATCH_HISTORY) {
    this.historyLimit = historyLimit;
  }

  /** The store's current resourceVersion (the list resourceVersion). */
  get resourceVersion(): string {
    return String(this.revision);
  }

  get(resource: string, namespace: string | undefined, name: string): KObject | undefined {
    const obj = this.bucket(resource).get(keyOf(namespace, name));
    return obj ? structuredClone(obj) : undefined;
  }

  list(resource: string, namespace?: string): KObject[] {
    const out: KObject[] = [];
    for (const obj of this.bucket(resource).values()) {
      if (namespace === undefined || obj.metadata.namespace === namespace) out.push(structuredClone(obj));
    }
    return out.sort((a, b) => keyOf(a.metadata.namespace, a.metadata.name).localeCompare(keyOf(b.metadata.namespace, b.metadata.name)));
  }

  /**
   * Stores a new object, filling uid (unless the caller chose one), creationTimestamp, resourceVersion and (for workloads)
   * generation. Throws ApiError 409 AlreadyExists.
   */
  create(resource: string, input: KObject): KObject {
    const meta = input.metadata;
    const bucket = this.bucket(resource);
    const key = keyOf(meta.namespace, meta.name);
    if (bucket.has(key)) throw alreadyExists(resource, meta.name, groupOf(resource));
    const obj = plainCopy(input);
    obj.metadata.uid ||= randomUUID();
    obj.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    if (resourceByPlural(resource)?.hasGeneration) obj.metadata.generation = 1;
    delete obj.metadata.deletionTimestamp;
    return this.commit(resource, 'ADDED', obj);
  }

  /**
   * Replaces an existing object. If the input carries a resourceVersion it must match the stored one
   * (optimistic concurrency), else ApiError 409 Conflict. uid and creationTimestamp cannot change.
   * An update that changes nothing returns the stored object without a new resourceVersion, as
   * kube-apiserver does.
   */
  update(resource: string, input: KObject): KObject {
    const meta = input.metadata;
    const old = this.bucket(resource).get(keyOf(meta.namespace, meta.name));
    if (!old) throw notFound(resource, meta.name, groupOf(resource));
    if (meta.resourceVersion && meta.resourceVersion !== old.metadata.resourceVersion) {
      throw conflict(resource, meta.name, groupOf(resource));
    }
    const obj = plainCopy(input);
    obj.metadata.uid = old.metadata.uid;
    obj.metadata.creationTimestamp = old.metadata.creationTimestamp;
    obj.metadata.resourceVersion = old.metadata.resourceVersion;
    if (old.metadata.generation !== undefined) {
      const specChanged = !isDeepStrictEqual(old.spec, obj.spec);
      obj.metadata.generation = old.metadata.generation + (specChanged ? 1 : 0);
    }
    if (isDeepStrictEqual(old, obj)) return structuredClone(old);
    return this.commit(resource, 'MODIFIED', obj, old);
  }

  updateStatus(resource: string, namespace: string | undefined, name: string, status: unknown): KObject | undefined {
    const old = this.bucket(resource).get(keyOf(namespace, name));
    if (!old) return undefined;
    const obj = structuredClone(old);
    obj.status = structuredClone(status);
    if (isDeepStrictEqual(old.status, obj.status)) return structuredClone(old);
    return this.commit(resource, 'MODIFIED', obj, old);
  }

  remove(resource: string, namespace: string | undefined, name: string): void {
    const bucket = this.bucket(resource);
    const key = keyOf(namespace, name);
    const old = bucket.get(key);
    if (!old) return;
    bucket.delete(key);
    this.revision += 1;
    const obj = structuredClone(old);
    obj.metadata.resourceVersion = String(this.revision);
    this.emit({ resourceVersion: this.revision, resource, type: 'DELETED', object: obj });
  }

  watch(resource: string, handler: (type: WatchEventType, obj: KObject) => void): () => void {
    return this.subscribe((event) => {
      if (event.resource === resource) handler(event.type, structuredClone(event.object));
    });
  }

  /** Every change of every resource, in resourceVersion order. Returns the unsubscribe function. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The changes of `resource` after `resourceVersion`, oldest first. Throws ApiError 410 Expired when
   * the history no longer reaches back that far, as kube-apiserver does once etcd compacted it.
   */
  changesSince(resource: string, resourceVersion: number): StoreEvent[] {
    if (resourceVersion < this.compacted) {
      throw gone(`too old resource version: ${resourceVersion} (${this.compacted})`);
    }
    return this.history.filter((e) => e.resource === resource && e.resourceVersion > resourceVersion);
  }

  private commit(resource: string, type: WatchEventType, obj: KObject, previous?: KObject): KObject {
    this.revision += 1;
    obj.metadata.resourceVersion = String(this.revision);
    this.bucket(resource).set(keyOf(obj.metadata.namespace, obj.metadata.name), obj);
    this.emit({ resourceVersion: this.revision, resource, type, object: structuredClone(obj), previous });
    return structuredClone(obj);
  }

  /**
   * Delivers events strictly in order: a listener that writes to the store while being told of a
   * change queues its own event behind the one being delivered instead of overtaking it.
   */
  private emit(event: StoreEvent): void {
    this.history.push(event);
    if (this.history.length > this.historyLimit) this.compacted = this.history.shift()!.resourceVersion;
    this.queue.push(event);
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let next = this.queue.shift(); next; next = this.queue.shift()) {
        for (const listener of [...this.listeners]) {
          try {
            listener(next);
          } catch (err) {
            process.emitWarning(`store listener failed: ${(err as Error).stack ?? err}`);
          }
        }
      }
    } finally {
      this.dispatching = false;
    }
  }

  private bucket(resource: string): Map<string, KObject> {
    let bucket = this.objects.get(resource);
    if (!bucket) {
      bucket = new Map();
      this.objects.set(resource, bucket);
    }
    return bucket;
  }
}
