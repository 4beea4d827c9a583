/**
 * rollout/NAME end to end on the sandbox: kubectl applies Argo Rollouts' real Rollout CRD
 * (server-side: its last-applied annotation would be over the 256 KiB limit, which the sandbox
 * enforces as kube-apiserver does) and a Rollout (the sandbox serves CRDs, and a small Rollout
 * controller keeps its ReplicaSet); kubectl gets it with the CRD's printer columns, watches it,
 * scales it through the /scale paths the CRD declares and patches it; then -R --steal on
 * rollout/NAME, and --scale-down of it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/harness.ts';
import type { Sandbox } from '../sandbox/harness.ts';
import { REPO, curl, kubectl, kubectlJson, runCli, startCli, startCliCommand, waitUntil } from './cli-process.ts';

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

const CRD = join(REPO, 'test/e2e/fixtures/argo-rollouts/rollout-crd.yaml');

/** Plain kubectl, to its exit, with its output (stdout and stderr). */
async function kubectlRun(args: string[]): Promise<{ code: number | string; output: string }> {
  const p = startCliCommand(['kubectl'], args, sandbox.kubeconfigPath);
  return { code: await p.exited, output: p.output() };
}

test("Argo Rollouts' real CRD: plain kubectl apply is refused (annotations over 256 KiB), --server-side applies it", async () => {
  const kc = sandbox.kubeconfigPath;
  const plain = await kubectlRun(['apply', '-f', CRD]);
  assert.notEqual(plain.code, 0, plain.output);
  assert.match(plain.output, /metadata\.annotations: Too long: must have at most 262144 bytes/);
  assert.equal((await kubectlRun(['get', 'crd', 'rollouts.argoproj.io'])).code, 1, 'nothing was created');
  await kubectl(kc, ['apply', '--server-side', '-f', CRD]);
  await kubectl(kc, ['wait', '--for=condition=Established', 'crd/rollouts.argoproj.io', '--timeout=20s']);
  const crd = await kubectlJson(kc, ['get', 'crd', 'rollouts.argoproj.io']);
  assert.deepEqual(crd.spec.versions[0].subresources.scale, { labelSelectorPath: '.status.selector', specReplicasPath: '.spec.replicas', statusReplicasPath: '.status.HPAReplicas' });
  assert.ok(crd.spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.strategy, 'the full schema is stored');
});

test('a Rollout: get (with the CRD\'s printer columns), watch, scale through the /scale paths the CRD declares, and the Rollout controller', async () => {
  const kc = sandbox.kubeconfigPath;
  await kubectl(kc, ['apply', '-f', join(REPO, 'test/e2e/fixtures/rollout.yaml')]);
  await waitUntil(async () => (await runningPods('app=echo-rollout')).length === 2, 'the Rollout runs 2 pods', 40_000);
  const ro = await kubectlJson(kc, ['get', 'ro', 'echo-rollout']);
  assert.ok(ro.status.stableRS, 'the controller records the stable ReplicaSet');
  const rs = await kubectlJson(kc, ['get', 'rs', `echo-rollout-${ro.status.stableRS}`]);
  assert.equal(rs.metadata.ownerReferences[0].kind, 'Rollout');
  await waitUntil(async () => (await kubectlJson(kc, ['get', 'ro', 'echo-rollout'])).status.availableReplicas === 2, 'both replicas available', 30_000);

  const table = (await kubectl(kc, ['get', 'rollouts'])).trim().split('\n').map((line) => line.trim().split(/\s+/));
  assert.deepEqual(table[0], ['NAME', 'DESIRED', 'CURRENT', 'UP-TO-DATE', 'AVAILABLE', 'AGE'], 'the columns are the CRD\'s additionalPrinterColumns');
  assert.deepEqual(table[1].slice(0, 5), ['echo-rollout', '2', '2', '2', '2'], `each cell is its JSON path's value:\n${table.join('\n')}`);
  assert.match(table[1][5], /^\d+s$/, 'a date column prints as an age');
  const custom = await kubectl(kc, ['get', 'ro', 'echo-rollout', '-o', 'custom-columns=NAME:.metadata.name,HPA:.status.HPAReplicas,SEL:.status.selector', '--no-headers']);
  assert.deepEqual(custom.trim().split(/\s+/), ['echo-rollout', '2', 'app=echo-rollout']);

  const scale = JSON.parse(await kubectl(kc, ['get', '--raw', '/apis/argoproj.io/v1alpha1/namespaces/default/rollouts/echo-rollout/scale']));
  assert.deepEqual([scale.kind, scale.spec.replicas, scale.status.replicas, scale.status.selector], ['Scale', 2, 2, 'app=echo-rollout'], 'status from .status.HPAReplicas and .status.selector');
  const watch = startCliCommand(['kubectl'], ['get', 'ro', 'echo-rollout', '--watch', '-o', 'jsonpath={.spec.replicas}{"\\n"}'], kc);
  try {
    await watch.waitFor(/^2$/m, 20_000);
    await kubectl(kc, ['scale', 'rollout/echo-rollout', '--replicas=1']);
    await watch.waitFor(/^1$/m, 20_000);
  } finally {
    watch.child.kill('SIGTERM');
  }
  await waitUntil(async () => (await runningPods('app=echo-rollout')).length === 1, 'scaled to 1 through /scale', 30_000);
  await kubectl(kc, ['patch', 'ro', 'echo-rollout', '--type=merge', '-p', '{"metadata":{"labels":{"patched":"yes"}}}']);
  assert.equal((await kubectlJson(kc, ['get', 'ro', 'echo-rollout'])).metadata.labels.patched, 'yes');
  const { output } = await runCli(['ls'], kc);
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
