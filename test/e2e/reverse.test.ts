/**
 * port-forward -R end to end on the sandbox: the real CLI through kubectl's plugin mechanism, an
 * ephemeral agent container in the demo pod, and real curl through the demo Service. The user's
 * app is a small HTTP server on this machine's loopback.
 */
import { test, before, after } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/harness.ts';
import type { Sandbox } from '../sandbox/harness.ts';
import { REPO, curl, kubectl, kubectlJson, startCli, podNat, waitUntil } from './cli-process.ts';
import type { CliProcess } from './cli-process.ts';

let sandbox: Sandbox;
let serviceUrl: string;
const TARGET = 'deployment/ip-visit-counter';
/** The demo container's port (the Service maps 80 to it). */
const POD_PORT = 8080;

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

/** The user's app: answers `local <path>` and remembers each request. */
async function userApp(): Promise<{ port: number; requests: Array<{ url: string; headers: http.IncomingHttpHeaders }>; close(): Promise<void> }> {
  const requests: Array<{ url: string; headers: http.IncomingHttpHeaders }> = [];
  const server = http.createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    res.end(`local ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** The demo pod (name and uid) behind the deployment. */
async function demoPod(): Promise<{ name: string; uid: string }> {
  const pods = (await kubectlJson(sandbox.kubeconfigPath, ['get', 'pods', '-l', 'app=ip-visit-counter'])).items.filter((p: any) => p.status.phase === 'Running' && !p.metadata.deletionTimestamp);
  return { name: pods[0].metadata.name, uid: pods[0].metadata.uid };
}



/** Starts the CLI with -R and waits for its summary. */
async function startReverse(args: string[]): Promise<CliProcess> {
  const cli = startCli(['port-forward', '-t', TARGET, '--agent-idle-timeout', '3s', ...args], sandbox.kubeconfigPath);
  await cli.waitFor(/Ctrl-C to stop/, 60_000);
  return cli;
}

function configFile(text: string, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mirrord-config-'));
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** The remote app answers JSON with a visit count; the user's app answers `local ...`. */
function isRemote(body: string): boolean {
  return body.trim() === 'ok' || /"count":\s*\d+/.test(body);
}

test('steal: the Service answers with the local app; Ctrl-C removes the rules and the pod answers again', async () => {
  const app = await userApp();
  const pod = await demoPod();
  const cli = await startReverse(['-R', `${POD_PORT}:${app.port}`, '--steal']);
  try {
    assert.match(cli.output(), new RegExp(`pod/ip-visit-counter-\\S+:${POD_PORT}\\s+→ 127\\.0\\.0\\.1:${app.port} \\(steal\\)`));
    const stolen = await curl([`${serviceUrl}/count`]);
    assert.equal(stolen.stdout, 'local /count', stolen.stderr);
    assert.match(await podNat(pod.uid), /KMRD/, 'the agent redirects the port while the CLI runs');
    assert.doesNotMatch(cli.output(), /-R 8080 .*→/, 'no per-connection lines without -v');
    assert.equal(await cli.interrupt(), 130);
    await waitUntil(async () => !/KMRD/.test(await podNat(pod.uid, 'both')), 'no KMRD rule is left in the pod');
    const after = await curl([`${serviceUrl}/count`]);
    assert.ok(isRemote(after.stdout), `the pod answers again: ${after.stdout}`);
  } finally {
    cli.child.kill('SIGKILL');
    await app.close();
  }
});

test('another pod dialling the steal listener straight away is refused; the redirected port still works', async () => {
  const app = await userApp();
  const pod = await demoPod();
  const cli = await startReverse(['-R', `${POD_PORT}:${app.port}`, '--steal']);
  try {
    const listenerPort = Number(/--to-ports (\d+)/.exec(await podNat(pod.uid))?.[1]);
    assert.ok(listenerPort > 0, 'the REDIRECT names the listener port');
    const target = await kubectlJson(sandbox.kubeconfigPath, ['get', 'pod', pod.name]);
    const other = (await kubectlJson(sandbox.kubeconfigPath, ['get', 'pods', '-l', 'app=ip-info'])).items.find((p: any) => p.status.phase === 'Running');
    // curl from inside the other pod's network namespace, as a process of that pod would.
    const direct = await promisify(execFile)('ip', ['netns', 'exec', `kmsb-${other.metadata.uid}`, 'curl', '-sS', '--max-time', '5',
      `http://${target.status.podIP}:${listenerPort}/count`]).then(() => 'answered', (e: { code: number; stderr: string }) => `curl exit ${e.code}: ${e.stderr.trim()}`);
    assert.match(direct, /curl exit 7: .*(Connection refused|Couldn't connect)/, direct);
    assert.equal((await curl([`${serviceUrl}/count`])).stdout, 'local /count', 'the redirected Service port still reaches the local app');
  } finally {
    cli.child.kill('SIGKILL');
    await app.close();
  }
});

test('header filter from a YAML config: only requests with the header reach the local app', async () => {
  const app = await userApp();
  const file = configFile([
    'feature:',
    '  network:',
    '    incoming:',
    '      mode: steal',
    '      http_filter:',
    '        header_filter: "^x-user: me$"',
    `        ports: [${POD_PORT}]`,
  ].join('\n'), 'mirrord.yaml');
  const cli = await startReverse(['-f', file, '-R', `${POD_PORT}:${app.port}`]);
  try {
    assert.match(cli.output(), /\(steal, header \^x-user: me\$\)/);
    const mine = await curl(['-H', 'X-User: me', `${serviceUrl}/count`]);
    assert.equal(mine.stdout, 'local /count', mine.stderr);
    const others = await curl(['-H', 'X-User: someone-else', `${serviceUrl}/count`]);
    assert.ok(isRemote(others.stdout), `another user's request stays remote: ${others.stdout}`);
    const none = await curl([`${serviceUrl}/count`]);
    assert.ok(isRemote(none.stdout), `a request without the header stays remote: ${none.stdout}`);
    assert.deepEqual(app.requests.map((r) => r.headers['x-user']), ['me']);
  } finally {
    await cli.interrupt();
    await app.close();
  }
});

test('path filter with a negative look-ahead keeps /health remote', async () => {
  const app = await userApp();
  const file = configFile(JSON.stringify({ feature: { network: { incoming: { mode: 'steal', http_filter: { path_filter: '^(?!/health)', ports: [POD_PORT] } } } } }), 'mirrord.json');
  const cli = await startReverse(['-f', file, '-R', `${POD_PORT}:${app.port}`]);
  try {
    assert.equal((await curl([`${serviceUrl}/health`])).stdout.trim(), 'ok');
    assert.equal((await curl([`${serviceUrl}/count`])).stdout, 'local /count');
  } finally {
    await cli.interrupt();
    await app.close();
  }
});

test('mirror: the pod answers, and the local app receives a copy', async () => {
  const app = await userApp();
  const cli = await startReverse(['-R', `${POD_PORT}:${app.port}`]);
  try {
    assert.match(cli.output(), /\(mirror\)/);
    const answer = await curl([`${serviceUrl}/count?mirrored=1`]);
    assert.ok(/"count":\s*\d+/.test(answer.stdout), `the pod answers: ${answer.stdout}`);
    await waitUntil(async () => app.requests.some((r) => r.url === '/count?mirrored=1'), 'the local app got the copy', 10_000);
  } finally {
    await cli.interrupt();
    await app.close();
  }
});

test('the local app is not listening: the stolen request fails at once, nothing hangs', async () => {
  const app = await userApp();
  const closedPort = app.port;
  await app.close();
  const cli = await startReverse(['-R', `${POD_PORT}:${closedPort}`, '--steal']);
  try {
    const started = Date.now();
    const result = await curl([`${serviceUrl}/count`]);
    assert.notEqual(result.code, 0, 'the remote client sees a failure');
    assert.notEqual(result.code, 28, 'not a timeout');
    assert.ok(Date.now() - started < 10_000);
    // And the user is told, without -v, why the cluster's client failed.
    await cli.waitFor(new RegExp(`^-R ${POD_PORT} → 127\\.0\\.0\\.1:${closedPort}: connection refused by 127\\.0\\.0\\.1:${closedPort}$`, 'm'));
  } finally {
    await cli.interrupt();
  }
});

test('kill -9 of the CLI: the agent removes its rules and the pod answers as before', async () => {
  const app = await userApp();
  const pod = await demoPod();
  const cli = await startReverse(['-R', `${POD_PORT}:${app.port}`, '--steal']);
  try {
    assert.equal((await curl([`${serviceUrl}/count`])).stdout, 'local /count');
    cli.child.kill('SIGKILL');
    await cli.exited;
    await waitUntil(async () => !/KMRD/.test(await podNat(pod.uid, 'both')), 'no KMRD rule is left after kill -9', 30_000);
    assert.ok(isRemote((await curl([`${serviceUrl}/count`])).stdout));
  } finally {
    cli.child.kill('SIGKILL');
    await app.close();
  }
});

test('-R refused: a port nothing listens on, and -R without a target', async () => {
  const refused = startCli(['port-forward', '-t', TARGET, '--agent-idle-timeout', '3s', '-R', '9999'], sandbox.kubeconfigPath);
  assert.equal(await refused.exited, 4);
  assert.match(refused.output(), /error: -R 9999 \(mirror\) on pod\/ip-visit-counter-\S+: nothing in the pod listens on TCP port 9999/);
  const noTarget = startCli(['port-forward', '-R', '80'], sandbox.kubeconfigPath);
  assert.equal(await noTarget.exited, 2);
  assert.match(noTarget.output(), /reverse forwarding needs a target \(--target pod\/NAME …\)/);
});
