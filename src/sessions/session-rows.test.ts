import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { buildAgentJob } from '../kube/agent-job.ts';
import { buildEphemeralAgent } from '../kube/ephemeral-agent.ts';
import { AgentEvent, parseAgentLog } from './agent-events.ts';
import { findSessionAgents } from './session-agents.ts';
import { formatAge, formatConnected, sessionRow } from './session-rows.ts';

const T0 = Date.parse('2026-12-02T04:00:00Z');
const user = 'avi/admin@laptop';

/** The Job the CLI creates, as the API server returns it, with its running pod. */
function jobWithPod(sessionId: string, namespace: string): { job: V1Job; pod: V1Pod } {
  const job = buildAgentJob({ sessionId, namespace, image: 'agent:1', tokenSha256: 'f'.repeat(64), idleTimeoutMs: 60_000, user: 'avi', cliVersion: '0.1.0', session: { user, mode: 'port-forward' } });
  job.metadata!.creationTimestamp = new Date(T0);
  const pod: V1Pod = {
    metadata: { name: `mirrord-agent-${sessionId}-x7k2p`, namespace, labels: job.spec!.template.metadata!.labels },
    spec: job.spec!.template.spec!,
    status: { phase: 'Running', containerStatuses: [{ name: 'agent', image: 'agent:1', imageID: '', ready: true, restartCount: 0, state: { running: { startedAt: new Date(T0 + 2000) } } }] },
  };
  return { job, pod };
}

/** A target pod holding ephemeral agents in the given states. */
function targetPod(agents: Array<{ id: string; state: 'running' | 'terminated' }>): V1Pod {
  return {
    metadata: { name: 'web-1', namespace: 'shop' },
    spec: {
      containers: [{ name: 'app', image: 'web' }],
      ephemeralContainers: agents.map(({ id }) => buildEphemeralAgent({
        name: `mirrord-agent-${id}`, sessionId: id, image: 'agent:1', targetContainer: 'app', port: 24000, tokenSha256: 'f'.repeat(64), idleTimeoutMs: 1, netAdmin: true,
        session: { user, mode: 'steal', target: 'deployment/web', targetNamespace: 'shop' },
      })),
    },
    status: {
      phase: 'Running',
      ephemeralContainerStatuses: agents.map(({ id, state }) => ({
        name: `mirrord-agent-${id}`, image: 'agent:1', imageID: '', ready: false, restartCount: 0,
        state: state === 'running' ? { running: { startedAt: new Date(T0 + 60_000) } } : { terminated: { exitCode: 0 } },
      })),
    },
  };
}

test('agents are found in labelled Jobs and in running ephemeral containers, with their session facts', () => {
  const { job, pod } = jobWithPod('1a2b3c4d', 'default');
  const finished = jobWithPod('99999999', 'default').job;
  finished.status = { conditions: [{ type: 'Complete', status: 'True' }] };
  const agents = findSessionAgents([job, finished], [pod, targetPod([{ id: 'aaaa0001', state: 'terminated' }, { id: 'bbbb0002', state: 'running' }])]);
  assert.deepEqual(agents.map((a) => [a.sessionId, a.kind, a.namespace, a.pod, a.container, a.running]), [
    ['1a2b3c4d', 'job', 'default', 'mirrord-agent-1a2b3c4d-x7k2p', 'agent', true],
    ['bbbb0002', 'ephemeral', 'shop', 'web-1', 'mirrord-agent-bbbb0002', true],
  ]);
  assert.deepEqual(agents[0].facts, { id: '1a2b3c4d', user, mode: 'port-forward', target: undefined, targetNamespace: undefined });
  assert.equal(agents[1].facts.target, 'deployment/web');
});

test('rows: agent, target, mode, ports from the log, user, age, CLI', () => {
  const { job, pod } = jobWithPod('1a2b3c4d', 'default');
  const [jobAgent, ephemeral] = findSessionAgents([job], [pod, targetPod([{ id: 'bbbb0002', state: 'running' }])]);
  const log = parseAgentLog([
    JSON.stringify({ event: AgentEvent.clientConnected, sessions: 1 }),
    JSON.stringify({ event: AgentEvent.portSubscribed, port: 80, mode: 'steal', subscription: 1, filter: { header: 'X-PG-Tenant: Avi.+', ports: [80] } }),
  ].join('\n'));
  const steal = sessionRow(ephemeral, log, T0 + 73_000);
  assert.deepEqual(steal, {
    session: 'bbbb0002', agent: 'pod/web-1 (ephemeral container mirrord-agent-bbbb0002)', namespace: 'shop',
    target: 'deployment/web (pod/web-1)', targetNamespace: 'shop', mode: 'steal', ports: ['80 steal header=X-PG-Tenant: Avi.+'],
    user, startedAt: '2026-12-02T04:01:00.000Z', ageSeconds: 13, cliConnected: true, state: 'running',
  });
  assert.equal(formatConnected(steal), 'connected');
  const forward = sessionRow(jobAgent, parseAgentLog(''), T0 + 4_000);
  assert.equal(forward.agent, 'job/mirrord-agent-1a2b3c4d');
  assert.equal(forward.target, '-');
  assert.equal(forward.ageSeconds, 4);
  assert.equal(formatConnected(forward), 'no');
  const unreadable = sessionRow(jobAgent, undefined, T0);
  assert.equal(unreadable.cliConnected, undefined);
  assert.equal(formatConnected(unreadable), '?');
});

test('ages read like kubectl AGE', () => {
  assert.deepEqual([4, 192, 7500, 280_000, undefined].map(formatAge), ['4s', '3m12s', '2h5m', '3d5h', '-']);
});
