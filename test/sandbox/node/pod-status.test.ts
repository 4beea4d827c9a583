import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Container, type ContainerHost } from './container.ts';
import { buildPodStatus, ConditionClock, podPhase, qosClass } from './pod-status.ts';

const host = (restartPolicy: ContainerHost['restartPolicy']): ContainerHost => ({
  prepare: () => Promise.reject(new Error('not started in this test')), changed: () => undefined,
  restartPolicy, terminationGraceSeconds: 1, probeTarget: () => ({ podIP: '' }),
});

function container(spec: object, state: Container['state'], policy: ContainerHost['restartPolicy'] = 'Always'): Container {
  const c = new Container({ name: 'c', image: 'busybox', ...spec }, host(policy));
  c.state = state;
  c.started = !!state.running;
  return c;
}

const done = (exitCode: number) => ({ terminated: { exitCode, reason: exitCode ? 'Error' : 'Completed', finishedAt: '' } });

test('podPhase: Pending before anything ran, Running, Succeeded, Failed; init failures fail Never pods', () => {
  assert.equal(podPhase([container({}, { waiting: { reason: 'ContainerCreating' } })], [], 'Always'), 'Pending');
  assert.equal(podPhase([container({}, { running: { startedAt: '' } })], [], 'Always'), 'Running');
  assert.equal(podPhase([container({}, done(0)), container({}, done(0))], [], 'Never'), 'Succeeded');
  assert.equal(podPhase([container({}, done(0)), container({}, done(1))], [], 'Never'), 'Failed');
  const failedInit = new Container({ name: 'i' }, host('Never'), 'init');
  failedInit.state = done(1);
  assert.equal(podPhase([container({}, { waiting: { reason: 'PodInitializing' } })], [failedInit], 'Never'), 'Failed');
});

test('qosClass follows requests and limits', () => {
  assert.equal(qosClass([container({}, {})]), 'BestEffort');
  assert.equal(qosClass([container({ resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '512Mi' } } }, {})]), 'Burstable');
  assert.equal(qosClass([container({ resources: { limits: { cpu: '1', memory: '1Gi' } } }, {})]), 'Guaranteed');
});

test('conditions keep their lastTransitionTime until their status changes', async () => {
  const clock = new ConditionClock();
  const c = container({}, { running: { startedAt: '' } });
  const input = { restartPolicy: 'Always' as const, containers: [c], initContainers: [], ephemeralContainers: [], podIP: '10.244.0.2', hostIP: '10.244.0.1', startTime: '', terminating: false };
  const ready = (s: any) => s.conditions.find((x: any) => x.type === 'Ready');
  const first = ready(buildPodStatus(input, clock));
  assert.equal(first.status, 'False');
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(ready(buildPodStatus(input, clock)).lastTransitionTime, first.lastTransitionTime);
  c.ready = true;
  const second = ready(buildPodStatus(input, clock));
  assert.equal(second.status, 'True');
  assert.notEqual(second.lastTransitionTime, first.lastTransitionTime);
});
