import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Job, V1LabelSelector, V1Pod } from '@kubernetes/client-node';
import { MirrordError } from '../errors.ts';
import { formatTarget, parseTarget } from './target-spec.ts';
import { resolveTarget, selectorText, type TargetApi } from './target-resolve.ts';
import { targetRows } from './target-list.ts';

function rejectsWith(promise: Promise<unknown>, code: string, fragment: RegExp): Promise<void> {
  return assert.rejects(promise, (err: unknown) => err instanceof MirrordError && err.code === code && fragment.test(`${err.message} | ${err.hint}`));
}

test('target syntax: kinds, aliases, containers', () => {
  assert.deepEqual(parseTarget('pod/web-1'), { kind: 'pod', name: 'web-1', container: undefined, text: 'pod/web-1' });
  assert.equal(parseTarget('deploy/web').kind, 'deployment');
  assert.equal(parseTarget('Deployments/web').kind, 'deployment');
  assert.equal(parseTarget('sts/db').kind, 'statefulset');
  assert.equal(parseTarget('rs/x').kind, 'replicaset');
  assert.equal(parseTarget('job/batch').kind, 'job');
  assert.equal(parseTarget('deployment/web/container/app').container, 'app');
  assert.equal(formatTarget('pod', 'a', 'b'), 'pod/a/container/b');
});

