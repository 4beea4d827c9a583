import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { buildCopyJob } from '../kube/copy-target.ts';
import { buildEphemeralAgent } from '../kube/ephemeral-agent.ts';
import { encodeRecord, SCALE_DOWN_ANNOTATION, scalableWorkload, workloadPath, type ScaleDownRecord } from '../kube/scale-down.ts';
import { buildKeeperJob } from '../kube/scale-keeper.ts';
import { buildNodeAgentJob } from '../kube/node-agent-job.ts';
import type { ListedWorkload } from '../kube/workload-api.ts';
import { chooseKillTargets } from './kill-targets.ts';
import { describeHolderState, findHolds, holdRow } from './scale-holds.ts';
import { findSessionAgents } from './session-agents.ts';

const user = 'bob/admin@laptop';
const record: ScaleDownRecord = { session: 'c0ffee01', user, replicas: 3, copyJob: 'mirrord-copy-c0ffee01', keeperJob: 'mirrord-keeper-c0ffee01', since: '2026-12-01T22:00:00Z' };
const web = scalableWorkload('deployment', 'shop', 'web');

function listed(annotations: Record<string, string> | undefined, w = web): ListedWorkload {
  return { workload: w, object: { metadata: { name: w.name, namespace: w.namespace, annotations }, spec: { replicas: 0 } } };
}

/** The copy's Job and keeper's Job as the CLI builds them, as the API server returns them. */
function holderJobs(): { copy: V1Job; keeper: V1Job } {
  const copy = buildCopyJob({
    sessionId: record.session, namespace: 'shop', copyOf: 'deployment/web', template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'web:1' }] } },
    plan: { scaleDown: true, excludeContainers: [], excludeInitContainers: [] }, user, cliVersion: '0.1.0', activeDeadlineSeconds: 60,
  });
  const keeper = buildKeeperJob({ sessionId: record.session, namespace: 'shop', image: 'agent:1', copyJob: record.copyJob, workload: web, workloadPath: workloadPath(web), user, cliVersion: '0.1.0' });
  return { copy, keeper };
}

/** The copy's pod, running an ephemeral agent of session `agentId`. */
function copyPod(copy: V1Job, agentId: string): V1Pod {
  return {
    metadata: { name: `${record.copyJob}-x7k2p`, namespace: 'shop', labels: copy.spec!.template.metadata!.labels },
    spec: {
      containers: copy.spec!.template.spec!.containers,
      ephemeralContainers: [buildEphemeralAgent({
        name: `mirrord-agent-${agentId}`, sessionId: agentId, image: 'agent:1', targetContainer: 'web', port: 24000, tokenSha256: 'f'.repeat(64), idleTimeoutMs: 1, netAdmin: true,
        session: { user, mode: 'steal', target: `pod/${record.copyJob}-x7k2p`, targetNamespace: 'shop' },
      })],
    },
    status: { phase: 'Running', ephemeralContainerStatuses: [{ name: `mirrord-agent-${agentId}`, image: 'agent:1', imageID: '', ready: false, restartCount: 0, state: { running: {} } }] },
  };
}

test('a held workload is found with its record, the exact annotation text, and the agents in its copy', () => {
  const { copy, keeper } = holderJobs();
  const pod = copyPod(copy, 'a9e47001');
  const agents = findSessionAgents([], [pod]);
  const encoded = encodeRecord(record);
  const other = scalableWorkload('statefulset', 'shop', 'db');
  const holds = findHolds([listed({ [SCALE_DOWN_ANNOTATION]: encoded }), listed({ unrelated: 'x' }, other), listed(undefined, other)], [copy, keeper], [pod], agents);
  assert.equal(holds.length, 1);
  assert.equal(holds[0].encoded, encoded);
  const row = holdRow(holds[0]);
  assert.deepEqual(row, {
    workload: 'deployment/web', namespace: 'shop', session: 'c0ffee01', user, replicas: 3, since: '2026-12-01T22:00:00Z',
    copyJob: 'mirrord-copy-c0ffee01', keeperJob: 'mirrord-keeper-c0ffee01', copy: 'running', keeper: 'running', agentSessions: ['a9e47001'], alive: true,
  });
  assert.equal(describeHolderState(row), 'alive (agent a9e47001)');
});

