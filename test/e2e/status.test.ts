/**
 * `kubectl mirrord status` and `kill` end to end on the sandbox: a targetless `port-forward -L`
 * session (a Job agent) and a targeted steal with a header filter (an ephemeral agent in the demo
 * pod), both seen with their fields; kill of the steal stops its agent (its CLI ends, the rules go,
 * the pod answers its own traffic again); --all-mine ends the rest; missing permissions are named.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { hostname, userInfo } from 'node:os';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setRbacDenials, startSandbox } from '../sandbox/harness.ts';
import type { Sandbox } from '../sandbox/harness.ts';
import { REPO, curl, kubectl, kubectlJson, parseStatusJson, podNat, runCli, startCli, waitUntil } from './cli-process.ts';
import type { CliProcess } from './cli-process.ts';

let sandbox: Sandbox;
let serviceUrl: string;
const TARGET = 'deployment/ip-visit-counter';
const POD_PORT = 8080;
const FILTER = 'X-PG-Tenant: Avi.+';

before(async () => {
  sandbox = await startSandbox();
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', join(REPO, 'test/sandbox/demo.yaml')]);
  await kubectl(sandbox.kubeconfigPath, ['wait', '--for=condition=Available', 'deployment/ip-visit-counter', '--timeout=60s']);
  const svc = await kubectlJson(sandbox.kubeconfigPath, ['get', 'service', 'ip-visit-counter']);
  serviceUrl = `http://${svc.spec.clusterIP}`;
});

after(async () => {
  await sandbox?.stop();
});

interface Row {
  session: string; agent: string; namespace: string; target: string; targetNamespace: string; mode: string;
  ports: string[]; user: string; startedAt: string; ageSeconds: number; cliConnected: boolean; state: string;
}

async function statusJson(args: string[] = []): Promise<Row[]> {
  const { code, output } = await runCli(['status', '--json', ...args], sandbox.kubeconfigPath);
  assert.equal(code, 0, output);
  const status = parseStatusJson(output) as { sessions: Row[]; scaledDown: unknown[] };
  assert.deepEqual(status.scaledDown, [], 'these tests scale nothing down');
  return status.sessions;
}

/** `whoami/k8s-user@hostname` of the sandbox's current context. */
async function expectedUser(): Promise<string> {
  const config = await kubectlJson(sandbox.kubeconfigPath, ['config', 'view']);
  const context = config.contexts.find((c: any) => c.name === config['current-context']);
  return `${userInfo().username}/${context.context.user}@${hostname()}`;
}

