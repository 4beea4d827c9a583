/**
 * port-forward -R with a header filter over HTTP/2 cleartext (h2c, prior knowledge) end to end on
 * the sandbox: the real CLI, an ephemeral agent container in the h2c-echo pod, and a node:http2
 * client reaching the pod through its Service's ClusterIP. Every request of a test shares ONE
 * HTTP/2 connection, so the filter has to decide per stream, not per connection.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { ClientHttp2Session, IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import type net from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox } from '../sandbox/harness.ts';
import type { Sandbox } from '../sandbox/harness.ts';
import { kubectl, kubectlJson, startCli, podNat, waitUntil } from './cli-process.ts';

const NAME = 'h2c-echo';
/** The h2c-echo container's port (the Service maps 80 to it). */
const POD_PORT = 8080;

/** The h2c-echo workload: it speaks only HTTP/2, so readiness is a TCP probe. */
const MANIFEST = `
apiVersion: apps/v1
kind: Deployment
metadata: { name: ${NAME}, namespace: default, labels: { app: ${NAME} } }
spec:
  replicas: 1
  selector: { matchLabels: { app: ${NAME} } }
  template:
    metadata: { labels: { app: ${NAME} } }
    spec:
      containers:
        - name: ${NAME}
          image: ghcr.io/kubectl-mirrord/${NAME}:latest
          ports: [{ name: h2c, containerPort: ${POD_PORT} }]
          readinessProbe: { tcpSocket: { port: h2c }, periodSeconds: 2 }
---
apiVersion: v1
kind: Service
metadata: { name: ${NAME}, namespace: default }
spec:
  selector: { app: ${NAME} }
  ports: [{ name: h2c, port: 80, targetPort: h2c }]
`;

let sandbox: Sandbox;
let manifestFile: string;
let serviceUrl: string;
/** Temporary directories this file made, removed in after(). */
const tempDirs: string[] = [];

function tempFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mirrord-h2-'));
  tempDirs.push(dir);
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

before(async () => {
  sandbox = await startSandbox();
  manifestFile = tempFile('h2c-echo.yaml', MANIFEST);
  await kubectl(sandbox.kubeconfigPath, ['apply', '-f', manifestFile]);
  await kubectl(sandbox.kubeconfigPath, ['wait', '--for=condition=Available', `deployment/${NAME}`, '--timeout=60s']);
  const svc = await kubectlJson(sandbox.kubeconfigPath, ['get', 'service', NAME]);
  serviceUrl = `http://${svc.spec.clusterIP}:80`;
});

after(async () => {
  if (sandbox && manifestFile) await kubectl(sandbox.kubeconfigPath, ['delete', '-f', manifestFile, '--ignore-not-found']).catch(() => {});
  await sandbox?.stop();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

interface H2Answer { status: number; headers: IncomingHttpHeaders; body: string; trailers: IncomingHttpHeaders }

/** One request on `session`; resolves once the response, its body and its trailers are in. */
function request(session: ClientHttp2Session, path: string, headers: OutgoingHttpHeaders = {}): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'GET', ':path': path, ...headers });
    let responseHeaders: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => { responseHeaders = h; });
    stream.on('trailers', (t) => { trailers = t; });
    stream.on('data', (chunk: string) => { body += chunk; });
    stream.on('end', () => resolve({ status: Number(responseHeaders[':status']), headers: responseHeaders, body, trailers }));
    stream.on('error', reject);
    stream.setTimeout(15_000, () => stream.destroy(new Error(`no answer for ${path} within 15 s`)));
  });
}

/** Opens one h2c connection (prior knowledge: node:http2 speaks HTTP/2 from the first byte on http:). */
async function connect(url: string): Promise<ClientHttp2Session> {
  const session = http2.connect(url);
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  return session;
}

function close(session: ClientHttp2Session): Promise<void> {
  return new Promise((resolve) => {
    if (session.closed || session.destroyed) resolve();
    else session.close(() => resolve());
  });
}

/**
 * The user's app: h2c on loopback, answers `local <path>` with a trailer, remembers each request and
 * counts the HTTP/2 connections the agent opened to it.
 */
