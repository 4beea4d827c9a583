/**
 * Filtered steal, end to end in a namespace playing the pod: HTTP/1.1 requests and HTTP/2
 * streams are split between the user's app and the original app by header and path regexes,
 * on the same client connection. Root only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { connect } from 'node:net';
import { once } from 'node:events';
import { IncomingFixture, POD_H1_PORT, POD_H2_PORT, httpGet } from '../../test/support/agent-incoming/incoming-fixture.ts';
import { isRoot } from '../../test/support/agent-incoming/netns.ts';

const skip = isRoot ? false : 'needs root (network namespaces, iptables)';

async function podWithFilter(t: { after(fn: () => unknown): void }, filter: Record<string, unknown>) {
  const pod = await IncomingFixture.create(t);
  const agent = await pod.startAgent();
  const cli = await pod.connectCli(agent);
  cli.userPorts.set(POD_H1_PORT, await pod.userHttp1App());
  cli.userPorts.set(POD_H2_PORT, await pod.userHttp2App());
  await cli.subscribe({ port: POD_H1_PORT, mode: 'steal', filter });
  return { pod, cli };
}

test('header filter: only requests with the header reach the user app, on one keep-alive connection', { skip }, async (t) => {
  const { pod } = await podWithFilter(t, { header: '^x-user: me$' });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const sockets = new Set();
  agent.on('free', (s) => sockets.add(s));
  const served: string[] = [];
  const variants: Array<Record<string, string>> = [{ 'X-User': 'me' }, {}, { 'x-user': 'ME' }, { 'x-user': 'someone' }, {}];
  for (const headers of variants) {
    served.push((await httpGet(pod.ns.podIp, POD_H1_PORT, '/api', { headers, agent })).servedBy);
  }
  assert.deepEqual(served, ['user', 'original', 'user', 'original', 'original']);
  assert.equal(sockets.size, 1, 'every request went over the same client connection');
});

test('path filter: a negative look-ahead keeps /health remote', { skip }, async (t) => {
  const { pod } = await podWithFilter(t, { path: '^(?!/health)' });
  assert.equal((await httpGet(pod.ns.podIp, POD_H1_PORT, '/health')).servedBy, 'original');
  assert.equal((await httpGet(pod.ns.podIp, POD_H1_PORT, '/health?verbose=1')).servedBy, 'original');
  assert.equal((await httpGet(pod.ns.podIp, POD_H1_PORT, '/orders/1')).servedBy, 'user');
});

test('pipelined requests keep their order across both apps; bodies pass unchanged', { skip }, async (t) => {
  const { pod } = await podWithFilter(t, { header: 'x-user: me' });
  const client = connect({ host: pod.ns.podIp, port: POD_H1_PORT });
  t.after(() => client.destroy());
  await once(client, 'connect');
  client.write(
    'POST /one HTTP/1.1\r\nHost: pod\r\nX-User: me\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' +
    'POST /two HTTP/1.1\r\nHost: pod\r\nContent-Length: 3\r\n\r\nabc' +
    'GET /three HTTP/1.1\r\nHost: pod\r\nX-User: me\r\nConnection: close\r\n\r\n');
  let text = '';
  client.on('data', (d: Buffer) => { text += d.toString(); });
  await once(client, 'end');
  const bodies = [...text.matchAll(/\r\n\r\n((?:user|original) [^\r]*?)(?=HTTP\/1\.1|$)/g)].map((m) => m[1]);
  assert.deepEqual(bodies, ['user POST /one body=5', 'original POST /two body=3', 'user GET /three body=0']);
});

test('Expect: 100-continue goes through to the user app, chunked body and all', { skip }, async (t) => {
  const { pod } = await podWithFilter(t, { header: 'x-user: me' });
  const res = await new Promise<{ body: string; continued: boolean }>((resolve, reject) => {
    let continued = false;
    const req = http.request({ host: pod.ns.podIp, port: POD_H1_PORT, method: 'PUT', path: '/upload', agent: false,
      headers: { 'x-user': 'me', expect: '100-continue' } }, (r) => {
      let body = '';
      r.on('data', (d: Buffer) => { body += d.toString(); });
      r.on('end', () => resolve({ body, continued }));
    });
    req.on('continue', () => { continued = true; req.write('abc'); req.end('defg'); });
    req.on('error', reject);
  });
  assert.equal(res.continued, true);
  assert.equal(res.body, 'user PUT /upload body=7');
});

test('HTTP/2: streams are filtered by header, trailers arrive from both apps', { skip }, async (t) => {
  const pod = await IncomingFixture.create(t);
  const agent = await pod.startAgent();
  const cli = await pod.connectCli(agent);
  cli.userPorts.set(POD_H2_PORT, await pod.userHttp2App());
  await cli.subscribe({ port: POD_H2_PORT, mode: 'steal', filter: { header: '^x-user: me$', ports: [POD_H2_PORT] } });
  const client = http2.connect(`http://${pod.ns.podIp}:${POD_H2_PORT}`);
  t.after(() => client.destroy());
  const call = (headers: Record<string, string>) => new Promise<{ servedBy: string; body: string; trailer: string }>((resolve, reject) => {
    const req = client.request({ ':path': '/svc.Greeter/Hello', ':method': 'POST', 'content-type': 'application/grpc', ...headers });
    let servedBy = '';
    let trailer = '';
    let body = '';
    req.on('response', (h) => { servedBy = String(h['x-served-by']); });
    req.on('trailers', (h) => { trailer = String(h['x-trailer']); });
    req.on('data', (d: Buffer) => { body += d.toString(); });
    req.on('end', () => resolve({ servedBy, body, trailer }));
    req.on('error', reject);
    req.end('payload');
  });
  const [mine, theirs] = await Promise.all([call({ 'x-user': 'me' }), call({})]);
  assert.deepEqual(mine, { servedBy: 'user', body: 'user h2 /svc.Greeter/Hello', trailer: 'user' });
  assert.deepEqual(theirs, { servedBy: 'original', body: 'original h2 /svc.Greeter/Hello body=7', trailer: 'original' });
});

test('a filtered steal whose user app is gone answers 502 and the client does not hang', { skip }, async (t) => {
  const { pod, cli } = await podWithFilter(t, { header: 'x-user: me' });
  cli.userPorts.delete(POD_H1_PORT);
  const res = await httpGet(pod.ns.podIp, POD_H1_PORT, '/', { headers: { 'x-user': 'me' } });
  assert.equal(res.status, 502);
  assert.match(res.body, /the user's app/);
  assert.equal((await httpGet(pod.ns.podIp, POD_H1_PORT, '/')).servedBy, 'original');
});
