/**
 * scale_down end to end on the sandbox: the workload goes to 0 and the copy is its Service's only
 * endpoint; a second session is refused, naming the first; Ctrl-C restores the count; after
 * `kill -9` of the CLI the in-cluster scale keeper restores it, with only the permissions its
 * Role grants (the sandbox mounts ServiceAccount tokens and enforces RBAC for them). `status`
 * shows the hold and who holds it, and `kill` gives the workload back, from a live session and
 * from a dead one. A StatefulSet is scaled down as a Deployment is, and its copy drops the
 * stable identity (hostname, subdomain).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { setRbacDenials, startSandbox } from '../sandbox/harness.ts';
import type { Sandbox } from '../sandbox/harness.ts';
import { REPO, curl, kubectl, kubectlJson, parseStatusJson, runCli, startCli, waitUntil } from './cli-process.ts';

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

/** `whoami/k8s-user@hostname` of the sandbox's current context: status's USER, and the record's user. */
async function expectedUser(): Promise<string> {
  const config = await kubectlJson(sandbox.kubeconfigPath, ['config', 'view']);
  const context = config.contexts.find((c: any) => c.name === config['current-context']);
  return `${userInfo().username}/${context.context.user}@${hostname()}`;
}

async function status(args: string[] = []): Promise<{ sessions: any[]; scaledDown: any[] }> {
  const { code, output } = await runCli(['status', '--json', ...args], sandbox.kubeconfigPath);
  assert.equal(code, 0, output);
  return parseStatusJson(output);
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

test('status shows the hold and who holds it; kill of the session stops its agent, restores the count and removes the record', async () => {
  const kc = sandbox.kubeconfigPath;
  await kubectl(kc, ['rollout', 'status', DEPLOYMENT, '--timeout=60s']);
  const app = await userApp();
  const cli = startCli(['port-forward', '-t', DEPLOYMENT, '--scale-down', '-R', `${POD_PORT}:${app.port}`, '--steal', '--agent-idle-timeout', '5s'], kc);
  try {
    await cli.waitFor(/Ctrl-C to stop/, 90_000);
    const record = JSON.parse((await deployment()).metadata.annotations[ANNOTATION]);
    const user = await expectedUser();
    assert.equal(record.user, user, 'the record names the user as status does');
    const { sessions, scaledDown } = await status();
    assert.equal(scaledDown.length, 1, JSON.stringify(scaledDown));
    const [hold] = scaledDown;
    assert.equal(hold.agentSessions.length, 1, JSON.stringify(hold));
    const agentSession = hold.agentSessions[0];
    assert.deepEqual(hold, {
      workload: DEPLOYMENT, namespace: 'default', session: record.session, user, replicas: 2, since: record.since,
      copyJob: `mirrord-copy-${record.session}`, keeperJob: `mirrord-keeper-${record.session}`, copy: 'running', keeper: 'running', agentSessions: [agentSession], alive: true,
    });
    const row = sessions.find((r) => r.session === agentSession);
    assert.ok(row, `the agent in the copy is a listed session: ${JSON.stringify(sessions)}`);
    assert.match(row.agent, new RegExp(`^pod/mirrord-copy-${record.session}-\\S+ \\(ephemeral container mirrord-agent-${agentSession}\\)$`));
    assert.ok(Math.abs(Date.parse(record.since) - Date.now()) < 10 * 60_000, `since is now: ${record.since}`);

    const table = await runCli(['status'], kc);
    assert.equal(table.code, 0, table.output);
    for (const text of ['SCALED DOWN', 'HELD BY', 'RESTORES TO', DEPLOYMENT, record.session, user, `alive (agent ${agentSession})`]) {
      assert.ok(table.output.includes(text), `the table shows ${text}:\n${table.output}`);
    }

    const killed = await runCli(['kill', agentSession], kc);
    assert.equal(killed.code, 0, killed.output);
    assert.match(killed.output, new RegExp(`ended session ${agentSession}: the agent in pod mirrord-copy-${record.session}-\\S+ .*stopped`));
    // The killed session's CLI restores too, on its way out: whichever comes first does it.
    assert.match(killed.output, new RegExp(`released deployment/ip-visit-counter held by session ${record.session}: deployment/ip-visit-counter (scaled back to 2|was already restored); Jobs mirrord-copy-${record.session} and mirrord-keeper-${record.session} deleted`));
    assert.doesNotMatch(killed.output, /warning|error/);
    assert.equal(await cli.exited, 7, cli.output());
    const restored = await deployment();
    assert.equal(restored.spec.replicas, 2);
    assert.equal(restored.metadata.annotations?.[ANNOTATION], undefined);
    await waitUntil(async () => (await kubectlJson(kc, ['get', 'jobs', '-l', `kubectl-mirrord/session=${record.session}`])).items.length === 0, 'the copy and keeper Jobs are deleted');
    assert.deepEqual((await status()).scaledDown, []);
  } finally {
    cli.child.kill('SIGKILL');
    await app.close();
  }
});

test('with the Job agent (--agent-mode job) in the copy: status links it to the hold, kill of the hold ends it and restores the count', async () => {
  const kc = sandbox.kubeconfigPath;
  await kubectl(kc, ['rollout', 'status', DEPLOYMENT, '--timeout=60s']);
  const app = await userApp();
  const cli = startCli(['port-forward', '-t', DEPLOYMENT, '--scale-down', '--agent-mode', 'job', '-R', `${POD_PORT}:${app.port}`, '--steal', '--agent-idle-timeout', '5s'], kc);
  try {
    await cli.waitFor(/Ctrl-C to stop/, 90_000);
    const record = JSON.parse((await deployment()).metadata.annotations[ANNOTATION]);
    const { sessions, scaledDown } = await status();
    const [hold] = scaledDown;
    assert.equal(hold?.session, record.session, JSON.stringify(scaledDown));
    assert.equal(hold.agentSessions.length, 1, JSON.stringify(hold));
    const row = sessions.find((r) => r.session === hold.agentSessions[0]);
    assert.match(row?.agent ?? '', /^job\/mirrord-agent-[0-9a-f]{8}$/, JSON.stringify(sessions));
    assert.equal(hold.alive, true);

    const killed = await runCli(['kill', record.session], kc);
    assert.equal(killed.code, 0, killed.output);
    assert.match(killed.output, new RegExp(`ended session ${row.session}: Job mirrord-agent-${row.session} deleted`));
    assert.match(killed.output, new RegExp(`released deployment/ip-visit-counter held by session ${record.session}: deployment/ip-visit-counter (scaled back to 2|was already restored)`));
    assert.doesNotMatch(killed.output, /warning|error/);
    assert.equal(await cli.exited, 7, cli.output());
    const restored = await deployment();
    assert.equal(restored.spec.replicas, 2);
    assert.equal(restored.metadata.annotations?.[ANNOTATION], undefined);
    await waitUntil(async () => (await kubectlJson(kc, ['get', 'jobs', '-l', 'app.kubernetes.io/managed-by=kubectl-mirrord'])).items.filter((j: any) => !j.status?.conditions?.length).length === 0, 'the agent, copy and keeper Jobs are gone');
  } finally {
    cli.child.kill('SIGKILL');
    await app.close();
  }
});

test('a hold whose session is dead (no copy, no keeper): status says so, kill without patch permission names it, kill --all-mine restores it', async () => {
  const kc = sandbox.kubeconfigPath;
  await kubectl(kc, ['rollout', 'status', DEPLOYMENT, '--timeout=60s']);
  const user = await expectedUser();
  // What a session leaves when its CLI and its keeper are both gone (here made by hand).
  const record = { session: 'dead0001', user, replicas: 2, copyJob: 'mirrord-copy-dead0001', keeperJob: 'mirrord-keeper-dead0001', since: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
  await kubectl(kc, ['annotate', DEPLOYMENT, `${ANNOTATION}=${JSON.stringify(record)}`]);
  await kubectl(kc, ['scale', DEPLOYMENT, '--replicas=0']);
  try {
    const [hold, ...others] = (await status()).scaledDown;
    assert.deepEqual(others, []);
    assert.deepEqual([hold.session, hold.copy, hold.keeper, hold.alive, hold.agentSessions], ['dead0001', 'gone', 'gone', false, []]);
    const table = await runCli(['status'], kc);
    assert.ok(table.output.includes('dead: copy Job gone, keeper gone; kubectl mirrord kill dead0001 restores it'), table.output);

    setRbacDenials([{ user: 'restricted', verb: 'patch', resource: 'deployments' }]);
    const denied = await runCli(['kill', 'dead0001', '--context', 'sandbox-restricted'], kc);
    assert.equal(denied.code, 4, denied.output);
    assert.match(denied.output, /error: deployment\/ip-visit-counter held by session dead0001: kill needs patch on deployments\.apps in namespace "default" to restore deployment\/ip-visit-counter/);
    assert.equal((await deployment()).spec.replicas, 0, 'nothing was restored');
    setRbacDenials([]);

    const mine = await runCli(['kill', '--all-mine'], kc);
    assert.equal(mine.code, 0, mine.output);
    assert.match(mine.output, /released deployment\/ip-visit-counter held by session dead0001: deployment\/ip-visit-counter scaled back to 2/);
    const restored = await deployment();
    assert.equal(restored.spec.replicas, 2);
    assert.equal(restored.metadata.annotations?.[ANNOTATION], undefined);
    assert.deepEqual((await status()).scaledDown, []);
  } finally {
    setRbacDenials([]);
    await kubectl(kc, ['annotate', DEPLOYMENT, `${ANNOTATION}-`]).catch(() => '');
    await kubectl(kc, ['scale', DEPLOYMENT, '--replicas=2']);
  }
});

test('scale_down of a StatefulSet: 0 replicas, the copy (without hostname and subdomain) the only endpoint, Ctrl-C restores 2', async () => {
  const kc = sandbox.kubeconfigPath;
  await kubectl(kc, ['apply', '-f', join(REPO, 'test/e2e/fixtures/statefulset.yaml')]);
  const app = await userApp();
  let cli: ReturnType<typeof startCli> | undefined;
  try {
    await kubectl(kc, ['rollout', 'status', 'statefulset/echo-sts', '--timeout=90s']);
    const originals = (await kubectlJson(kc, ['get', 'pods', '-l', 'app=echo-sts'])).items;
    assert.deepEqual(originals.map((p: any) => p.spec.hostname).sort(), ['echo-sts-0', 'echo-sts-1'], 'the StatefulSet gives its pods their stable hostname');
    assert.equal(originals[0].spec.subdomain, 'echo-sts-headless');
    cli = startCli(['port-forward', '-t', 'statefulset/echo-sts', '--scale-down', '-R', `8080:${app.port}`, '--steal', '--agent-idle-timeout', '4s'], kc);
    await cli.waitFor(/Ctrl-C to stop/, 90_000);
    assert.match(cli.output(), /scaled statefulset\/echo-sts down from 2 to 0/);
    const set = await kubectlJson(kc, ['get', 'statefulset', 'echo-sts']);
    assert.equal(set.spec.replicas, 0);
    assert.equal(JSON.parse(set.metadata.annotations[ANNOTATION]).replicas, 2);
    const [copy, ...more] = (await kubectlJson(kc, ['get', 'pods', '-l', 'app.kubernetes.io/component=copy'])).items;
    assert.deepEqual(more, []);
    assert.equal(copy.metadata.labels.app, 'echo-sts', "the copy keeps the StatefulSet's labels");
    assert.deepEqual([copy.spec.hostname, copy.spec.subdomain], [undefined, undefined], 'the copy drops the stable identity');
    assert.equal(copy.metadata.labels['statefulset.kubernetes.io/pod-name'], undefined);
    assert.equal(copy.metadata.labels['controller-revision-hash'], undefined);
    assert.equal(copy.spec.containers[0].readinessProbe, undefined);
    const stsEndpoints = async () => {
      const ep = await kubectlJson(kc, ['get', 'endpoints', 'echo-sts']);
      return (ep.subsets ?? []).flatMap((s: any) => (s.addresses ?? []).map((a: any) => a.ip));
    };
    await waitUntil(async () => JSON.stringify(await stsEndpoints()) === JSON.stringify([copy.status.podIP]), 'the copy is the only endpoint', 30_000);
    const service = (await kubectlJson(kc, ['get', 'service', 'echo-sts'])).spec.clusterIP;
    const stolen = await curl([`http://${service}/sts`]);
    assert.equal(stolen.stdout, 'local /sts', stolen.stderr);

    assert.equal(await cli.interrupt(), 130);
    assert.match(cli.output(), /statefulset\/echo-sts scaled back to 2/);
    const restored = await kubectlJson(kc, ['get', 'statefulset', 'echo-sts']);
    assert.equal(restored.spec.replicas, 2);
    assert.equal(restored.metadata.annotations?.[ANNOTATION], undefined);
    await kubectl(kc, ['rollout', 'status', 'statefulset/echo-sts', '--timeout=90s']);
  } finally {
    cli?.child.kill('SIGKILL');
    await app.close();
    await kubectl(kc, ['delete', '-f', join(REPO, 'test/e2e/fixtures/statefulset.yaml'), '--ignore-not-found']);
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
