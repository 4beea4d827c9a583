import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MirrordError } from '../errors.ts';
import type { V1Pod } from '@kubernetes/client-node';
import { buildEphemeralAgent, ephemeralPatch, judgeEphemeral, randomAgentPort, EPHEMERAL_PORT_MAX, EPHEMERAL_PORT_MIN } from './ephemeral-agent.ts';
import { podSecurityError } from './ephemeral-errors.ts';
import { readSessionEnv } from './session-meta.ts';
import { AGENT_ENTRYPOINT, ENTER_TARGET_SCRIPT, buildNodeAgentJob } from './node-agent-job.ts';

const base = { name: 'mirrord-agent-abcd', sessionId: 'abcd', image: 'ghcr.io/kubectl-mirrord/agent:0.1.0', targetContainer: 'app', port: 23456, tokenSha256: 'f'.repeat(64), idleTimeoutMs: 60_000 };

test('the ephemeral container: target container, loopback port, token hash, NET_ADMIN only for -R', () => {
  const withR = buildEphemeralAgent({ ...base, netAdmin: true });
  assert.equal(withR.targetContainerName, 'app');
  assert.deepEqual(Object.fromEntries(withR.env!.map((e) => [e.name, e.value])), {
    MIRRORD_AGENT_LISTEN: '127.0.0.1:23456', MIRRORD_AGENT_TOKEN_SHA256: 'f'.repeat(64), MIRRORD_AGENT_IDLE_TIMEOUT_MS: '60000',
  });
  assert.deepEqual(withR.securityContext!.capabilities, { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] });
  assert.equal(withR.securityContext!.runAsUser, 0);
  // With the session's facts, status can read them back from the pod spec.
  const facts = { user: 'avi/admin@laptop', mode: 'steal' as const, target: 'deployment/web', targetNamespace: 'shop' };
  const withSession = buildEphemeralAgent({ ...base, netAdmin: true, session: facts });
  assert.deepEqual(readSessionEnv(withSession.env), { id: 'abcd', ...facts });
  assert.equal(readSessionEnv(withR.env), undefined);
  assert.equal(withR.securityContext!.privileged, undefined);
  const without = buildEphemeralAgent({ ...base, netAdmin: false });
  assert.equal(without.securityContext!.capabilities!.add, undefined);
  assert.equal(without.securityContext!.runAsUser, undefined);
  assert.deepEqual(ephemeralPatch(withR), { spec: { ephemeralContainers: [withR] } });
  for (const r of [0, 0.5, 0.999999]) {
    const port = randomAgentPort(() => r);
    assert.ok(port >= EPHEMERAL_PORT_MIN && port <= EPHEMERAL_PORT_MAX && port < 32768);
  }
});

function podWith(state: object | undefined, extra: Partial<V1Pod['metadata']> = {}): V1Pod {
  return { metadata: { name: 'web-1', ...extra }, status: { ephemeralContainerStatuses: state ? [{ name: 'mirrord-agent-abcd', image: 'i', imageID: '', ready: false, restartCount: 0, state }] : [] } };
}

test('judging the ephemeral container', () => {
  assert.deepEqual(judgeEphemeral(podWith({ running: {} }), 'mirrord-agent-abcd', 'img'), { done: 'running' });
  assert.match(JSON.stringify(judgeEphemeral(podWith({ terminated: { exitCode: 1, message: 'error: listen EADDRINUSE' } }), 'mirrord-agent-abcd', 'img')), /"done":"exited".*exit code 1: error: listen EADDRINUSE/);
  const pull = judgeEphemeral(podWith({ waiting: { reason: 'ImagePullBackOff', message: 'back-off' } }), 'mirrord-agent-abcd', 'img');
  assert.ok('failure' in pull && pull.failure.code === 'EIMAGEPULL' && /cannot pull the agent image "img"/.test(pull.failure.message));
  assert.ok('progress' in judgeEphemeral(podWith(undefined), 'mirrord-agent-abcd', 'img'));
  const gone = judgeEphemeral(undefined, 'mirrord-agent-abcd', 'img');
  assert.ok('failure' in gone && gone.failure.code === 'ETARGETLOST');
});

test('a pod security rejection names the level and what would be accepted', () => {
  const err = podSecurityError('pods "web-1" is forbidden: violates PodSecurity "baseline:latest": non-default capabilities (container "mirrord-agent-abcd" must not include "NET_ADMIN" in securityContext.capabilities.add)', 'shop', undefined);
  assert.ok(err instanceof MirrordError);
  assert.equal(err.code, 'EPODSECURITY');
  assert.equal(err.exitCode, 4);
  assert.match(err.message, /namespace "shop" enforces Pod Security "baseline", which refused the agent container: non-default capabilities/);
  assert.match(err.hint ?? '', /pod-security\.kubernetes\.io\/enforce=privileged/);
  assert.match(err.hint ?? '', /--agent-mode job/);
});

test('the Job fallback: on the target node, hostPID, enters the target container by its id', () => {
  const job = buildNodeAgentJob({
    sessionId: 'abcd1234', namespace: 'agents', image: 'img', tokenSha256: 'f'.repeat(64), idleTimeoutMs: 60_000, user: 'u', cliVersion: '0.1.0',
    nodeName: 'node-7', containerId: `containerd://${'0123abcd'.repeat(8)}`, port: 23456,
  });
  const pod = job.spec!.template.spec!;
  const container = pod.containers[0];
  assert.equal(pod.nodeName, 'node-7');
  assert.equal(pod.nodeSelector, undefined);
  assert.equal(pod.hostPID, true);
  assert.equal(pod.hostNetwork, undefined, 'the agent enters the target netns, not the node\'s');
  assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
  assert.deepEqual(container.securityContext!.capabilities!.add, ['NET_ADMIN', 'NET_RAW', 'SYS_ADMIN', 'SYS_PTRACE', 'SETPCAP']);
  assert.equal(container.securityContext!.privileged, undefined);
  assert.deepEqual(container.command, ['/bin/sh', '-c', ENTER_TARGET_SCRIPT, 'kubectl-mirrord-agent', ...AGENT_ENTRYPOINT]);
  const env = Object.fromEntries(container.env!.map((e) => [e.name, e.value]));
  assert.equal(env.MIRRORD_AGENT_LISTEN, '127.0.0.1:23456');
  assert.equal(env.MIRRORD_TARGET_CONTAINER_ID, `containerd://${'0123abcd'.repeat(8)}`);
  assert.equal(job.spec!.template.metadata!.labels!['kubectl-mirrord/session'], 'abcd1234');
  assert.ok((job.spec!.ttlSecondsAfterFinished ?? 0) > 0);
});
