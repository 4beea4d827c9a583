/**
 * core/v1 Events as controllers record them (client-go tools/record): one object per
 * (object, reason, message), its count and lastTimestamp bumped when it repeats.
 */
import { randomBytes } from 'node:crypto';
import type { KObject } from '../contract.ts';
import type { ObjectStore } from '../apiserver/store.ts';

function nowIso(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Records an event about `obj` from `component` (e.g. `job-controller`). */
export function recordEvent(store: ObjectStore, component: string, obj: KObject, type: 'Normal' | 'Warning', reason: string, message: string): void {
  const namespace = obj.metadata.namespace ?? 'default';
  const existing = store.list('events', namespace).find((e: any) => e.involvedObject?.uid === obj.metadata.uid && e.reason === reason && e.message === message);
  const now = nowIso();
  if (existing) {
    existing.count = Number(existing.count ?? 1) + 1;
    existing.lastTimestamp = now;
    store.update('events', existing);
    return;
  }
  store.create('events', {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${obj.metadata.name}.${randomBytes(8).toString('hex')}`, namespace, uid: '', resourceVersion: '', creationTimestamp: '' },
    involvedObject: { apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace, uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion },
    reason, message, type, count: 1,
    source: { component },
    firstTimestamp: now, lastTimestamp: now,
    reportingComponent: component, reportingInstance: '',
    eventTime: null,
  });
}
