/** `kubectl mirrord ls` end to end on the sandbox: the demo deployments and pods, as a table and as JSON. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/harness.ts';
import type { Sandbox } from '../sandbox/harness.ts';
import { REPO, kubectl, kubectlJson, runCli } from './cli-process.ts';

let sandbox: Sandbox;

before(async () => {
  sandbox = await startSandbox();
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', join(REPO, 'test/sandbox/demo.yaml')]);
  await kubectl(sandbox.kubeconfigPath, ['wait', '--for=condition=Available', 'deployment/ip-info', 'deployment/ip-visit-counter', '--timeout=60s']);
});

after(async () => {
  await sandbox?.stop();
});

test('ls shows the demo deployments and pods in the form --target accepts', async () => {
  const pods = (await kubectlJson(sandbox.kubeconfigPath, ['get', 'pods', '-l', 'app=ip-info'])).items.filter((p: any) => p.status.phase === 'Running');
  const table = await runCli(['ls'], sandbox.kubeconfigPath);
  assert.equal(table.code, 0, table.output);
  assert.match(table.output, /NAMESPACE\s+│\s+TARGET\s+│\s+READY\/STATUS\s+│\s+CONTAINERS/);
  assert.match(table.output, /default\s+│\s+deployment\/ip-visit-counter\s+│\s+1\/1 ready\s+│\s+ip-visit-counter/);
  assert.match(table.output, /deployment\/ip-info\s/);
  assert.match(table.output, new RegExp(`pod/${pods[0].metadata.name}\\s+│\\s+1/1 Running`));
  assert.doesNotMatch(table.output, /mirrord-agent-/, 'agent pods are not targets');

  const json = await runCli(['ls', '-A', '--json'], sandbox.kubeconfigPath);
  assert.equal(json.code, 0, json.output);
  const rows = JSON.parse(json.output) as Array<{ namespace: string; target: string; status: string; containers: string[] }>;
  const counter = rows.find((r) => r.target === 'deployment/ip-visit-counter');
  assert.deepEqual(counter, { namespace: 'default', target: 'deployment/ip-visit-counter', status: '1/1 ready', containers: ['ip-visit-counter'] });
  assert.ok(rows.some((r) => r.target === `pod/${pods[0].metadata.name}`));
});

test('ls in an unknown namespace fails with exit code 4', async () => {
  const result = await runCli(['ls', '-n', 'no-such-namespace'], sandbox.kubeconfigPath);
  assert.equal(result.code, 4);
  assert.match(result.output, /namespace "no-such-namespace" not found/);
});
