/** The controllers against the in-process API server and the fake node. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AppsV1Api, BatchV1Api, CoreV1Api } from '@kubernetes/client-node';
import { eventually, startTestServer, type TestServer } from '../apiserver/test-server.test-support.ts';

let ts: TestServer;
let core: CoreV1Api;
let batch: BatchV1Api;
let apps: AppsV1Api;

before(async () => {
  ts = await startTestServer();
  core = ts.kc.makeApiClient(CoreV1Api);
  batch = ts.kc.makeApiClient(BatchV1Api);
  apps = ts.kc.makeApiClient(AppsV1Api);
});
after(async () => ts.close());

const template = (name: string) => ({ metadata: { labels: { app: name } }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'i' }] } });

function podsOf(ns: string, selector: string) {
  return core.listNamespacedPod({ namespace: ns, labelSelector: selector }).then((l) => l.items);
}

test('a Job completes, then ttlSecondsAfterFinished deletes it and its pods', async () => {
  ts.node.finishWith.set('done-', 'Succeeded');
  const job = await batch.createNamespacedJob({ namespace: 'default', body: { metadata: { name: 'done' }, spec: { ttlSecondsAfterFinished: 1, template: template('done') } } });
  assert.equal(job.spec?.backoffLimit, 6);
  assert.equal(job.spec?.template.metadata?.labels?.['job-name'], 'done');
  const complete = await eventually(async () => {
    const j = await batch.readNamespacedJob({ name: 'done', namespace: 'default' });
    return j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True') ? j : undefined;
  });
  assert.equal(complete.status?.succeeded, 1);
  await eventually(async () => (await batch.listNamespacedJob({ namespace: 'default' })).items.every((j) => j.metadata?.name !== 'done'), 8000);
  await eventually(async () => (await podsOf('default', 'job-name=done')).length === 0);
});

test('activeDeadlineSeconds fails the Job with DeadlineExceeded and deletes its pods', async () => {
  await batch.createNamespacedJob({ namespace: 'default', body: { metadata: { name: 'slow' }, spec: { activeDeadlineSeconds: 1, template: template('slow') } } });
  await eventually(async () => (await podsOf('default', 'job-name=slow')).length === 1);
  const failed = await eventually(async () => {
    const j = await batch.readNamespacedJob({ name: 'slow', namespace: 'default' });
    return j.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
  }, 8000);
  assert.equal(failed.reason, 'DeadlineExceeded');
  assert.equal(failed.message, 'Job was active longer than specified deadline');
  await eventually(async () => (await podsOf('default', 'job-name=slow')).length === 0);
});

test('Pod Security rejection of a Job pod becomes a FailedCreate event on the Job', async () => {
  await core.createNamespace({ body: { metadata: { name: 'locked', labels: { 'pod-security.kubernetes.io/enforce': 'baseline' } } } });
  const body = { metadata: { name: 'agent' }, spec: { template: { spec: { restartPolicy: 'Never', hostPID: true, containers: [{ name: 'agent', image: 'a' }] } } } };
  await batch.createNamespacedJob({ namespace: 'locked', body });
  const event = await eventually(async () => (await core.listNamespacedEvent({ namespace: 'locked', fieldSelector: 'involvedObject.name=agent' })).items.find((e) => e.reason === 'FailedCreate'));
  assert.equal(event.type, 'Warning');
  assert.match(event.message ?? '', /^Error creating: pods "agent-[a-z0-9]{5}" is forbidden: violates PodSecurity "baseline:latest": host namespaces \(hostPID\)$/);
  assert.equal((await podsOf('locked', '')).length, 0);
});

test('deleting a namespace deletes its objects, then the namespace', async () => {
  await core.createNamespace({ body: { metadata: { name: 'gone' } } });
  await core.createNamespacedPod({ namespace: 'gone', body: { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'i' }] } } });
  await core.createNamespacedConfigMap({ namespace: 'gone', body: { metadata: { name: 'cm' } } });
  const deleting = await core.deleteNamespace({ name: 'gone' });
  assert.ok(deleting);
  await eventually(async () => !(await core.listNamespace()).items.some((n) => n.metadata?.name === 'gone'));
  assert.equal((await core.listNamespacedConfigMap({ namespace: 'gone' })).items.length, 0);
});

test('StatefulSet pods are <name>-0..n-1, created in order', async () => {
  await apps.createNamespacedStatefulSet({ namespace: 'default', body: { metadata: { name: 'db' }, spec: { replicas: 3, serviceName: 'db', selector: { matchLabels: { app: 'db' } }, template: { ...template('db'), spec: { containers: [{ name: 'c', image: 'i' }] } } } } });
  const set = await eventually(async () => {
    const s = await apps.readNamespacedStatefulSet({ name: 'db', namespace: 'default' });
    return s.status?.readyReplicas === 3 ? s : undefined;
  });
  assert.equal(set.status?.replicas, 3);
  const pods = await podsOf('default', 'app=db');
  assert.deepEqual(pods.map((p) => p.metadata?.name).sort(), ['db-0', 'db-1', 'db-2']);
  const created = pods.sort((a, b) => Number(a.metadata!.resourceVersion) - Number(b.metadata!.resourceVersion)).map((p) => p.metadata?.name);
  assert.deepEqual(created, ['db-0', 'db-1', 'db-2']);
});

test('a DaemonSet runs one pod on the node', async () => {
  await apps.createNamespacedDaemonSet({ namespace: 'default', body: { metadata: { name: 'ds' }, spec: { selector: { matchLabels: { app: 'ds' } }, template: { ...template('ds'), spec: { containers: [{ name: 'c', image: 'i' }] } } } } });
  const ds = await eventually(async () => {
    const d = await apps.readNamespacedDaemonSet({ name: 'ds', namespace: 'default' });
    return d.status?.numberReady === 1 ? d : undefined;
  });
  assert.equal(ds.status?.desiredNumberScheduled, 1);
  assert.equal((await podsOf('default', 'app=ds')).length, 1);
});

test('deleting a Deployment (background) garbage-collects its ReplicaSets and pods; orphan keeps them', async () => {
  const spec = (name: string) => ({ replicas: 1, selector: { matchLabels: { app: name } }, template: { ...template(name), spec: { containers: [{ name: 'c', image: 'i' }] } } });
  await apps.createNamespacedDeployment({ namespace: 'default', body: { metadata: { name: 'bg' }, spec: spec('bg') } });
  await apps.createNamespacedDeployment({ namespace: 'default', body: { metadata: { name: 'orphan' }, spec: spec('orphan') } });
  await eventually(async () => (await podsOf('default', 'app in (bg, orphan)')).length === 2);
  await apps.deleteNamespacedDeployment({ name: 'bg', namespace: 'default', propagationPolicy: 'Background' });
  await apps.deleteNamespacedDeployment({ name: 'orphan', namespace: 'default', propagationPolicy: 'Orphan' });
  await eventually(async () => (await podsOf('default', 'app=bg')).length === 0);
  const rs = (await apps.listNamespacedReplicaSet({ namespace: 'default', labelSelector: 'app=orphan' })).items;
  assert.equal(rs.length, 1);
  assert.equal(rs[0].metadata?.ownerReferences, undefined);
  assert.equal((await podsOf('default', 'app=orphan')).length, 1);
});

test('a failing Job pod is not replaced at once (backoff) and backoffLimit 0 fails the Job', async () => {
  ts.node.finishWith.set('crash-', 'Failed');
  await batch.createNamespacedJob({ namespace: 'default', body: { metadata: { name: 'crash' }, spec: { backoffLimit: 0, template: template('crash') } } });
  const failed = await eventually(async () => {
    const j = await batch.readNamespacedJob({ name: 'crash', namespace: 'default' });
    return j.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
  });
  assert.equal(failed.reason, 'BackoffLimitExceeded');
  assert.equal((await podsOf('default', 'job-name=crash')).length, 1);
  ts.node.finishWith.set('retry-', 'Failed');
  await batch.createNamespacedJob({ namespace: 'default', body: { metadata: { name: 'retry' }, spec: { backoffLimit: 3, template: template('retry') } } });
  await eventually(async () => (await batch.readNamespacedJob({ name: 'retry', namespace: 'default' })).status?.failed === 1);
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal((await podsOf('default', 'job-name=retry')).length, 1);
});
