/**
 * The agent image's pull settings reach the cluster: flags and the config file's
 * agent.image_pull_policy / agent.image_pull_secrets end up in the agent Job the API server
 * stores, and a bad policy is refused before anything is created.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox, type Sandbox } from '../sandbox/harness.ts';
import { kubectlJson, runCli, startCli } from './cli-process.ts';

let sandbox: Sandbox;

before(async () => {
  sandbox = await startSandbox();
});

after(async () => {
  await sandbox?.stop();
});

async function agentJobPod(): Promise<any> {
  const jobs = (await kubectlJson(sandbox.kubeconfigPath, ['get', 'jobs', '-l', 'app.kubernetes.io/name=kubectl-mirrord-agent'])).items;
  assert.equal(jobs.length, 1);
  return jobs[0].spec.template.spec;
}

test('--agent-image-pull-policy and --agent-image-pull-secret are in the agent Job', async () => {
  const cli = startCli(['socks', '0', '--agent-image-pull-policy', 'ifnotpresent', '--agent-image-pull-secret', 'regcred', '--agent-image-pull-secret', 'mirror-creds'], sandbox.kubeconfigPath);
  try {
    await cli.waitFor(/Ctrl-C to stop/, 60_000);
    const pod = await agentJobPod();
    assert.equal(pod.containers[0].imagePullPolicy, 'IfNotPresent');
    assert.deepEqual(pod.imagePullSecrets, [{ name: 'regcred' }, { name: 'mirror-creds' }]);
    assert.doesNotMatch(cli.output(), /warning: the agent/, 'the agent is this CLI\'s version: no version warning');
    assert.equal(await cli.interrupt(), 130);
  } finally {
    cli.child.kill('SIGKILL');
  }
});

test('agent.image_pull_policy and agent.image_pull_secrets from a config file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mirrord-config-'));
  const file = join(dir, 'mirrord.yaml');
  writeFileSync(file, 'agent:\n  image_pull_policy: Always\n  image_pull_secrets:\n    - name: regcred\n');
  const cli = startCli(['socks', '0', '-f', file], sandbox.kubeconfigPath);
  try {
    await cli.waitFor(/Ctrl-C to stop/, 60_000);
    const pod = await agentJobPod();
    assert.equal(pod.containers[0].imagePullPolicy, 'Always');
    assert.deepEqual(pod.imagePullSecrets, [{ name: 'regcred' }]);
    assert.equal(await cli.interrupt(), 130);
  } finally {
    cli.child.kill('SIGKILL');
  }
});

test('a bad pull policy: exit 2 naming the flag, no Job created', async () => {
  const { code, output } = await runCli(['socks', '0', '--agent-image-pull-policy', 'sometimes'], sandbox.kubeconfigPath);
  assert.equal(code, 2);
  assert.match(output, /error: --agent-image-pull-policy is 'sometimes', which is not an image pull policy/);
  assert.match(output, /hint: use one of Always, IfNotPresent, Never/);
  const jobs = (await kubectlJson(sandbox.kubeconfigPath, ['get', 'jobs', '-l', 'app.kubernetes.io/name=kubectl-mirrord-agent'])).items;
  assert.equal(jobs.length, 0);
});