async function userApp(): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => res.end(`local ${req.url}`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

function isRemote(body: string): boolean {
  return /"count":\s*\d+/.test(body);
}

async function demoPod(): Promise<{ name: string; uid: string }> {
  const pods = (await kubectlJson(sandbox.kubeconfigPath, ['get', 'pods', '-l', 'app=ip-visit-counter'])).items.filter((p: any) => p.status.phase === 'Running' && !p.metadata.deletionTimestamp);
  return { name: pods[0].metadata.name, uid: pods[0].metadata.uid };
}

async function startSteal(appPort: number): Promise<CliProcess> {
  const dir = mkdtempSync(join(REPO, '.sandbox', 'status-config-'));
  const file = join(dir, 'mirrord.yaml');
  writeFileSync(file, ['feature:', '  network:', '    incoming:', '      mode: steal', '      http_filter:', `        header_filter: "${FILTER}"`, `        ports: [${POD_PORT}]`].join('\n'));
  const cli = startCli(['port-forward', '-t', TARGET, '-f', file, '-R', `${POD_PORT}:${appPort}`, '--agent-idle-timeout', '5s'], sandbox.kubeconfigPath);
  await cli.waitFor(/Ctrl-C to stop/, 90_000);
  return cli;
}

test('status shows a port-forward and a filtered steal; kill ends one, --all-mine the rest', async () => {
  const kc = sandbox.kubeconfigPath;
  const app = await userApp();
  const pod = await demoPod();
  const forward = startCli(['port-forward', '-L', '0:ip-visit-counter:80', '--agent-idle-timeout', '5s'], kc);
  let steal: CliProcess | undefined;
  try {
    await forward.waitFor(/Ctrl-C to stop/, 90_000);
    steal = await startSteal(app.port);
    const tenant = await curl(['-H', 'X-PG-Tenant: Avi1', `${serviceUrl}/count`]);
    assert.equal(tenant.stdout, 'local /count', 'the filtered steal runs');

    const user = await expectedUser();
    const rows = await statusJson();
    assert.equal(rows.length, 2, JSON.stringify(rows));
    const fwd = rows.find((r) => r.mode === 'port-forward')!;
    const st = rows.find((r) => r.mode === 'steal')!;
    assert.ok(fwd && st, JSON.stringify(rows));
    assert.match(fwd.agent, new RegExp(`^job/mirrord-agent-${fwd.session}$`));
    assert.deepEqual([fwd.target, fwd.ports, fwd.user, fwd.cliConnected, fwd.state, fwd.namespace], ['-', [], user, true, 'running', 'default']);
    assert.match(st.agent, new RegExp(`^pod/${pod.name} \\(ephemeral container mirrord-agent-${st.session}\\)$`));
    assert.equal(st.target, `${TARGET} (pod/${pod.name})`);
    assert.equal(st.targetNamespace, 'default');
    assert.deepEqual(st.ports, [`${POD_PORT} steal header=${FILTER}`]);
    assert.deepEqual([st.user, st.cliConnected, st.state], [user, true, 'running']);
    for (const r of rows) assert.ok(r.ageSeconds >= 0 && r.ageSeconds < 3600, `age of ${r.session}: ${r.ageSeconds}`);
    assert.deepEqual((await statusJson(['-A'])).map((r) => r.session).sort(), [fwd.session, st.session].sort());

    const table = await runCli(['status'], kc);
    assert.equal(table.code, 0, table.output);
    for (const text of ['SESSION', 'PORTS', fwd.session, st.session, `${POD_PORT} steal header=${FILTER}`, user, 'connected', 'port-forward']) {
      assert.ok(table.output.includes(text), `the table shows ${text}:\n${table.output}`);
    }

    const killed = await runCli(['kill', st.session], kc);
    assert.equal(killed.code, 0, killed.output);
    assert.match(killed.output, new RegExp(`ended session ${st.session}: the agent in pod ${pod.name} .*stopped`));
    assert.doesNotMatch(killed.output, /warning|error/);
    assert.equal(await steal.exited, 7, 'the steal CLI ends instead of starting another agent');
    assert.match(steal.output(), /error: the session was ended from the cluster: the session was ended by kubectl mirrord kill/);
    await waitUntil(async () => !/KMRD/.test(await podNat(pod.uid, 'both')), 'no KMRD rule is left in the pod');
    const after = await curl(['-H', 'X-PG-Tenant: Avi1', `${serviceUrl}/count`]);
    assert.ok(isRemote(after.stdout), `the pod answers its own traffic again: ${after.stdout}`);
    const podNow = await kubectlJson(kc, ['get', 'pod', pod.name]);
    const agentStatus = podNow.status.ephemeralContainerStatuses.find((s: any) => s.name === `mirrord-agent-${st.session}`);
    assert.ok(agentStatus.state.terminated, `the ephemeral agent exited: ${JSON.stringify(agentStatus.state)}`);
    assert.deepEqual((await statusJson()).map((r) => r.session), [fwd.session]);

    const mine = await runCli(['kill', '--all-mine'], kc);
    assert.equal(mine.code, 0, mine.output);
    assert.match(mine.output, new RegExp(`ended session ${fwd.session}: Job mirrord-agent-${fwd.session} deleted`));
    assert.doesNotMatch(mine.output, /warning|error/, 'the Job agent was told to stop before its Job went');
    assert.equal(await forward.exited, 7, 'the port-forward CLI ends');
    await waitUntil(async () => (await kubectlJson(kc, ['get', 'jobs', '-l', 'app.kubernetes.io/name=kubectl-mirrord-agent'])).items.length === 0, 'the Job is gone');
    assert.deepEqual(await statusJson(), []);
    const none = await runCli(['status'], kc);
    assert.match(none.output, /no sessions in namespace default/);
  } finally {
    forward.child.kill('SIGKILL');
    steal?.child.kill('SIGKILL');
    await app.close();
  }
});

test('bad input and missing permissions are named', async () => {
  const kc = sandbox.kubeconfigPath;
  const unknown = await runCli(['kill', 'deadbeef'], kc);
  assert.equal(unknown.code, 4, unknown.output);
  assert.match(unknown.output, /error: no live session or scale_down hold deadbeef in namespace "default"/);
  const both = await runCli(['status', '-n', 'default', '-A'], kc);
  assert.equal(both.code, 2, both.output);

  const rbac = join(REPO, '.sandbox/rbac.json');
  const original = readFileSync(rbac, 'utf8');
  setRbacDenials([{ user: 'restricted', verb: 'list', resource: 'jobs' }]);
  try {
    const { code, output } = await runCli(['status', '--context', 'sandbox-restricted'], kc);
    assert.equal(code, 4, output);
    assert.match(output, /error: status needs list on pods and jobs\.batch in namespace "default"/);
  } finally {
    writeFileSync(rbac, original);
  }

  const app = await userApp();
  const steal = await startSteal(app.port);
  try {
    const [row] = await statusJson();
    setRbacDenials([{ user: 'restricted', verb: 'create', resource: 'pods', subresource: 'exec' }]);
    const denied = await runCli(['kill', row.session, '--context', 'sandbox-restricted'], kc);
    assert.equal(denied.code, 4, denied.output);
    assert.match(denied.output, /kill needs create on pods\/exec in namespace "default"/);
    assert.equal((await statusJson())[0].cliConnected, true, 'the session still runs');
  } finally {
    writeFileSync(rbac, original);
    await steal.interrupt();
    await app.close();
  }
});

test('the Job fallback (--agent-mode job): listed with its target, and kill stops it and deletes the Job', async () => {
  const kc = sandbox.kubeconfigPath;
  // The previous test's steal ended with Ctrl-C: its CLI told the ephemeral agent (sessionEnd), which
  // exits; until then it may be listed without a CLI.
  await waitUntil(async () => (await statusJson()).every((r) => r.cliConnected === false), 'the ended steal shows no CLI');
  await waitUntil(async () => (await statusJson()).length === 0, 'the idle agent exited', 60_000);
  const app = await userApp();
  const pod = await demoPod();
  const cli = startCli(['port-forward', '-t', TARGET, '--agent-mode', 'job', '--agent-idle-timeout', '5s', '-R', `${POD_PORT}:${app.port}`, '--steal'], kc);
  try {
    await cli.waitFor(/Ctrl-C to stop/, 90_000);
    const [row, ...others] = await statusJson();
    assert.deepEqual(others, []);
    assert.match(row.agent, /^job\/mirrord-agent-[0-9a-f]{8}$/);
    assert.deepEqual([row.target, row.targetNamespace, row.mode, row.ports, row.cliConnected], [TARGET, 'default', 'steal', [`${POD_PORT} steal`], true]);
    const killed = await runCli(['kill', row.session], kc);
    assert.equal(killed.code, 0, killed.output);
    assert.doesNotMatch(killed.output, /warning|error/, killed.output);
    assert.equal(await cli.exited, 7, cli.output());
    await waitUntil(async () => !/KMRD/.test(await podNat(pod.uid, 'both')), 'no KMRD rule is left in the target pod');
    await waitUntil(async () => (await statusJson()).length === 0, 'no session is left');
    await waitUntil(async () => (await kubectlJson(kc, ['get', 'jobs', '-l', 'app.kubernetes.io/name=kubectl-mirrord-agent'])).items.length === 0, 'the Job is gone');
  } finally {
    cli.child.kill('SIGKILL');
    await app.close();
  }
});
