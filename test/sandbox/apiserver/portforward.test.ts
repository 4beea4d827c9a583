/** pods/portforward over WebSocket against the fake node: framing, errors, RBAC, metrics. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { writeFileSync } from 'node:fs';
import { CoreV1Api } from '@kubernetes/client-node';
import WebSocket from 'ws';
import { eventually, startTestServer, type TestServer } from './test-server.test-support.ts';

let ts: TestServer;
let echo: Server;

before(async () => {
  ts = await startTestServer();
  echo = createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  ts.node.ports.set(8080, (echo.address() as { port: number }).port);
  const core = ts.kc.makeApiClient(CoreV1Api);
  await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'target' }, spec: { containers: [{ name: 'c', image: 'i' }] } } });
  await eventually(async () => (await core.readNamespacedPod({ name: 'target', namespace: 'default' })).status?.phase === 'Running');
});
after(async () => {
  echo.close();
  await ts.close();
});

interface Session {
  ws: WebSocket;
  frames: Buffer[];
  status?: number;
  body?: string;
  closed: Promise<void>;
  opened: Promise<boolean>;
}

function open(path: string, protocols: string[] = ['v4.channel.k8s.io'], token = ts.tokens.admin): Session {
  const ws = new WebSocket(`${ts.api.url.replace('https:', 'wss:')}${path}`, protocols, { ca: ts.ca, headers: { Authorization: `Bearer ${token}` } });
  const session: Session = { ws, frames: [], closed: new Promise((r) => ws.on('close', () => r())), opened: Promise.resolve(false) };
  session.opened = new Promise((resolve) => {
    ws.on('open', () => resolve(true));
    ws.on('unexpected-response', (_req, res) => {
      session.status = res.statusCode;
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => {
        session.body = body;
        resolve(false);
      });
    });
    ws.on('error', () => resolve(false));
  });
  ws.on('message', (data: Buffer | string) => session.frames.push(Buffer.isBuffer(data) ? data : Buffer.from(data)));
  return session;
}

test('port headers first, then bytes relayed both ways on channel 0', async () => {
  const s = open('/api/v1/namespaces/default/pods/target/portforward?ports=8080');
  assert.equal(await s.opened, true);
  assert.equal(s.ws.protocol, 'v4.channel.k8s.io');
  s.ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('hello')]));
  await eventually(() => s.frames.length >= 3);
  assert.deepEqual([...s.frames[0]], [0, 0x90, 0x1f]);
  assert.deepEqual([...s.frames[1]], [1, 0x90, 0x1f]);
  assert.equal(s.frames[2][0], 0);
  assert.equal(s.frames.slice(2).map((f) => f.subarray(1).toString()).join(''), 'hello');
  s.ws.close();
  await s.closed;
});

test('8 MiB round trip through the echo pod arrives complete and in order', async () => {
  const { createHash, randomBytes } = await import('node:crypto');
  const payload = randomBytes(8 * 1024 * 1024);
  const s = open('/api/v1/namespaces/default/pods/target/portforward?ports=8080');
  assert.equal(await s.opened, true);
  for (let off = 0; off < payload.length; off += 64 * 1024) {
    s.ws.send(Buffer.concat([Buffer.from([0]), payload.subarray(off, off + 64 * 1024)]));
  }
  await eventually(() => s.frames.slice(2).reduce((n, f) => n + f.length - 1, 0) >= payload.length, 30_000);
  const received = Buffer.concat(s.frames.slice(2).map((f) => f.subarray(1)));
  assert.equal(createHash('sha256').update(received).digest('hex'), createHash('sha256').update(payload).digest('hex'));
  s.ws.close();
  await s.closed;
});

test('the base64 subprotocol frames text with an ASCII channel digit', async () => {
  const s = open('/api/v1/namespaces/default/pods/target/portforward?ports=8080', ['v4.base64.channel.k8s.io']);
  assert.equal(await s.opened, true);
  s.ws.send(`0${Buffer.from('abc').toString('base64')}`);
  await eventually(() => s.frames.length >= 3);
  assert.equal(s.frames[0].toString(), `0${Buffer.from([0x90, 0x1f]).toString('base64')}`);
  assert.equal(Buffer.from(s.frames[2].toString().slice(1), 'base64').toString(), 'abc');
  s.ws.close();
  await s.closed;
});

test('a refused pod port is reported as text on the error channel, then the socket closes', async () => {
  const s = open('/api/v1/namespaces/default/pods/target/portforward?ports=9999');
  assert.equal(await s.opened, true);
  await s.closed;
  const errors = s.frames.filter((f) => f[0] === 1 && f.length > 3).map((f) => f.subarray(1).toString());
  assert.match(errors[0], /^error forwarding port 9999 to pod target, uid : .*connection refused/);
});

test('a missing pod is a 404 Status before the upgrade; RBAC denial is a 403 with upstream wording', async () => {
  const missing = open('/api/v1/namespaces/default/pods/nope/portforward?ports=80');
  assert.equal(await missing.opened, false);
  assert.equal(missing.status, 404);
  assert.equal(JSON.parse(missing.body!).message, 'pods "nope" not found');
  writeFileSync(ts.rbacPath, JSON.stringify({ deny: [{ user: 'restricted', verb: 'create', resource: 'pods', subresource: 'portforward' }] }));
  const denied = open('/api/v1/namespaces/default/pods/target/portforward?ports=8080', undefined, ts.tokens.restricted);
  assert.equal(await denied.opened, false);
  assert.equal(denied.status, 403);
  assert.equal(JSON.parse(denied.body!).message, 'pods "target" is forbidden: User "restricted" cannot create resource "pods/portforward" in API group "" in the namespace "default"');
  writeFileSync(ts.rbacPath, '{"deny":[]}');
});

test('metrics count CONNECT requests on pods/portforward', () => {
  const text = ts.api.metrics.render();
  const line = text.split('\n').find((l) => l.includes('subresource="portforward"') && l.includes('code="101"'));
  assert.ok(line, text);
  assert.match(line!, /verb="CONNECT".* 4$/);
});
