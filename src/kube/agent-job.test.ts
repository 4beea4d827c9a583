import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agentJobName, buildAgentJob, labelValue } from './agent-job.ts';

const job = buildAgentJob({
  sessionId: 'abcd1234',
  namespace: 'team-a',
  image: 'ghcr.io/kubectl-mirrord/agent:0.1.0',
  tokenSha256: 'f'.repeat(64),
  idleTimeoutMs: 60_000,
  user: 'Jane Doe@corp',
  cliVersion: '0.1.0',
});
const pod = job.spec!.template.spec!;
const container = pod.containers[0];

test('the Job: named by session, finite, cleaned up, never retried', () => {
  assert.equal(job.metadata!.name, agentJobName('abcd1234'));
  assert.equal(job.metadata!.namespace, 'team-a');
  assert.equal(job.spec!.backoffLimit, 0);
  assert.ok((job.spec!.ttlSecondsAfterFinished ?? 0) > 0);
  assert.ok((job.spec!.activeDeadlineSeconds ?? 0) > 0);
  assert.equal(pod.restartPolicy, 'Never');
});

test('labels identify the session and the user; sidecar injection is off', () => {
  const labels = job.spec!.template.metadata!.labels!;
  assert.equal(labels['app.kubernetes.io/name'], 'kubectl-mirrord-agent');
  assert.equal(labels['kubectl-mirrord/session'], 'abcd1234');
  assert.equal(labels['kubectl-mirrord/user'], 'Jane_Doe_corp');
  const annotations = job.spec!.template.metadata!.annotations!;
  assert.equal(annotations['sidecar.istio.io/inject'], 'false');
  assert.equal(annotations['linkerd.io/inject'], 'disabled');
});

test('the pod meets Pod Security "restricted" and carries no secret', () => {
  assert.equal(pod.securityContext!.runAsNonRoot, true);
  assert.equal(pod.securityContext!.seccompProfile!.type, 'RuntimeDefault');
  assert.equal(container.securityContext!.allowPrivilegeEscalation, false);
  assert.deepEqual(container.securityContext!.capabilities!.drop, ['ALL']);
  assert.equal(container.securityContext!.capabilities!.add, undefined);
  assert.equal(container.securityContext!.privileged, undefined);
  assert.equal(pod.hostNetwork, undefined);
  assert.equal(pod.hostPID, undefined);
  assert.equal(pod.automountServiceAccountToken, false);
  const env = Object.fromEntries(container.env!.map((e) => [e.name, e.value]));
  assert.deepEqual(env, {
    MIRRORD_AGENT_LISTEN: '127.0.0.1:7070',
    MIRRORD_AGENT_TOKEN_SHA256: 'f'.repeat(64),
    MIRRORD_AGENT_IDLE_TIMEOUT_MS: '60000',
  });
});

test('label values are sanitised to the Kubernetes syntax', () => {
  assert.equal(labelValue('alice'), 'alice');
  assert.equal(labelValue('DOMAIN\\bob'), 'DOMAIN_bob');
  assert.equal(labelValue('-x-'), 'x');
  assert.equal(labelValue('éé'), 'unknown');
  assert.equal(labelValue('a'.repeat(80)).length, 63);
});
