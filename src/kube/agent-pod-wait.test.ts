import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Pod } from '@kubernetes/client-node';
import { judgePod } from './agent-pod-wait.ts';

const IMAGE = 'ghcr.io/kubectl-mirrord/agent:0.1.0';
function pod(status: V1Pod['status']): V1Pod {
  return { metadata: { name: 'mirrord-agent-x-1' }, status };
}

test('a running container is ready to connect', () => {
  assert.deepEqual(judgePod(pod({ phase: 'Running', containerStatuses: [{ name: 'agent', image: IMAGE, imageID: '', ready: true, restartCount: 0, state: { running: {} } }] }), IMAGE), { running: 'mirrord-agent-x-1' });
});

test('image pull failures fail fast with EIMAGEPULL', () => {
  for (const reason of ['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName']) {
    const verdict = judgePod(pod({ phase: 'Pending', containerStatuses: [{ name: 'agent', image: IMAGE, imageID: '', ready: false, restartCount: 0, state: { waiting: { reason, message: 'Back-off pulling image' } } }] }), IMAGE);
    assert.ok('failure' in verdict);
    assert.equal(verdict.failure.code, 'EIMAGEPULL');
    assert.match(verdict.failure.message, new RegExp(`cannot pull the agent image "${IMAGE}": ${reason}`));
  }
});

test('a container that exited during startup is EAGENTEXIT with its exit code', () => {
  const verdict = judgePod(pod({ phase: 'Failed', containerStatuses: [{ name: 'agent', image: IMAGE, imageID: '', ready: false, restartCount: 0, state: { terminated: { exitCode: 2, reason: 'Error' } } }] }), IMAGE);
  assert.ok('failure' in verdict);
  assert.equal(verdict.failure.code, 'EAGENTEXIT');
  assert.match(verdict.failure.message, /exit code 2, Error/);
});

test('pending pods report progress, unschedulable ones say why', () => {
  assert.deepEqual(judgePod(pod({ phase: 'Pending' }), IMAGE), { progress: 'pod mirrord-agent-x-1 Pending' });
  const verdict = judgePod(pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available' }] }), IMAGE);
  assert.deepEqual(verdict, { progress: 'pod mirrord-agent-x-1 not scheduled: 0/3 nodes are available' });
});

test('a FailedCreate event from pod security admission is EPODSECURITY with the message', async () => {
  const { judgeJobEvents } = await import('./agent-pod-wait.ts');
  const message = 'Error creating: pods "mirrord-agent-x-1" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false';
  const err = judgeJobEvents([{ metadata: {}, involvedObject: {}, reason: 'FailedCreate', message }]);
  assert.equal(err?.code, 'EPODSECURITY');
  assert.equal(err?.exitCode, 4);
  assert.ok(err?.message.endsWith(message));
  assert.equal(judgeJobEvents([{ metadata: {}, involvedObject: {}, reason: 'SuccessfulCreate', message: 'Created pod' }]), undefined);
  assert.equal(judgeJobEvents([{ metadata: {}, involvedObject: {}, reason: 'FailedCreate', message: 'exceeded quota' }])?.code, 'EFAILEDCREATE');
});
