/**
 * rollout/NAME end to end on the sandbox: kubectl applies a Rollout CRD and a Rollout (the sandbox
 * serves CRDs, and a small Rollout controller keeps its ReplicaSet), kubectl scales it through the
 * CRD's /scale subresource, then -R --steal on rollout/NAME, and --scale-down of it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/harness.ts';
import type { Sandbox } from '../sandbox/harness.ts';
import { REPO, curl, kubectl, kubectlJson, runCli, startCli, waitUntil } from './cli-process.ts';

let sandbox: Sandbox;

before(async () => {
  sandbox = await startSandbox();
});

after(async () => {
  await sandbox?.stop();
});

async function userApp(): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => res.end(`local ${req.url}`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

async function runningPods(selector: string): Promise<any[]> {
  return (await kubectlJson(sandbox.kubeconfigPath, ['get', 'pods', '-l', selector])).items.filter((p: any) => p.status.phase === 'Running' && !p.metadata.deletionTimestamp);
}

test('kubectl applies the CRD and a Rollout; get, scale (the /scale subresource) and the Rollout controller work', async () => {
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', join(REPO, 'test/e2e/fixtures/rollout-crd.yaml')]);
  await kubectl(sandbox.kubeconfigPath, ['wait', '--for=condition=Established', 'crd/rollouts.argoproj.io', '--timeout=20s']);
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', join(REPO, 'test/e2e/fixtures/rollout.yaml')]);
  await waitUntil(async () => (await runningPods('app=echo-rollout')).length === 2, 'the Rollout runs 2 pods', 40_000);
  const ro = await kubectlJson(sandbox.kubeconfigPath, ['get', 'ro', 'echo-rollout']);
  assert.ok(ro.status.stableRS, 'the controller records the stable ReplicaSet');
  const rs = await kubectlJson(sandbox.kubeconfigPath, ['get', 'rs', `echo-rollout-${ro.status.stableRS}`]);
  assert.equal(rs.metadata.ownerReferences[0].kind, 'Rollout');
  await kubectl(sandbox.kubeconfigPath, ['scale', 'rollout/echo-rollout', '--replicas=1']);
  await waitUntil(async () => (await runningPods('app=echo-rollout')).length === 1, 'scaled to 1 through /scale', 30_000);
  const { output } = await runCli(['ls'], sandbox.kubeconfigPath);
  assert.match(output, /rollout\/echo-rollout/);
});

test('-R --steal on rollout/NAME steals from its stable pod; --scale-down scales the Rollout to 0 and back', async () => {
  const app = await userApp();
  const [pod] = await runningPods('app=echo-rollout');
  const cli = startCli(['port-forward', '-t', 'rollout/echo-rollout', '-R', `8080:${app.port}`, '--steal', '--agent-idle-timeout', '3s'], sandbox.kubeconfigPath);
  try {
    await cli.waitFor(/Ctrl-C to stop/, 60_000);
    assert.match(cli.output(), new RegExp(`pod/${pod.metadata.name}:8080`));
    assert.equal((await curl([`http://${pod.status.podIP}:8080/a`])).stdout, 'local /a');
    assert.equal(await cli.interrupt(), 130);
  } finally {
    cli.child.kill('SIGKILL');
  }
  const down = startCli(['port-forward', '-t', 'rollout/echo-rollout', '--scale-down', '-R', `8080:${app.port}`, '--steal', '--agent-idle-timeout', '3s'], sandbox.kubeconfigPath);
  try {
    await down.waitFor(/Ctrl-C to stop/, 90_000);
    assert.match(down.output(), /scaled rollout\/echo-rollout down from 1 to 0/);
    assert.equal((await kubectlJson(sandbox.kubeconfigPath, ['get', 'ro', 'echo-rollout'])).spec.replicas, 0);
    await waitUntil(async () => (await runningPods('app=echo-rollout')).every((p) => p.metadata.labels['app.kubernetes.io/component'] === 'copy'), 'only the copy is left', 30_000);
    const [copy] = await runningPods('app=echo-rollout');
    assert.equal(copy.spec.containers[0].readinessProbe, undefined);
    assert.equal((await curl([`http://${copy.status.podIP}:8080/b`])).stdout, 'local /b');
    assert.equal(await down.interrupt(), 130);
    assert.equal((await kubectlJson(sandbox.kubeconfigPath, ['get', 'ro', 'echo-rollout'])).spec.replicas, 1);
  } finally {
    down.child.kill('SIGKILL');
    await app.close();
  }
});
