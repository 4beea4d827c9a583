/**
 * scale_down end to end on the sandbox: the workload goes to 0 and the copy is its Service's only
 * endpoint; a second session is refused, naming the first; Ctrl-C restores the count; after
 * `kill -9` of the CLI the in-cluster scale keeper restores it, with only the permissions its
 * Role grants (the sandbox mounts ServiceAccount tokens and enforces RBAC for them).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { join } from 'node:path';
import { setRbacDenials, startSandbox } from '../sandbox/harness.ts';
import type { Sandbox } from '../sandbox/harness.ts';
import { REPO, curl, kubectl, kubectlJson, runCli, startCli, waitUntil } from './cli-process.ts';

let sandbox: Sandbox;
let serviceUrl: string;
const POD_PORT = 8080;
const DEPLOYMENT = 'deployment/ip-visit-counter';
const ANNOTATION = 'kubectl-mirrord/scaled-down-by';

before(async () => {
  sandbox = await startSandbox();
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', join(REPO, 'test/sandbox/demo.yaml')]);
  await kubectl(sandbox.kubeconfigPath, ['scale', DEPLOYMENT, '--replicas=2']);
  await kubectl(sandbox.kubeconfigPath, ['rollout', 'status', DEPLOYMENT, '--timeout=60s']);
  serviceUrl = `http://${(await kubectlJson(sandbox.kubeconfigPath, ['get', 'service', 'ip-visit-counter'])).spec.clusterIP}`;
});

after(async () => {
  setRbacDenials([]);
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

async function deployment(): Promise<any> {
  return await kubectlJson(sandbox.kubeconfigPath, ['get', DEPLOYMENT]);
}

async function endpointIps(): Promise<string[]> {
  const ep = await kubectlJson(sandbox.kubeconfigPath, ['get', 'endpoints', 'ip-visit-counter']);
  return (ep.subsets ?? []).flatMap((s: any) => (s.addresses ?? []).map((a: any) => a.ip));
}

test('scale_down: 0 replicas and the copy the only endpoint; a second session is refused naming the first; a scale-back is reported; Ctrl-C restores 2', async () => {
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', join(REPO, 'test/e2e/fixtures/hpa.yaml')]);
  const app = await userApp();
  const cli = startCli(['port-forward', '-t', DEPLOYMENT, '--scale-down', '-R', `${POD_PORT}:${app.port}`, '--steal', '--agent-idle-timeout', '5s'], sandbox.kubeconfigPath);
  try {
    await cli.waitFor(/Ctrl-C to stop/, 90_000);
    assert.match(cli.output(), /scaled deployment\/ip-visit-counter down from 2 to 0/);
    assert.match(cli.output(), /note: HorizontalPodAutoscaler ip-visit-counter \(min 1, max 4\) also scales deployment\/ip-visit-counter; an HPA stops adjusting a workload at 0 replicas/);
    const d = await deployment();
    assert.equal(d.spec.replicas, 0);
    const record = JSON.parse(d.metadata.annotations[ANNOTATION]);
    assert.equal(record.replicas, 2);
    const [copy] = (await kubectlJson(sandbox.kubeconfigPath, ['get', 'pods', '-l', 'app.kubernetes.io/component=copy'])).items;
    assert.equal(record.session, copy.metadata.labels['kubectl-mirrord/session']);
    await waitUntil(async () => JSON.stringify(await endpointIps()) === JSON.stringify([copy.status.podIP]), 'the copy is the only endpoint', 30_000);
    const stolen = await curl([`${serviceUrl}/count`]);
    assert.equal(stolen.stdout, 'local /count', stolen.stderr);

    const second = await runCli(['port-forward', '-t', DEPLOYMENT, '--scale-down', '-R', '8080'], sandbox.kubeconfigPath);
    assert.equal(second.code, 4, second.output);
    assert.match(second.output, new RegExp(`error: deployment/ip-visit-counter in namespace "default" is already scaled down by session ${record.session} of \\S+ since \\S+ \\(copy Job mirrord-copy-${record.session}\\)`));
    assert.equal((await kubectlJson(sandbox.kubeconfigPath, ['get', 'pods', '-l', 'app.kubernetes.io/component=copy'])).items.length, 1, 'the refused session made no copy');

    await kubectl(sandbox.kubeconfigPath, ['scale', DEPLOYMENT, '--replicas=1']);
    await cli.waitFor(/warning: deployment\/ip-visit-counter was scaled back up to 1 by something else/, 15_000);

    assert.equal(await cli.interrupt(), 130);
    assert.match(cli.output(), /deployment\/ip-visit-counter scaled back to 2/);
    const restored = await deployment();
    assert.equal(restored.spec.replicas, 2);
    assert.equal(restored.metadata.annotations?.[ANNOTATION], undefined);
    await waitUntil(async () => (await kubectlJson(sandbox.kubeconfigPath, ['get', 'jobs', '-l', `kubectl-mirrord/session=${record.session}`])).items.length === 0, 'the copy and keeper Jobs are deleted');
    await waitUntil(async () => (await kubectlJson(sandbox.kubeconfigPath, ['get', 'serviceaccounts,roles,rolebindings', '-l', `kubectl-mirrord/session=${record.session}`])).items.length === 0, "the keeper's ServiceAccount, Role and RoleBinding go with its Job");
  } finally {
    await kubectl(sandbox.kubeconfigPath, ['delete', 'hpa', 'ip-visit-counter', '--ignore-not-found']);
    cli.child.kill('SIGKILL');
    await app.close();
  }
});

test('kill -9 of the CLI: the scale keeper restores the count with its own token and Role', async () => {
  await kubectl(sandbox.kubeconfigPath, ['rollout', 'status', DEPLOYMENT, '--timeout=60s']);
  const app = await userApp();
  const cli = startCli(['port-forward', '-t', DEPLOYMENT, '--scale-down', '-R', `${POD_PORT}:${app.port}`, '--agent-idle-timeout', '4s'], sandbox.kubeconfigPath);
  try {
    await cli.waitFor(/Ctrl-C to stop/, 90_000);
    const record = JSON.parse((await deployment()).metadata.annotations[ANNOTATION]);
    const role = await kubectlJson(sandbox.kubeconfigPath, ['get', 'role', `mirrord-keeper-${record.session}`]);
    assert.deepEqual(role.rules.map((r: any) => r.resourceNames), [[`mirrord-copy-${record.session}`], ['ip-visit-counter']], 'every rule is limited to one object');
    const [keeper] = (await kubectlJson(sandbox.kubeconfigPath, ['get', 'pods', '-l', `kubectl-mirrord/session=${record.session},app.kubernetes.io/component=scale-keeper`])).items;
    assert.equal(keeper.spec.serviceAccountName, `mirrord-keeper-${record.session}`);
    cli.child.kill('SIGKILL');
    await cli.exited;
    const killedAt = Date.now();
    // Documented bound: the idle timeout (4 s) + the keeper's poll (2 s) + the Job controller's pass (1 s); asserted with a wide margin.
    await waitUntil(async () => (await deployment()).spec.replicas === 2, 'the keeper restores 2 replicas', 45_000);
    const elapsed = Date.now() - killedAt;
    assert.equal((await deployment()).metadata.annotations?.[ANNOTATION], undefined, 'and removes the record');
    const logs = await kubectl(sandbox.kubeconfigPath, ['logs', keeper.metadata.name]);
    assert.match(logs, /"message":"restored"/, `the keeper did it:\n${logs}`);
    process.stderr.write(`# restored by the keeper ${elapsed} ms after kill -9\n`);
  } finally {
    cli.child.kill('SIGKILL');
    await app.close();
  }
});

test("scale_down of a Deployment's ReplicaSet scales the Deployment (it would scale the ReplicaSet back)", async () => {
  await kubectl(sandbox.kubeconfigPath, ['rollout', 'status', DEPLOYMENT, '--timeout=60s']);
  const rs = (await kubectlJson(sandbox.kubeconfigPath, ['get', 'rs', '-l', 'app=ip-visit-counter'])).items.find((r: any) => r.spec.replicas > 0);
  const cli = startCli(['port-forward', '-t', `replicaset/${rs.metadata.name}`, '--scale-down', '-R', '8080:9', '--agent-idle-timeout', '4s'], sandbox.kubeconfigPath);
  try {
    await cli.waitFor(/Ctrl-C to stop/, 90_000);
    assert.match(cli.output(), /scaled deployment\/ip-visit-counter down from 2 to 0/);
    assert.equal((await deployment()).spec.replicas, 0);
    assert.equal(await cli.interrupt(), 130);
    assert.equal((await deployment()).spec.replicas, 2);
  } finally {
    cli.child.kill('SIGKILL');
  }
});

test('Ctrl-C while the scale keeper starts leaves nothing behind: count, record, copy and keeper', async () => {
  await kubectl(sandbox.kubeconfigPath, ['rollout', 'status', DEPLOYMENT, '--timeout=60s']);
  const cli = startCli(['port-forward', '-t', DEPLOYMENT, '--scale-down', '-R', '8080:9', '--agent-idle-timeout', '4s'], sandbox.kubeconfigPath);
  try {
    await cli.waitFor(/creating the scale keeper/, 90_000);
    assert.equal(await cli.interrupt(), 130);
    const session = (cli.output().match(/mirrord-copy-([0-9a-f]{8})/) as RegExpMatchArray)[1];
    await waitUntil(async () => (await kubectlJson(sandbox.kubeconfigPath, ['get', 'pods', '-l', `kubectl-mirrord/session=${session}`])).items.length === 0, 'the copy and keeper pods are gone', 30_000);
    const d = await deployment();
    assert.equal(d.spec.replicas, 2);
    assert.equal(d.metadata.annotations?.[ANNOTATION], undefined);
  } finally {
    cli.child.kill('SIGKILL');
  }
});

test('scale_down without the permission to create Roles is refused first, naming what is missing', async () => {
  setRbacDenials([{ user: 'restricted', verb: 'create', resource: 'roles' }]);
  try {
    const { code, output } = await runCli(['port-forward', '-t', DEPLOYMENT, '--scale-down', '-R', '8080', '--context', 'sandbox-restricted'], sandbox.kubeconfigPath);
    assert.equal(code, 4, output);
    assert.match(output, /error: you may not create roles\.rbac\.authorization\.k8s\.io \(for the in-cluster restore of scale_down\) in namespace "default"/);
    assert.equal((await deployment()).metadata.annotations?.[ANNOTATION], undefined);
    assert.equal((await kubectlJson(sandbox.kubeconfigPath, ['get', 'jobs', '-l', 'app.kubernetes.io/component=copy'])).items.filter((j: any) => !j.status?.conditions).length, 0, 'no copy was made');
  } finally {
    setRbacDenials([]);
  }
});