async function userApp(): Promise<{ port: number; requests: Array<{ path: string; user: string | undefined }>; connections(): number; close(): Promise<void> }> {
  const requests: Array<{ path: string; user: string | undefined }> = [];
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    requests.push({ path: String(headers[':path']), user: headers['x-user'] as string | undefined });
    stream.on('error', () => {});
    stream.respond({ ':status': 200, 'content-type': 'text/plain', 'x-served-by': 'local' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'x-trailer': 'local' }));
    stream.end(`local ${headers[':path']}`);
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  let connections = 0;
  server.on('session', (s) => { connections++; sessions.add(s); s.on('close', () => sessions.delete(s)); });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    connections: () => connections,
    close: () => new Promise((resolve) => {
      for (const s of sessions) s.destroy();
      server.close(() => resolve());
    }),
  };
}

/** The h2c-echo pod's uid (its network namespace is kmsb-<uid> in the sandbox). */
async function podUid(): Promise<string> {
  const pods = (await kubectlJson(sandbox.kubeconfigPath, ['get', 'pods', '-l', `app=${NAME}`])).items.filter((p: any) => p.status.phase === 'Running' && !p.metadata.deletionTimestamp);
  return pods[0].metadata.uid;
}



function assertAnswer(answer: H2Answer, place: 'local' | 'remote', path: string): void {
  assert.equal(answer.status, 200, `${path}: ${answer.body}`);
  assert.equal(answer.body, `${place} ${path}`);
  assert.equal(answer.headers['x-served-by'], place, `${path}: response header`);
  assert.equal(answer.trailers['x-trailer'], place, `${path}: trailer`);
}

test('h2c header filter: streams with x-user: me reach the user app, the others the pod, on one connection', async () => {
  const app = await userApp();
  const uid = await podUid();
  const config = tempFile('mirrord.json', JSON.stringify({
    feature: { network: { incoming: { mode: 'steal', http_filter: { header_filter: '^x-user: me$', ports: [POD_PORT] } } } },
  }));
  const cli = startCli(['port-forward', '-t', `deployment/${NAME}`, '--agent-idle-timeout', '3s', '-R', `${POD_PORT}:${app.port}`, '--steal', '-f', config], sandbox.kubeconfigPath);
  let session: ClientHttp2Session | undefined;
  try {
    await cli.waitFor(/Ctrl-C to stop/, 60_000);
    assert.match(cli.output(), /\(steal, header \^x-user: me\$\)/);
    assert.match(await podNat(uid), /KMRD/, 'the agent redirects the port while the CLI runs');

    session = await connect(serviceUrl);
    assertAnswer(await request(session, '/a', { 'x-user': 'me' }), 'local', '/a');
    assertAnswer(await request(session, '/b'), 'remote', '/b');
    assertAnswer(await request(session, '/c', { 'x-user': 'someone-else' }), 'remote', '/c');

    const paths = Array.from({ length: 10 }, (_, i) => `/concurrent/${i}`);
    const mine = (i: number) => i % 2 === 0;
    const answers = await Promise.all(paths.map((p, i) => request(session!, p, mine(i) ? { 'x-user': 'me' } : {})));
    answers.forEach((a, i) => assertAnswer(a, mine(i) ? 'local' : 'remote', paths[i]));

    const expected = ['/a', ...paths.filter((_, i) => mine(i))];
    assert.deepEqual(app.requests.map((r) => r.path).sort(), expected.sort(), 'the user app saw exactly the matching streams');
    assert.ok(app.requests.every((r) => r.user === 'me'));
    assert.equal(app.connections(), 1, 'the agent carries every matching stream of one client connection on one connection to the user app');
    await close(session);

    assert.equal(await cli.interrupt(), 130);
    await waitUntil(async () => !/KMRD/.test(await podNat(uid, 'both')), 'no KMRD rule is left in the pod');
    session = await connect(serviceUrl);
    assertAnswer(await request(session, '/after', { 'x-user': 'me' }), 'remote', '/after');
    assert.ok(!app.requests.some((r) => r.path === '/after'), 'the user app no longer gets requests');
  } finally {
    session?.destroy();
    cli.child.kill('SIGKILL');
    await app.close();
  }
});