test('bad targets name the problem and list the accepted forms', () => {
  const bad = (text: string, fragment: RegExp) =>
    assert.throws(() => parseTarget(text), (err: unknown) => err instanceof MirrordError && err.exitCode === 2 && fragment.test(err.message) && /deployment\/NAME/.test(err.hint ?? ''));
  bad('web', /needs a kind/);
  bad('service/web', /unknown kind 'service'/);
  bad('pod/Web', /not a valid pod name/);
  bad('pod/a/b', /expected KIND\/NAME/);
  bad('pod/a/containers/b', /expected 'container' after pod\/a\//);
  bad('pod/a/container/B_1', /'B_1' is not a valid container name/);
});

test('label selectors become query text', () => {
  assert.equal(selectorText(undefined), undefined);
  assert.equal(selectorText({}), undefined);
  assert.equal(selectorText({ matchLabels: { app: 'web', tier: 'fe' }, matchExpressions: [
    { key: 'env', operator: 'In', values: ['a', 'b'] }, { key: 'x', operator: 'NotIn', values: ['c'] },
    { key: 'y', operator: 'Exists' }, { key: 'z', operator: 'DoesNotExist' },
  ] }), 'app=web,tier=fe,env in (a,b),x notin (c),y,!z');
});

interface FakePod { name: string; phase?: string; ready?: boolean; created?: string; owner?: { kind: string; name: string; uid: string }; containers?: string[]; running?: boolean; deleting?: boolean; labels?: Record<string, string>; annotations?: Record<string, string> }

function pod(p: FakePod): V1Pod {
  const containers = p.containers ?? ['app'];
  return {
    metadata: {
      name: p.name, uid: `uid-${p.name}`, labels: p.labels ?? { app: 'web' }, annotations: p.annotations, creationTimestamp: new Date(p.created ?? '2026-01-01T00:00:00Z'),
      ownerReferences: p.owner ? [{ apiVersion: 'apps/v1', kind: p.owner.kind, name: p.owner.name, uid: p.owner.uid, controller: true }] : undefined,
      deletionTimestamp: p.deleting ? new Date() : undefined,
    },
    spec: { nodeName: 'node-1', containers: containers.map((name) => ({ name })) },
    status: {
      phase: p.phase ?? 'Running',
      conditions: [{ type: 'Ready', status: p.ready === false ? 'False' : 'True' }],
      containerStatuses: containers.map((name) => ({ name, image: 'i', imageID: '', ready: p.ready !== false, restartCount: 0, containerID: `containerd://${name}-id`, state: p.running === false ? { waiting: { reason: 'CrashLoopBackOff' } } : { running: {} } })),
    },
  };
}

function fakeApi(pods: V1Pod[], workloads: Record<string, { uid: string; selector?: V1LabelSelector }> = {}, jobs: V1Job[] = []): TargetApi & { selectors: Array<string | undefined> } {
  const selectors: Array<string | undefined> = [];
  return {
    selectors,
    listJobs: async () => jobs,
    readPod: async (_ns, name) => {
      const found = pods.find((p) => p.metadata?.name === name);
      if (!found) throw Object.assign(new Error('not found'), { code: 404 });
      return found;
    },
    listPods: async (_ns, selector) => {
      selectors.push(selector);
      return pods;
    },
    readWorkload: async (kind, _ns, name) => {
      const w = workloads[`${kind}/${name}`];
      if (!w) throw Object.assign(new Error('not found'), { code: 404 });
      return { uid: w.uid, selector: w.selector };
    },
  };
}

test('a deployment resolves to a ready pod of its own ReplicaSets, oldest first', async () => {
  const rs = { kind: 'ReplicaSet', name: 'web-5c9f', uid: 'rs1' };
  const pods = [
    pod({ name: 'web-5c9f-new', owner: rs, created: '2026-01-03T00:00:00Z' }),
    pod({ name: 'web-5c9f-unready', owner: rs, ready: false, created: '2026-01-01T00:00:00Z' }),
    pod({ name: 'web-5c9f-old', owner: rs, created: '2026-01-02T00:00:00Z' }),
    pod({ name: 'webby-1', owner: { kind: 'ReplicaSet', name: 'webby-77', uid: 'rs2' }, created: '2020-01-01T00:00:00Z' }),
    pod({ name: 'web-5c9f-pending', owner: rs, phase: 'Pending', created: '2019-01-01T00:00:00Z' }),
  ];
  const api = fakeApi(pods, { 'deployment/web': { uid: 'd1', selector: { matchLabels: { app: 'web' } } } });
  const target = await resolveTarget(api, parseTarget('deployment/web'), 'shop');
  assert.equal(target.podName, 'web-5c9f-old');
  assert.equal(target.container, 'app');
  assert.equal(target.containerId, 'containerd://app-id');
  assert.equal(target.nodeName, 'node-1');
  assert.deepEqual(api.selectors, ['app=web']);
});

test('statefulset, replicaset and job pods are matched by owner uid; a lone unready pod still counts', async () => {
  const pods = [pod({ name: 'db-0', owner: { kind: 'StatefulSet', name: 'db', uid: 's1' }, ready: false }), pod({ name: 'other-0', owner: { kind: 'StatefulSet', name: 'other', uid: 's2' } })];
  const api = fakeApi(pods, { 'statefulset/db': { uid: 's1' }, 'job/db': { uid: 'j1' } });
  assert.equal((await resolveTarget(api, parseTarget('sts/db'), 'ns')).podName, 'db-0');
  await rejectsWith(resolveTarget(api, parseTarget('job/db'), 'ns'), 'ENORUNNINGPOD', /job\/db in namespace "ns" has no running pod/);
});

test('not found, not running, no such container, container not running', async () => {
  const pods = [
    pod({ name: 'one', containers: ['app', 'sidecar'] }),
    pod({ name: 'pending', phase: 'Pending' }),
    pod({ name: 'crashing', running: false }),
    pod({ name: 'annotated', containers: ['sidecar', 'app'], annotations: { 'kubectl.kubernetes.io/default-container': 'app' } }),
  ];
  const api = fakeApi(pods);
  await rejectsWith(resolveTarget(api, parseTarget('pod/nope'), 'ns'), 'ETARGETNOTFOUND', /pod\/nope not found in namespace "ns".*kubectl mirrord ls -n ns/);
  await rejectsWith(resolveTarget(api, parseTarget('deployment/nope'), 'ns'), 'ETARGETNOTFOUND', /deployment\/nope not found/);
  await rejectsWith(resolveTarget(api, parseTarget('pod/pending'), 'ns'), 'ENORUNNINGPOD', /not running \(Pending\)/);
  await rejectsWith(resolveTarget(api, parseTarget('pod/one/container/web'), 'ns'), 'ENOCONTAINER', /no container "web".*its containers: app, sidecar/);
  await rejectsWith(resolveTarget(api, parseTarget('pod/crashing'), 'ns'), 'ECONTAINERNOTRUNNING', /container "app" of pod "crashing" is not running/);
  assert.equal((await resolveTarget(api, parseTarget('pod/one/container/sidecar'), 'ns')).container, 'sidecar');
  assert.equal((await resolveTarget(api, parseTarget('pod/one'), 'ns')).container, 'app', 'the first container by default');
  assert.equal((await resolveTarget(api, parseTarget('pod/annotated'), 'ns')).container, 'app', 'the default-container annotation');
});

test('ls rows: workloads, then pods; several containers listed one by one; agents and finished pods left out', () => {
  const rows = targetRows({
    deployments: [{ metadata: { name: 'web', namespace: 'b' }, spec: { replicas: 2, selector: {}, template: { spec: { containers: [{ name: 'app' }] } } }, status: { readyReplicas: 1 } }],
    statefulSets: [{ metadata: { name: 'db', namespace: 'a' }, spec: { replicas: 1, selector: {}, serviceName: 'db', template: { spec: { containers: [{ name: 'pg' }] } } }, status: { replicas: 1, readyReplicas: 1 } }],
    cronJobs: [{ metadata: { name: 'nightly', namespace: 'b' }, spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: { spec: { containers: [{ name: 'batch' }] } } } } }, status: {} }],
    pods: [
      pod({ name: 'web-1', containers: ['app', 'proxy'] }),
      pod({ name: 'agent', labels: { 'app.kubernetes.io/name': 'kubectl-mirrord-agent' } }),
      pod({ name: 'done', phase: 'Succeeded' }),
    ].map((p) => ({ ...p, metadata: { ...p.metadata, namespace: 'b' } })),
  });
  assert.deepEqual(rows.map((r) => r.target), ['statefulset/db', 'cronjob/nightly', 'deployment/web', 'pod/web-1', 'pod/web-1/container/app', 'pod/web-1/container/proxy']);
  assert.equal(rows[1].status, '0 3 * * *, 0 active');
  assert.equal(rows[2].status, '1/2 ready');
  assert.equal(rows[3].status, '2/2 Running');
  assert.deepEqual(rows[3].containers, ['app', 'proxy']);
});