test('the holder is not alive when its copy failed (the lease ran out) or is gone, or its keeper is', () => {
  const { copy, keeper } = holderJobs();
  const annotations = { [SCALE_DOWN_ANNOTATION]: encodeRecord(record) };
  copy.status = { conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded' }] };
  const ending = holdRow(findHolds([listed(annotations)], [copy, keeper], [], [])[0]);
  assert.deepEqual([ending.copy, ending.keeper, ending.alive], ['ended', 'running', false]);
  assert.match(describeHolderState(ending), /^ending: copy Job ended; the keeper restores it$/);

  const dead = holdRow(findHolds([listed(annotations)], [], [], [])[0]);
  assert.deepEqual([dead.copy, dead.keeper, dead.alive], ['gone', 'gone', false]);
  assert.equal(describeHolderState(dead), 'dead: copy Job gone, keeper gone; kubectl mirrord kill c0ffee01 restores it');

  const deleting = structuredClone(keeper);
  deleting.metadata!.deletionTimestamp = new Date();
  const noKeeper = holdRow(findHolds([listed(annotations)], [holderJobs().copy, deleting], [], [])[0]);
  assert.deepEqual([noKeeper.copy, noKeeper.keeper, noKeeper.alive], ['running', 'ended', false]);
  assert.match(describeHolderState(noKeeper), /^no keeper: /);

  const unreadable = holdRow(findHolds([listed({ [SCALE_DOWN_ANNOTATION]: 'not json' })], [], [], [])[0]);
  assert.equal(unreadable.replicas, -1);
  assert.match(describeHolderState(unreadable), /^unreadable record: restore by hand \(kubectl scale \S+ -n \S+ --replicas=N, then kubectl annotate /);
  assert.doesNotMatch(describeHolderState(unreadable), /kubectl mirrord kill/, 'kill refuses a record it cannot read');
});

test('a Job agent whose target container is one of the copy\'s is named as the copy\'s agent; one elsewhere is not', () => {
  const { copy, keeper } = holderJobs();
  const copyContainer = `containerd://${'a'.repeat(64)}`;
  const pod: V1Pod = {
    metadata: { name: `${record.copyJob}-x7k2p`, namespace: 'shop', labels: copy.spec!.template.metadata!.labels },
    spec: copy.spec!.template.spec!,
    status: { phase: 'Running', containerStatuses: [{ name: 'web', image: 'web:1', imageID: '', ready: true, restartCount: 0, containerID: copyContainer }] },
  };
  const agentJob = (sessionId: string, containerId: string) => {
    const job = buildNodeAgentJob({
      sessionId, namespace: 'shop', image: 'agent:1', tokenSha256: 'f'.repeat(64), idleTimeoutMs: 60_000, user, cliVersion: '0.1.0', nodeName: 'sandbox', containerId, port: 23456,
      session: { user, mode: 'steal', target: 'deployment/web', targetNamespace: 'shop' },
    });
    const agentPod: V1Pod = { metadata: { name: `mirrord-agent-${sessionId}-q1w2e`, namespace: 'shop', labels: job.spec!.template.metadata!.labels }, spec: job.spec!.template.spec! };
    return { job, agentPod };
  };
  const inCopy = agentJob('10b00001', copyContainer);
  const elsewhere = agentJob('10b00002', `containerd://${'b'.repeat(64)}`);
  const pods = [pod, inCopy.agentPod, elsewhere.agentPod];
  const agents = findSessionAgents([inCopy.job, elsewhere.job], pods);
  assert.deepEqual(agents.map((a) => [a.sessionId, a.kind]), [['10b00001', 'job'], ['10b00002', 'job']]);
  const [hold] = findHolds([listed({ [SCALE_DOWN_ANNOTATION]: encodeRecord(record) })], [copy, keeper], pods, agents);
  assert.deepEqual(hold.agentSessions, ['10b00001']);
  const chosen = chooseKillTargets(['10b00001'], undefined, agents, [hold]);
  assert.deepEqual([chosen.agents.map((a) => a.sessionId), chosen.holds.length], [['10b00001'], 1], 'kill of the Job agent releases the hold');
});

test('a record that cannot be read still holds the workload, with an unknown count', () => {
  const [hold] = findHolds([listed({ [SCALE_DOWN_ANNOTATION]: 'not json' })], [], [], []);
  assert.equal(hold.record.replicas, -1);
  assert.equal(hold.encoded, 'not json');
});

test('kill: an agent id takes the hold of its copy, a hold id takes the agents in its copy, --all-mine takes both', () => {
  const { copy, keeper } = holderJobs();
  const pod = copyPod(copy, 'a9e47001');
  const elsewhere: V1Pod = { ...copyPod(copy, 'b0b0b0b0'), metadata: { name: 'web-other', namespace: 'shop', labels: { app: 'web' } } };
  const agents = findSessionAgents([], [pod, elsewhere]);
  const holds = findHolds([listed({ [SCALE_DOWN_ANNOTATION]: encodeRecord(record) })], [copy, keeper], [pod, elsewhere], agents);
  const ids = (t: ReturnType<typeof chooseKillTargets>) => [t.agents.map((a) => a.sessionId), t.holds.map((h) => h.record.session), t.unknown];

  assert.deepEqual(ids(chooseKillTargets(['a9e47001'], undefined, agents, holds)), [['a9e47001'], ['c0ffee01'], []]);
  assert.deepEqual(ids(chooseKillTargets(['c0ffee01'], undefined, agents, holds)), [['a9e47001'], ['c0ffee01'], []]);
  assert.deepEqual(ids(chooseKillTargets(['b0b0b0b0'], undefined, agents, holds)), [['b0b0b0b0'], [], []], 'an agent outside the copy leaves the hold alone');
  assert.deepEqual(ids(chooseKillTargets(['deadbeef', 'c0ffee01'], undefined, agents, holds))[2], ['deadbeef']);
  assert.deepEqual(ids(chooseKillTargets([], user, agents, holds)), [['a9e47001', 'b0b0b0b0'], ['c0ffee01'], []]);
  assert.deepEqual(ids(chooseKillTargets([], 'eve/x@y', agents, holds)), [[], [], []]);

  const deadHolds = findHolds([listed({ [SCALE_DOWN_ANNOTATION]: encodeRecord(record) })], [], [], []);
  assert.deepEqual(ids(chooseKillTargets([], user, [], deadHolds)), [[], ['c0ffee01'], []], "--all-mine releases the user's dead holds");
});
