/**
 * copy_target end to end on the sandbox: the real CLI through kubectl, a copy of
 * deployment/ip-visit-counter as a Job's pod, -R --steal on the copy, real curl.
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
const POD_PORT = 8080;

before(async () => {
  sandbox = await startSandbox();
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', join(REPO, 'test/sandbox/demo.yaml')]);
  await kubectl(sandbox.kubeconfigPath, ['wait', '--for=condition=Available', 'deployment/ip-visit-counter', '--timeout=60s']);
});

after(async () => {
  await sandbox?.stop();
});

async function userApp(): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => res.end(`local ${req.url}`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

async function copies(): Promise<any[]> {
  return (await kubectlJson(sandbox.kubeconfigPath, ['get', 'pods', '-l', 'app.kubernetes.io/component=copy'])).items;
}

test('--copy-target -R --steal: the copy has no probes, the Service routes to both pods, steal works on the copy, Ctrl-C removes it', async () => {
  const app = await userApp();
  const original = (await kubectlJson(sandbox.kubeconfigPath, ['get', 'pods', '-l', 'app=ip-visit-counter'])).items.find((p: any) => p.status.phase === 'Running');
  const cli = startCli(['port-forward', '-t', 'deployment/ip-visit-counter', '--copy-target', '-R', `${POD_PORT}:${app.port}`, '--steal', '--agent-idle-timeout', '6s'], sandbox.kubeconfigPath);
  try {
    await cli.waitFor(/Ctrl-C to stop/, 90_000);
    const [copy] = await copies();
    assert.ok(copy, `a copy pod exists:\n${cli.output()}`);
    assert.match(cli.output(), new RegExp(`pod/${copy.metadata.name}:${POD_PORT}\\s+→ 127\\.0\\.0\\.1:${app.port} \\(steal\\)`), 'the session targets the copy');
    assert.equal(copy.metadata.ownerReferences[0].kind, 'Job', 'the copy is a Job\'s pod');
    assert.equal(copy.metadata.labels.app, 'ip-visit-counter', 'the copy keeps the target\'s labels');
    assert.equal(copy.metadata.labels['pod-template-hash'], undefined);
    const main = copy.spec.containers.find((c: any) => c.name === 'ip-visit-counter');
    assert.equal(main.readinessProbe, undefined, 'no readiness probe');
    assert.equal(main.livenessProbe, undefined);
    assert.notEqual(original.spec.containers[0].readinessProbe, undefined, 'the original has its probe');
    const endpoints = await kubectlJson(sandbox.kubeconfigPath, ['get', 'endpoints', 'ip-visit-counter']);
    const ips = endpoints.subsets.flatMap((s: any) => (s.addresses ?? []).map((a: any) => a.ip)).sort();
    assert.deepEqual(ips, [original.status.podIP, copy.status.podIP].sort(), 'the Service routes to the original and the copy');
    const toCopy = await curl([`http://${copy.status.podIP}:${POD_PORT}/count`]);
    assert.equal(toCopy.stdout, 'local /count', `the copy's traffic is stolen: ${toCopy.stderr}`);
    const toOriginal = await curl([`http://${original.status.podIP}:${POD_PORT}/count`]);
    assert.match(toOriginal.stdout, /"count":\s*\d+/, 'the original pod still answers itself');
    const jobName = copy.metadata.labels['batch.kubernetes.io/job-name'];
    const lease = async () => (await kubectlJson(sandbox.kubeconfigPath, ['get', 'job', jobName])).spec.activeDeadlineSeconds as number;
    const first = await lease();
    assert.ok(first < 30, `once the copy runs, the lease is cut from startup + idle (66 s) to about the idle timeout: ${first}`);
    await new Promise((resolve) => setTimeout(resolve, 4000));
    assert.ok((await lease()) > first, 'the CLI pushes the lease forward');
    assert.equal(await cli.interrupt(), 130);
    await waitUntil(async () => (await copies()).length === 0, 'the copy is removed after Ctrl-C');
    assert.equal((await kubectlJson(sandbox.kubeconfigPath, ['get', 'jobs', '-l', 'app.kubernetes.io/component=copy'])).items.length, 0, 'and its Job');
  } finally {
    cli.child.kill('SIGKILL');
    await app.close();
  }
});

test('kill -9 of the CLI: the copy is removed once its lease (the idle timeout) runs out', async () => {
  const app = await userApp();
  const cli = startCli(['port-forward', '-t', 'deployment/ip-visit-counter', '--copy-target', '-R', `${POD_PORT}:${app.port}`, '--agent-idle-timeout', '4s'], sandbox.kubeconfigPath);
  try {
    await cli.waitFor(/Ctrl-C to stop/, 90_000);
    assert.equal((await copies()).length, 1);
    cli.child.kill('SIGKILL');
    await cli.exited;
    const killedAt = Date.now();
    // Bound: the idle timeout (4 s) after the last renewal, plus the Job controller's pass; a wide margin.
    await waitUntil(async () => (await copies()).every((p) => p.metadata.deletionTimestamp), 'the copy is being removed', 40_000).catch(async (err) => {
      throw new Error(`${err.message}: ${JSON.stringify((await copies()).map((p) => [p.metadata.name, p.status.phase]))} ${await kubectl(sandbox.kubeconfigPath, ['get', 'jobs', '-o', 'wide'])}\n${cli.output()}`);
    });
    assert.ok(Date.now() - killedAt > 1000, 'not removed at once: the lease held it');
  } finally {
    await app.close();
  }
});

test('a copy whose pod spec names a missing ConfigMap fails with CreateContainerConfigError, not a timeout', async () => {
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', join(REPO, 'test/e2e/fixtures/broken-deployment.yaml')]);
  const started = Date.now();
  const { code, output } = await runCli(['port-forward', '-t', 'deployment/broken', '--copy-target', '-R', '8080', '--agent-startup-timeout', '60s'], sandbox.kubeconfigPath);
  assert.equal(code, 4, output);
  assert.match(output, /error: the copy of deployment\/broken \(pod "mirrord-copy-\S+"\): container "http-echo" cannot start: CreateContainerConfigError: configmap "does-not-exist" not found/);
  assert.match(output, /hint: .*ConfigMap, Secret or key/);
  assert.ok(Date.now() - started < 45_000, 'reported well before the startup timeout');
  const jobName = (output.match(/Job (mirrord-copy-[0-9a-f]+)/) as RegExpMatchArray)[1];
  await waitUntil(async () => !(await kubectl(sandbox.kubeconfigPath, ['get', 'jobs'])).includes(jobName), 'the failed copy\'s Job is deleted');
});

test('--scale-down of a pod is refused before anything is created', async () => {
  const { code, output } = await runCli(['port-forward', '-t', 'pod/anything', '--scale-down', '-R', '8080'], sandbox.kubeconfigPath);
  assert.equal(code, 2, output);
  assert.match(output, /error: --scale-down cannot scale pod\/anything: a pod has no replica count/);
});