function job(name: string, cronUid: string, created: string): V1Job {
  return { metadata: { name, uid: `uid-${name}`, creationTimestamp: new Date(created), ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'nightly', uid: cronUid, controller: true }] }, spec: { template: {}, selector: { matchLabels: { 'batch.kubernetes.io/controller-uid': `uid-${name}` } } } };
}

test("cronjob/NAME: the newest Job's running pod; none: a hint to use --copy-target", async () => {
  assert.equal(parseTarget('cj/nightly').kind, 'cronjob');
  const jobs = [job('nightly-1', 'cj1', '2026-01-01T00:00:00Z'), job('nightly-2', 'cj1', '2026-01-02T00:00:00Z'), job('other-1', 'x', '2026-01-03T00:00:00Z')];
  const pods = [
    pod({ name: 'nightly-1-a', owner: { kind: 'Job', name: 'nightly-1', uid: 'uid-nightly-1' } }),
    pod({ name: 'nightly-2-a', owner: { kind: 'Job', name: 'nightly-2', uid: 'uid-nightly-2' } }),
    pod({ name: 'other-1-a', owner: { kind: 'Job', name: 'other-1', uid: 'uid-other-1' } }),
  ];
  const resolved = await resolveTarget(fakeApi(pods, { 'cronjob/nightly': { uid: 'cj1' } }, jobs), parseTarget('cronjob/nightly'), 'default');
  assert.equal(resolved.podName, 'nightly-2-a', 'the newest run that has a running pod');
  const finished = [pod({ name: 'nightly-2-a', phase: 'Succeeded', owner: { kind: 'Job', name: 'nightly-2', uid: 'uid-nightly-2' } })];
  await rejectsWith(resolveTarget(fakeApi(finished, { 'cronjob/nightly': { uid: 'cj1' } }, jobs), parseTarget('cronjob/nightly'), 'default'), 'ENORUNNINGPOD', /has no running Job pod \(its Jobs: nightly-2, nightly-1\).*--copy-target/);
});

test('rollout/NAME: through its ReplicaSets, a ready pod of the stable one first', async () => {
  assert.equal(parseTarget('ro/web').kind, 'rollout');
  const owner = (hash: string) => ({ kind: 'ReplicaSet', name: `web-${hash}`, uid: `rs-${hash}` });
  const pods = [
    pod({ name: 'web-canary-a', owner: owner('canary'), created: '2026-01-01T00:00:00Z', labels: { app: 'web', 'rollouts-pod-template-hash': 'canary' } }),
    pod({ name: 'web-stable-a', owner: owner('stable'), created: '2026-01-02T00:00:00Z', labels: { app: 'web', 'rollouts-pod-template-hash': 'stable' } }),
    pod({ name: 'other-x', owner: { kind: 'ReplicaSet', name: 'other-1', uid: 'o' } }),
  ];
  const api: TargetApi = { ...fakeApi(pods), readWorkload: async () => ({ uid: 'ro1', selector: { matchLabels: { app: 'web' } }, preferLabels: { 'rollouts-pod-template-hash': 'stable' } }) };
  assert.equal((await resolveTarget(api, parseTarget('rollout/web'), 'ns')).podName, 'web-stable-a', 'the stable one, though the canary pod is older');
  const noStable: TargetApi = { ...fakeApi(pods), readWorkload: async () => ({ uid: 'ro1', selector: undefined, preferLabels: { 'rollouts-pod-template-hash': 'gone' } }) };
  assert.equal((await resolveTarget(noStable, parseTarget('rollout/web'), 'ns')).podName, 'web-canary-a', 'else any ready pod of its ReplicaSets, oldest first');
});
