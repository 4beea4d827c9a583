import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KObject } from '../contract.ts';
import { ObjectStore } from './store.ts';

function cm(name: string, data: Record<string, string> = {}): KObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: 'default', uid: '', resourceVersion: '', creationTimestamp: '' }, data };
}

test('create assigns uid, creationTimestamp and a growing resourceVersion', () => {
  const store = new ObjectStore();
  const a = store.create('configmaps', cm('a'));
  const b = store.create('configmaps', cm('b'));
  assert.match(a.metadata.uid, /^[0-9a-f-]{36}$/);
  assert.match(a.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.ok(Number(b.metadata.resourceVersion) > Number(a.metadata.resourceVersion));
  assert.equal(store.resourceVersion, b.metadata.resourceVersion);
  assert.throws(() => store.create('configmaps', cm('a')), (e: any) => e.code === 409 && e.reason === 'AlreadyExists' && e.message === 'configmaps "a" already exists');
});

test('update enforces resourceVersion and skips no-op writes', () => {
  const store = new ObjectStore();
  const a = store.create('configmaps', cm('a'));
  const same = store.update('configmaps', { ...a });
  assert.equal(same.metadata.resourceVersion, a.metadata.resourceVersion);
  const changed = store.update('configmaps', { ...a, data: { k: 'v' } });
  assert.notEqual(changed.metadata.resourceVersion, a.metadata.resourceVersion);
  assert.throws(() => store.update('configmaps', { ...a, data: { k: 'w' } }), (e: any) => e.code === 409 && e.reason === 'Conflict'
    && e.message === 'Operation cannot be fulfilled on configmaps "a": the object has been modified; please apply your changes to the latest version and try again');
  assert.throws(() => store.update('configmaps', cm('nope')), (e: any) => e.code === 404);
});

test('generation bumps only on spec changes of workloads', () => {
  const store = new ObjectStore();
  const d = store.create('deployments', { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd', namespace: 'default', uid: '', resourceVersion: '', creationTimestamp: '' }, spec: { replicas: 1 } });
  assert.equal(d.metadata.generation, 1);
  const labelled = store.update('deployments', { ...d, metadata: { ...d.metadata, labels: { a: 'b' } } });
  assert.equal(labelled.metadata.generation, 1);
  const scaled = store.update('deployments', { ...labelled, spec: { replicas: 3 } });
  assert.equal(scaled.metadata.generation, 2);
});

test('watch handlers see every change in order; stored objects cannot be changed from outside', () => {
  const store = new ObjectStore();
  const seen: string[] = [];
  const stop = store.watch('configmaps', (type, obj) => {
    seen.push(`${type} ${obj.metadata.name} ${obj.metadata.resourceVersion}`);
    if (obj.metadata.name === 'a' && type === 'ADDED') store.create('configmaps', cm('b'));
    obj.metadata.name = 'mutated';
  });
  const a = store.create('configmaps', cm('a'));
  store.remove('configmaps', 'default', 'a');
  stop();
  store.create('configmaps', cm('c'));
  assert.deepEqual(seen.map((s) => s.split(' ').slice(0, 2).join(' ')), ['ADDED a', 'ADDED b', 'DELETED a']);
  const rvs = seen.map((s) => Number(s.split(' ')[2]));
  assert.deepEqual(rvs, [...rvs].sort((x, y) => x - y));
  assert.equal(store.get('configmaps', 'default', 'b')?.metadata.name, 'b');
  assert.equal(a.metadata.name, 'a');
});

test('changesSince replays from a resourceVersion and answers 410 once history is compacted', () => {
  const store = new ObjectStore(3);
  const a = store.create('configmaps', cm('a'));
  store.create('configmaps', cm('b'));
  const changes = store.changesSince('configmaps', Number(a.metadata.resourceVersion));
  assert.deepEqual(changes.map((c) => c.object.metadata.name), ['b']);
  for (let i = 0; i < 5; i++) store.create('configmaps', cm(`x${i}`));
  assert.throws(() => store.changesSince('configmaps', Number(a.metadata.resourceVersion)), (e: any) => e.code === 410 && e.reason === 'Expired' && /^too old resource version: \d+ \(\d+\)$/.test(e.message));
});
