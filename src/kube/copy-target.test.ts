import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod, V1PodTemplateSpec } from '@kubernetes/client-node';
import { MirrordError } from '../errors.ts';
import { buildCopyJob, copyPodSpec, judgeCopyPod, podAsTemplate } from './copy-target.ts';

const plan = { scaleDown: false, excludeContainers: [], excludeInitContainers: [] };
const probe = { httpGet: { path: '/health', port: 8080 } };

/** A running StatefulSet pod, as the API returns it. */
const stsPod: V1Pod = {
  metadata: {
    name: 'db-0', namespace: 'shop', uid: 'u1', resourceVersion: '9', generateName: 'db-',
    labels: { app: 'db', 'controller-revision-hash': 'db-7d', 'statefulset.kubernetes.io/pod-name': 'db-0', 'apps.kubernetes.io/pod-index': '0' },
    annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}', team: 'data' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: 's1', controller: true }],
  },
  spec: {
    nodeName: 'node-1', hostname: 'db-0', subdomain: 'db', serviceAccountName: 'db', restartPolicy: 'Always',
    containers: [
      { name: 'db', image: 'postgres', livenessProbe: probe, readinessProbe: probe, startupProbe: probe, volumeMounts: [{ name: 'data', mountPath: '/data' }, { name: 'kube-api-access-x1', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }] },
      { name: 'istio-proxy', image: 'istio/proxyv2', readinessProbe: probe },
    ],
    initContainers: [{ name: 'migrate', image: 'migrate', startupProbe: probe }],
    ephemeralContainers: [{ name: 'mirrord-agent-old', image: 'agent' }],
    volumes: [{ name: 'data', emptyDir: {} }, { name: 'kube-api-access-x1', projected: { sources: [] } }],
  },
  status: { phase: 'Running' },
};

test('the copy drops probes, node and identity fields, token volume and old agents; keeps the rest', () => {
  const spec = copyPodSpec(stsPod.spec!, plan);
  for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
    assert.equal(c.livenessProbe, undefined);
    assert.equal(c.readinessProbe, undefined);
    assert.equal(c.startupProbe, undefined);
  }
  assert.equal(spec.nodeName, undefined);
  assert.equal(spec.hostname, undefined);
  assert.equal(spec.subdomain, undefined);
  assert.equal(spec.ephemeralContainers, undefined);
  assert.equal(spec.restartPolicy, 'Never', 'a Job pod cannot restart Always');
  assert.equal(spec.serviceAccountName, 'db', 'the copy runs as the target does');
  assert.deepEqual(spec.volumes, [{ name: 'data', emptyDir: {} }]);
  assert.deepEqual(spec.containers[0].volumeMounts, [{ name: 'data', mountPath: '/data' }]);
  assert.deepEqual(spec.containers.map((c) => c.name), ['db', 'istio-proxy']);
  assert.ok(stsPod.spec!.containers[0].livenessProbe, 'the original object is not changed');
});

test('exclude_containers and exclude_init_containers; unknown names and excluding everything are errors', () => {
  const spec = copyPodSpec(stsPod.spec!, { ...plan, excludeContainers: ['istio-proxy'], excludeInitContainers: ['migrate'] });
  assert.deepEqual(spec.containers.map((c) => c.name), ['db']);
  assert.deepEqual(spec.initContainers, []);
  assert.throws(() => copyPodSpec(stsPod.spec!, { ...plan, excludeContainers: ['nope'] }), (e: unknown) => e instanceof MirrordError && e.code === 'ECOPYEXCLUDE' && /"nope"/.test(e.message) && /db, istio-proxy/.test(e.hint ?? ''));
  assert.throws(() => copyPodSpec(stsPod.spec!, { ...plan, excludeContainers: ['db', 'istio-proxy'] }), /every container/);
});

test('the Job: labels of the target kept (Services route to it), controller labels dropped, the lease set', () => {
  const template: V1PodTemplateSpec = podAsTemplate(stsPod);
  const job = buildCopyJob({ sessionId: 'ab12', namespace: 'shop', copyOf: 'statefulset/db', template, plan, user: 'bob smith', cliVersion: '0.1.0', activeDeadlineSeconds: 120 });
  assert.equal(job.metadata?.name, 'mirrord-copy-ab12');
  assert.equal(job.spec?.activeDeadlineSeconds, 120);
  assert.equal(job.spec?.backoffLimit, 0);
  const labels = job.spec!.template.metadata!.labels!;
  assert.equal(labels.app, 'db');
  assert.equal(labels['kubectl-mirrord/session'], 'ab12');
  assert.equal(labels['app.kubernetes.io/component'], 'copy');
  assert.equal(labels['kubectl-mirrord/user'], 'bob_smith');
  for (const dropped of ['controller-revision-hash', 'statefulset.kubernetes.io/pod-name', 'apps.kubernetes.io/pod-index']) assert.equal(labels[dropped], undefined, dropped);
  const annotations = job.spec!.template.metadata!.annotations!;
  assert.equal(annotations.team, 'data');
  assert.equal(annotations['kubectl.kubernetes.io/last-applied-configuration'], undefined);
  assert.equal(annotations['kubectl-mirrord/copy-of'], 'statefulset/db');
  assert.equal(job.metadata?.annotations?.['kubectl-mirrord/scale-down'], 'false');
});

function pod(status: V1Pod['status']): V1Pod {
  return { metadata: { name: 'mirrord-copy-ab12-xyz', namespace: 'shop' }, status };
}

test('judging the copy: CreateContainerConfigError is reported with the kubelet message, not waited on', () => {
  const verdict = judgeCopyPod(pod({ phase: 'Pending', containerStatuses: [{ name: 'web', image: 'web', imageID: '', ready: false, restartCount: 0, state: { waiting: { reason: 'CreateContainerConfigError', message: 'configmap "missing" not found' } } }] }), 'deployment/web');
  assert.ok('failure' in verdict);
  assert.equal((verdict.failure as MirrordError).code, 'ECOPYSTART');
  assert.match(verdict.failure.message, /container "web" cannot start: CreateContainerConfigError: configmap "missing" not found/);
  assert.match((verdict.failure as MirrordError).hint ?? '', /ConfigMap, Secret or key/);
});

test('judging the copy: running when every container runs; progress before; gone and exited are failures', () => {
  const running = { name: 'a', image: 'a', imageID: '', ready: true, restartCount: 0, state: { running: {} } };
  const waiting = { ...running, state: { waiting: { reason: 'ContainerCreating' } } };
  assert.ok('done' in judgeCopyPod(pod({ phase: 'Running', containerStatuses: [running, { ...running, name: 'b' }] }), 'deployment/web'));
  assert.deepEqual(judgeCopyPod(pod({ phase: 'Pending', containerStatuses: [running, waiting] }), 'deployment/web'), { progress: 'copy pod mirrord-copy-ab12-xyz: ContainerCreating' });
  assert.ok('failure' in judgeCopyPod(undefined, 'deployment/web'));
  const exited = judgeCopyPod(pod({ phase: 'Failed', containerStatuses: [{ ...running, state: { terminated: { exitCode: 3 } } }] }), 'deployment/web');
  assert.ok('failure' in exited && /exited with code 3/.test(exited.failure.message));
});
