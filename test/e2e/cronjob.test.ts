/**
 * cronjob/NAME targets end to end on the sandbox (which runs CronJobs on their schedule): -R on
 * the newest Job's pod, --copy-target from the jobTemplate of a CronJob with no pod, and the
 * error that points to --copy-target. Also `kubectl mirrord ls` lists them.
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
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', join(REPO, 'test/e2e/fixtures/cronjobs.yaml')]);
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

test('the sandbox runs the CronJob on its schedule; -R --steal targets its Job\'s running pod', async () => {
  await waitUntil(async () => (await runningPods('app=echo-cron')).length > 0, 'the CronJob has run a Job', 30_000);
  const [pod] = await runningPods('app=echo-cron');
  assert.equal(pod.metadata.ownerReferences[0].kind, 'Job');
  const job = await kubectlJson(sandbox.kubeconfigPath, ['get', 'job', pod.metadata.ownerReferences[0].name]);
  assert.equal(job.metadata.ownerReferences[0].kind, 'CronJob');
  const app = await userApp();
  const cli = startCli(['port-forward', '-t', 'cronjob/echo-cron', '-R', `8080:${app.port}`, '--steal', '--agent-idle-timeout', '3s'], sandbox.kubeconfigPath);
  try {
    await cli.waitFor(/Ctrl-C to stop/, 60_000);
    assert.match(cli.output(), new RegExp(`pod/${pod.metadata.name}:8080`));
    const stolen = await curl([`http://${pod.status.podIP}:8080/x`]);
    assert.equal(stolen.stdout, 'local /x', stolen.stderr);
    assert.equal(await cli.interrupt(), 130);
  } finally {
    cli.child.kill('SIGKILL');
    await app.close();
  }
});

test('a CronJob with no running pod: an error that points to --copy-target; with it, a copy of the jobTemplate without probes', async () => {
  const refused = await runCli(['port-forward', '-t', 'cronjob/echo-suspended', '-R', '8080'], sandbox.kubeconfigPath);
  assert.equal(refused.code, 4, refused.output);
  assert.match(refused.output, /error: cronjob\/echo-suspended in namespace "default" has no running Job pod/);
  assert.match(refused.output, /hint: add --copy-target/);
  const app = await userApp();
  const cli = startCli(['port-forward', '-t', 'cronjob/echo-suspended', '--copy-target', '-R', `8080:${app.port}`, '--steal', '--agent-idle-timeout', '3s'], sandbox.kubeconfigPath);
  try {
    await cli.waitFor(/Ctrl-C to stop/, 60_000);
    const [copy] = await runningPods('app=echo-suspended');
    assert.equal(copy.metadata.labels['app.kubernetes.io/component'], 'copy');
    assert.equal(copy.metadata.annotations['kubectl-mirrord/copy-of'], 'cronjob/echo-suspended');
    assert.equal(copy.spec.containers[0].readinessProbe, undefined);
    const stolen = await curl([`http://${copy.status.podIP}:8080/y`]);
    assert.equal(stolen.stdout, 'local /y', stolen.stderr);
    assert.equal(await cli.interrupt(), 130);
    await waitUntil(async () => (await runningPods('app=echo-suspended')).length === 0, 'the copy is removed');
  } finally {
    cli.child.kill('SIGKILL');
    await app.close();
  }
});

test('ls lists cronjobs', async () => {
  const { code, output } = await runCli(['ls', '--json'], sandbox.kubeconfigPath);
  assert.equal(code, 0, output);
  const targets = JSON.parse(output.slice(output.indexOf('['))).map((r: any) => r.target);
  assert.ok(targets.includes('cronjob/echo-cron') && targets.includes('cronjob/echo-suspended'), targets.join(' '));
});
