/**
 * Mirror, end to end in a namespace playing the pod: the original app answers every connection,
 * the user's app gets a copy, and with no user app the original app is unaffected while the
 * drops are counted and reported. Root only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { IncomingFixture, POD_H1_PORT, httpGet } from '../../test/support/agent-incoming/incoming-fixture.ts';
import { isRoot } from '../../test/support/agent-incoming/netns.ts';

const skip = isRoot ? false : 'needs root (network namespaces, iptables)';

test('mirror: the original app answers and the user app receives a copy', { skip }, async (t) => {
  const pod = await IncomingFixture.create(t);
  const agent = await pod.startAgent();
  const cli = await pod.connectCli(agent);
  const copies: Array<{ method: string; url: string; header: string }> = [];
  cli.userPorts.set(POD_H1_PORT, await pod.userHttp1App((req: IncomingMessage) => {
    copies.push({ method: req.method!, url: req.url!, header: String(req.headers['x-who'] ?? '') });
  }));
  await cli.subscribe({ port: POD_H1_PORT, mode: 'mirror' });
  for (let i = 0; i < 3; i++) {
    const res = await httpGet(pod.ns.podIp, POD_H1_PORT, `/mirrored/${i}`, { headers: { 'x-who': 'me' } });
    assert.equal(res.servedBy, 'original');
    assert.equal(res.body, `original GET /mirrored/${i} body=0`);
  }
  await waitFor(() => copies.length === 3, 'three copies');
  assert.deepEqual(copies.map((c) => c.url).sort(), ['/mirrored/0', '/mirrored/1', '/mirrored/2']);
  assert.ok(copies.every((c) => c.header === 'me'));
  assert.deepEqual(cli.notices, []);
});

test('mirror: with no user app the original app still answers, drops are counted and reported', { skip }, async (t) => {
  const pod = await IncomingFixture.create(t);
  const agent = await pod.startAgent();
  const cli = await pod.connectCli(agent);
  await cli.subscribe({ port: POD_H1_PORT, mode: 'mirror' });
  const n = 20;
  await Promise.all(Array.from({ length: n }, async (_, i) => {
    const res = await httpGet(pod.ns.podIp, POD_H1_PORT, `/r${i}`);
    assert.equal(res.servedBy, 'original');
  }));
  // Notices are rate-limited to one per second per port; the last one carries the full count.
  await waitFor(() => cli.notices.some((b) => (b as { dropped: number }).dropped === n), `a notice counting ${n} drops`, 5_000);
  const last = cli.notices.at(-1) as Record<string, unknown>;
  assert.deepEqual(last, { kind: 'mirrorDropped', port: POD_H1_PORT, dropped: n, total: n });
  assert.ok(cli.notices.length <= 3, `rate-limited: ${cli.notices.length} notices`);
});

async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for: ${what}`);
}

test('mirror: a user app that never reads does not slow the original app; its copy is dropped', { skip }, async (t) => {
  const pod = await IncomingFixture.create(t);
  const agent = await pod.startAgent();
  const cli = await pod.connectCli(agent);
  const { createServer } = await import('node:net');
  const stuck = createServer((s) => s.pause()).listen(0, '127.0.0.1');
  await new Promise((r) => stuck.once('listening', r));
  t.after(() => stuck.close());
  cli.userPorts.set(POD_H1_PORT, (stuck.address() as { port: number }).port);
  await cli.subscribe({ port: POD_H1_PORT, mode: 'mirror' });
  const { request } = await import('node:http');
  const size = 64 * 1024 * 1024;
  const answer = await new Promise<string>((resolve, reject) => {
    const req = request({ host: pod.ns.podIp, port: POD_H1_PORT, method: 'POST', path: '/big', agent: false,
      headers: { 'content-length': String(size) } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    let sent = 0;
    const pump = () => {
      while (sent < size) {
        sent += chunk.length;
        if (!req.write(chunk)) { req.once('drain', pump); return; }
      }
      req.end();
    };
    pump();
  });
  assert.equal(answer, `original POST /big body=${size}`);
  await waitFor(() => cli.notices.length > 0, 'a drop notice');
  assert.deepEqual(cli.notices.at(-1), { kind: 'mirrorDropped', port: POD_H1_PORT, dropped: 1, total: 1 });
});
