/** The API server through @kubernetes/client-node: CRUD, errors, patches, watch, RBAC. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { ApiException, AppsV1Api, CoreV1Api, PatchStrategy, Watch, setHeaderOptions } from '@kubernetes/client-node';
import { eventually, startTestServer, type TestServer } from './test-server.test-support.ts';

let ts: TestServer;
let core: CoreV1Api;

before(async () => {
  ts = await startTestServer(50);
  core = ts.kc.makeApiClient(CoreV1Api);
});
after(async () => ts.close());

function rawGet(path: string, token = ts.tokens.admin): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, ts.api.url), { ca: ts.ca, headers: { Authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const podBody = (name: string) => ({ metadata: { name, labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'busybox:1.36' }] } });

test('the bootstrap objects exist', async () => {
  const names = (await core.listNamespace()).items.map((n) => n.metadata?.name);
  assert.deepEqual(names, ['default', 'kube-node-lease', 'kube-public', 'kube-system']);
  const nodes = await core.listNode();
  assert.equal(nodes.items[0].status?.conditions?.find((c) => c.type === 'Ready')?.status, 'True');
});

test('create defaults a pod and read returns it; 404 is an ApiException with a Status body', async () => {
  const created = await core.createNamespacedPod({ namespace: 'default', body: podBody('p1') });
  assert.equal(created.spec?.nodeName, 'sandbox');
  assert.equal(created.spec?.restartPolicy, 'Always');
  assert.equal(created.spec?.containers[0].terminationMessagePath, '/dev/termination-log');
  assert.equal(created.status?.phase, 'Pending');
  const read = await eventually(async () => {
    const p = await core.readNamespacedPod({ name: 'p1', namespace: 'default' });
    return p.status?.phase === 'Running' ? p : undefined;
  });
  assert.equal(read.metadata?.uid, created.metadata?.uid);
  await assert.rejects(core.readNamespacedPod({ name: 'nope', namespace: 'default' }), (err: unknown) => {
    assert.ok(err instanceof ApiException);
    assert.equal(err.code, 404);
    const status = JSON.parse(err.body as string);
    assert.equal(status.kind, 'Status');
    assert.equal(status.reason, 'NotFound');
    assert.equal(status.message, 'pods "nope" not found');
    assert.deepEqual(status.details, { name: 'nope', kind: 'pods' });
    return true;
  });
});

test('validation, namespace existence and conflicts answer like kube-apiserver', async () => {
  await assert.rejects(core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'Bad_Name' }, spec: { containers: [] } } }), (err: any) => {
    assert.equal(err.code, 422);
    const status = JSON.parse(err.body);
    assert.equal(status.reason, 'Invalid');
    assert.match(status.message, /^Pod "Bad_Name" is invalid: \[metadata\.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain .*, spec\.containers: Required value\]$/);
    return true;
  });
  await assert.rejects(core.createNamespacedPod({ namespace: 'nope', body: podBody('p') }), (err: any) => err.code === 404 && JSON.parse(err.body).message === 'namespaces "nope" not found');
  await assert.rejects(core.createNamespacedPod({ namespace: 'default', body: podBody('p1') }), (err: any) => err.code === 409 && JSON.parse(err.body).reason === 'AlreadyExists');
  const cm = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'cm' }, data: { a: '1' } } });
  await core.replaceNamespacedConfigMap({ name: 'cm', namespace: 'default', body: { ...cm, data: { a: '2' } } });
  await assert.rejects(core.replaceNamespacedConfigMap({ name: 'cm', namespace: 'default', body: { ...cm, data: { a: '3' } } }), (err: any) => err.code === 409 && JSON.parse(err.body).reason === 'Conflict');
});

test('ephemeral containers through a strategic merge patch, as kubectl debug sends it', async () => {
  const patched = await core.patchNamespacedPodEphemeralcontainers(
    { name: 'p1', namespace: 'default', body: { spec: { ephemeralContainers: [{ name: 'dbg', image: 'busybox', targetContainerName: 'c' }] } } },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
  );
  assert.deepEqual(patched.spec?.ephemeralContainers?.map((c) => c.name), ['dbg']);
  assert.deepEqual(patched.spec?.containers.map((c) => c.name), ['c']);
  const viaGet = await rawGet('/api/v1/namespaces/default/pods/p1/ephemeralcontainers');
  assert.equal(JSON.parse(viaGet.body).spec.ephemeralContainers[0].targetContainerName, 'c');
});

test('label and field selectors filter lists', async () => {
  await core.createNamespacedPod({ namespace: 'default', body: { ...podBody('p2'), metadata: { name: 'p2', labels: { app: 'y' } } } });
  const byLabel = await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app in (y)' });
  assert.deepEqual(byLabel.items.map((p) => p.metadata?.name), ['p2']);
  const byField = await core.listPodForAllNamespaces({ fieldSelector: 'metadata.name=p1' });
  assert.deepEqual(byField.items.map((p) => p.metadata?.name), ['p1']);
});

test('Watch delivers events and resumes from a resourceVersion; a compacted one gives an Expired ERROR', async () => {
  const list = await core.listNamespacedConfigMap({ namespace: 'default' });
  const rv = list.metadata!.resourceVersion!;
  const events: string[] = [];
  const watch = new Watch(ts.kc);
  const controller = await watch.watch('/api/v1/namespaces/default/configmaps', { resourceVersion: rv }, (type, obj) => events.push(`${type} ${obj.metadata.name}`), () => undefined);
  await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'w1' } } });
  await core.deleteNamespacedConfigMap({ name: 'w1', namespace: 'default' });
  await eventually(() => events.length >= 2);
  controller.abort();
  assert.deepEqual(events, ['ADDED w1', 'DELETED w1']);
  const resumed = await rawGet(`/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rv}&timeoutSeconds=1`);
  assert.deepEqual(resumed.body.trim().split('\n').map((l) => JSON.parse(l).type), ['ADDED', 'DELETED']);
  for (let i = 0; i < 60; i++) await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: `fill-${i}` } } });
  const expired = await rawGet(`/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${rv}`);
  assert.equal(expired.status, 200);
  const event = JSON.parse(expired.body.trim());
  assert.equal(event.type, 'ERROR');
  assert.equal(event.object.code, 410);
  assert.equal(event.object.reason, 'Expired');
  assert.match(event.object.message, /^too old resource version: \d+ \(\d+\)$/);
});

test('rbac.json denials answer 403 with upstream wording, re-read per request, and drive SelfSubjectAccessReview', async () => {
  const { writeFileSync } = await import('node:fs');
  const restricted = ts.restrictedKc.makeApiClient(CoreV1Api);
  await restricted.listNamespacedPod({ namespace: 'default' });
  writeFileSync(ts.rbacPath, JSON.stringify({ deny: [{ user: 'restricted', verb: 'list', resource: 'pods' }] }));
  await assert.rejects(restricted.listNamespacedPod({ namespace: 'default' }), (err: any) => err.code === 403
    && JSON.parse(err.body).message === 'pods is forbidden: User "restricted" cannot list resource "pods" in API group "" in the namespace "default"');
  const { AuthorizationV1Api } = await import('@kubernetes/client-node');
  const authz = ts.restrictedKc.makeApiClient(AuthorizationV1Api);
  const review = await authz.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { namespace: 'default', verb: 'list', resource: 'pods' } } } });
  assert.equal(review.status?.allowed, false);
  const other = await authz.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: { namespace: 'default', verb: 'get', resource: 'pods' } } } });
  assert.equal(other.status?.allowed, true);
  writeFileSync(ts.rbacPath, '{"deny":[]}');
  await restricted.listNamespacedPod({ namespace: 'default' });
});

test('deployment → replicaset → ready pods, service endpoints with a named targetPort', async () => {
  const apps = ts.kc.makeApiClient(AppsV1Api);
  await apps.createNamespacedDeployment({ namespace: 'default', body: {
    metadata: { name: 'web' },
    spec: { replicas: 2, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'w:1', ports: [{ name: 'http', containerPort: 8080 }] }] } } },
  } });
  await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'web' }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 'http' }] } } });
  const d = await eventually(async () => {
    const x = await apps.readNamespacedDeployment({ name: 'web', namespace: 'default' });
    return x.status?.availableReplicas === 2 ? x : undefined;
  });
  assert.equal(d.status?.readyReplicas, 2);
  assert.equal(d.status?.conditions?.find((c) => c.type === 'Available')?.status, 'True');
  const svc = await core.readNamespacedService({ name: 'web', namespace: 'default' });
  assert.match(svc.spec?.clusterIP ?? '', /^10\.96\.\d+\.\d+$/);
  const ep = await eventually(async () => {
    const e = await core.readNamespacedEndpoints({ name: 'web', namespace: 'default' });
    return e.subsets?.[0]?.addresses?.length === 2 ? e : undefined;
  });
  assert.deepEqual(JSON.parse(JSON.stringify(ep.subsets?.[0].ports)), [{ port: 8080, protocol: "TCP" }]);
});

test('a watch with a label selector sees an object leave (DELETED) and come back (ADDED)', async () => {
  const events: string[] = [];
  const rv = (await core.listNamespacedConfigMap({ namespace: 'default' })).metadata!.resourceVersion!;
  const controller = await new Watch(ts.kc).watch('/api/v1/namespaces/default/configmaps', { resourceVersion: rv, labelSelector: 'team=a' }, (type, obj) => events.push(`${type} ${obj.metadata.name}`), () => undefined);
  await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'sel', labels: { team: 'a' } } } });
  const patch = (team: string) => core.patchNamespacedConfigMap({ name: 'sel', namespace: 'default', body: { metadata: { labels: { team } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  await patch('b');
  await patch('c');
  await patch('a');
  await eventually(() => events.length >= 3);
  controller.abort();
  assert.deepEqual(events, ['ADDED sel', 'DELETED sel', 'ADDED sel']);
});

test('pod specs are immutable but for images; a stale resourceVersion is a Conflict first', async () => {
  const pod = await core.readNamespacedPod({ name: 'p1', namespace: 'default' });
  const newImage = structuredClone(pod);
  newImage.spec!.containers[0].image = 'busybox:1.37';
  const replaced = await core.replaceNamespacedPod({ name: 'p1', namespace: 'default', body: newImage });
  assert.equal(replaced.spec?.containers[0].image, 'busybox:1.37');
  await assert.rejects(core.replaceNamespacedPod({ name: 'p1', namespace: 'default', body: pod }), (err: any) => err.code === 409);
  const changed = structuredClone(replaced);
  changed.spec!.restartPolicy = 'Never';
  await assert.rejects(core.replaceNamespacedPod({ name: 'p1', namespace: 'default', body: changed }), (err: any) => {
    const status = JSON.parse(err.body);
    return err.code === 422 && status.message.startsWith('Pod "p1" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`');
  });
});

test('dryRun=All validates and answers without storing; DeleteOptions dryRun keeps the object', async () => {
  const dry = await core.createNamespacedConfigMap({ namespace: 'default', dryRun: 'All', body: { metadata: { name: 'dry' }, data: { a: '1' } } });
  assert.equal(dry.metadata?.name, 'dry');
  await assert.rejects(core.readNamespacedConfigMap({ name: 'dry', namespace: 'default' }), (err: any) => err.code === 404);
  await assert.rejects(core.createNamespacedConfigMap({ namespace: 'default', dryRun: 'All', body: { metadata: { name: 'Bad_Name' } } }), (err: any) => err.code === 422);
  await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'keep' } } });
  await core.deleteNamespacedConfigMap({ name: 'keep', namespace: 'default', body: { dryRun: ['All'] } });
  assert.equal((await core.readNamespacedConfigMap({ name: 'keep', namespace: 'default' })).metadata?.name, 'keep');
});

test('server-side apply creates, then merges into, the object', async () => {
  const applyCm = (data: Record<string, string>) => core.patchNamespacedConfigMap(
    { name: 'ssa', namespace: 'default', fieldManager: 'test', body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ssa' }, data } },
    setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
  );
  assert.deepEqual((await applyCm({ a: '1' })).data, { a: '1' });
  assert.deepEqual((await applyCm({ b: '2' })).data, { a: '1', b: '2' });
});

test('the scale subresource reads and writes spec.replicas', async () => {
  const apps = ts.kc.makeApiClient(AppsV1Api);
  const scale = await apps.readNamespacedDeploymentScale({ name: 'web', namespace: 'default' });
  assert.equal(scale.spec?.replicas, 2);
  assert.equal(scale.status?.selector, 'app=web');
  await apps.patchNamespacedDeploymentScale({ name: 'web', namespace: 'default', body: { spec: { replicas: 1 } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  assert.equal((await apps.readNamespacedDeployment({ name: 'web', namespace: 'default' })).spec?.replicas, 1);
  await eventually(async () => (await core.listNamespacedPod({ namespace: 'default', labelSelector: 'app=web' })).items.filter((p) => !p.metadata?.deletionTimestamp).length === 1);
});
