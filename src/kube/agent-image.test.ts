import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MirrordError } from '../errors.ts';
import { VERSION as CLI_VERSION } from '../version.ts';
import { agentVersionWarning, DEFAULT_AGENT_IMAGE, parsePullPolicy, parsePullSecrets } from './agent-image.ts';
import { buildAgentJob } from './agent-job.ts';
import { buildEphemeralAgent } from './ephemeral-agent.ts';

test('the default agent image is tagged with the CLI version from package.json', () => {
  assert.equal(DEFAULT_AGENT_IMAGE, `ghcr.io/kubectl-mirrord/agent:${CLI_VERSION}`);
  assert.match(CLI_VERSION, /^\d+\.\d+\.\d+/);
});

test('pull policy: the three Kubernetes values in any case; anything else names the source and the choices', () => {
  assert.equal(parsePullPolicy('ifnotpresent', '--agent-image-pull-policy'), 'IfNotPresent');
  assert.equal(parsePullPolicy('Always', 'x'), 'Always');
  assert.equal(parsePullPolicy(undefined, 'x'), undefined);
  assert.throws(() => parsePullPolicy('sometimes', '--agent-image-pull-policy'), (err: unknown) =>
    err instanceof MirrordError && err.exitCode === 2 && /--agent-image-pull-policy is 'sometimes'/.test(err.message) && /Always, IfNotPresent, Never/.test(err.hint ?? ''));
  assert.deepEqual(parsePullSecrets(['regcred', 'mirror.pull', 'regcred'], 'x'), ['regcred', 'mirror.pull']);
  assert.throws(() => parsePullSecrets(['Reg_Cred'], '--agent-image-pull-secret'), /--agent-image-pull-secret 'Reg_Cred' is not a Secret name/);
});

test('the Job carries imagePullPolicy and imagePullSecrets; the ephemeral container its pull policy', () => {
  const base = { sessionId: 'abcd1234', namespace: 'a', image: 'mirror.local/agent:1', tokenSha256: 'f'.repeat(64), idleTimeoutMs: 1, user: 'u', cliVersion: '0.1.0' };
  const job = buildAgentJob({ ...base, pull: { policy: 'Always', secrets: ['regcred'] } });
  assert.equal(job.spec!.template.spec!.containers[0].imagePullPolicy, 'Always');
  assert.deepEqual(job.spec!.template.spec!.imagePullSecrets, [{ name: 'regcred' }]);
  const plain = buildAgentJob(base);
  assert.equal(plain.spec!.template.spec!.containers[0].imagePullPolicy, undefined, 'unset: the cluster decides');
  assert.equal(plain.spec!.template.spec!.imagePullSecrets, undefined);
  const ephemeral = buildEphemeralAgent({ name: 'n', sessionId: 'abcd', image: 'i', targetContainer: 'app', port: 1, tokenSha256: 'f', idleTimeoutMs: 1, netAdmin: false, pullPolicy: 'Never' });
  assert.equal(ephemeral.imagePullPolicy, 'Never');
});

test('one warning naming both versions when the agent differs from the CLI, none when they match', () => {
  assert.equal(agentVersionWarning(`kubectl-mirrord-agent/${CLI_VERSION}`, CLI_VERSION, DEFAULT_AGENT_IMAGE), undefined);
  const warning = agentVersionWarning('kubectl-mirrord-agent/0.0.9', '0.1.0', 'ghcr.io/kubectl-mirrord/agent:0.0.9')!;
  assert.match(warning, /version 0\.0\.9 but this CLI is 0\.1\.0/);
  assert.match(warning, /--agent-image ghcr\.io\/kubectl-mirrord\/agent:/);
  assert.match(agentVersionWarning('some-agent', '0.1.0', 'x')!, /version unknown/);
});
