import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyPatch, jsonPatch, mergePatch, strategicMergePatch } from './patch.ts';

const pod = {
  metadata: { name: 'p', labels: { a: '1', b: '2' }, finalizers: ['x'] },
  spec: {
    containers: [
      { name: 'app', image: 'app:1', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }], ports: [{ containerPort: 80 }] },
      { name: 'side', image: 'side:1' },
    ],
  },
};

test('merge patch: objects merge, null deletes, lists replace', () => {
  const out = mergePatch(pod, { metadata: { labels: { a: null, c: '3' } }, spec: { containers: [{ name: 'only' }] } }) as any;
  assert.deepEqual(out.metadata.labels, { b: '2', c: '3' });
  assert.deepEqual(out.spec.containers, [{ name: 'only' }]);
});

test('json patch: add, replace, remove, test, append with -', () => {
  const out = jsonPatch(pod, [
    { op: 'test', path: '/metadata/name', value: 'p' },
    { op: 'replace', path: '/spec/containers/0/image', value: 'app:2' },
    { op: 'add', path: '/spec/containers/-', value: { name: 'third' } },
    { op: 'remove', path: '/metadata/labels/a' },
    { op: 'add', path: '/metadata/labels/x~1y', value: 'z' },
  ]) as any;
  assert.equal(out.spec.containers[0].image, 'app:2');
  assert.equal(out.spec.containers[2].name, 'third');
  assert.deepEqual(out.metadata.labels, { b: '2', 'x/y': 'z' });
  assert.throws(() => jsonPatch(pod, [{ op: 'test', path: '/metadata/name', value: 'q' }]), (e: any) => e.code === 422);
  assert.throws(() => jsonPatch(pod, [{ op: 'replace', path: '/metadata/nope', value: 1 }]), (e: any) => e.code === 422);
});

test('strategic merge: containers and env merge by name, new ones append', () => {
  const out = strategicMergePatch(pod, {
    spec: { containers: [{ name: 'app', image: 'app:2', env: [{ name: 'B', value: '3' }, { name: 'C', value: '4' }] }, { name: 'new', image: 'n:1' }] },
  }) as any;
  assert.deepEqual(out.spec.containers.map((c: any) => c.name), ['app', 'side', 'new']);
  assert.equal(out.spec.containers[0].image, 'app:2');
  assert.deepEqual(out.spec.containers[0].env, [{ name: 'A', value: '1' }, { name: 'B', value: '3' }, { name: 'C', value: '4' }]);
  assert.deepEqual(out.spec.containers[0].ports, [{ containerPort: 80 }]);
});

test('strategic merge: ephemeralContainers added the way kubectl debug sends them', () => {
  const out = strategicMergePatch({ spec: { containers: pod.spec.containers } }, { spec: { ephemeralContainers: [{ name: 'debugger', image: 'busybox', targetContainerName: 'app' }] } }) as any;
  assert.deepEqual(out.spec.ephemeralContainers, [{ name: 'debugger', image: 'busybox', targetContainerName: 'app' }]);
});

test('strategic merge directives: $patch delete, $setElementOrder, $deleteFromPrimitiveList, primitive set merge', () => {
  const out = strategicMergePatch(pod, {
    metadata: { finalizers: ['y'], '$deleteFromPrimitiveList/finalizers': ['x'] },
    spec: {
      '$setElementOrder/containers': [{ name: 'side' }, { name: 'app' }],
      containers: [{ name: 'app', env: [{ name: 'A', $patch: 'delete' }] }],
    },
  }) as any;
  assert.deepEqual(out.metadata.finalizers, ['y']);
  assert.deepEqual(out.spec.containers.map((c: any) => c.name), ['side', 'app']);
  assert.deepEqual(out.spec.containers[1].env, [{ name: 'B', value: '2' }]);
});

test('service ports merge by port', () => {
  const svc = { spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }, { name: 'https', port: 443 }] } };
  const out = strategicMergePatch(svc, { spec: { ports: [{ port: 80, targetPort: 9090 }] } }) as any;
  assert.deepEqual(out.spec.ports, [{ name: 'http', port: 80, targetPort: 9090 }, { name: 'https', port: 443 }]);
});

test('applyPatch picks the format from Content-Type and refuses others with 415', () => {
  assert.deepEqual(applyPatch('application/merge-patch+json; charset=utf-8', { a: 1 }, { b: 2 }), { a: 1, b: 2 });
  assert.throws(() => applyPatch('text/plain', {}, {}), (e: any) => e.code === 415);
});
