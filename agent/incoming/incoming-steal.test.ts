/**
 * Whole-connection steal, end to end in a namespace playing the pod: a real agent process, real
 * iptables, a real client on the host. Root only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { once } from 'node:events';
import { IncomingFixture, POD_H1_PORT, httpGet } from '../../test/support/agent-incoming/incoming-fixture.ts';
import { isRoot } from '../../test/support/agent-incoming/netns.ts';

const skip = isRoot ? false : 'needs root (network namespaces, iptables)';

test('steal: the user app answers; unsubscribe gives the port back at once, the session\'s end removes the rules', { skip }, async (t) => {
  const pod = await IncomingFixture.create(t);
  const agent = await pod.startAgent();
  const cli = await pod.connectCli(agent);
  cli.userPorts.set(POD_H1_PORT, await pod.userHttp1App());

  assert.equal((await httpGet(pod.ns.podIp, POD_H1_PORT, '/before')).servedBy, 'original');
  const { subscription } = await cli.subscribe({ port: POD_H1_PORT, mode: 'steal' });
  const stolen = await httpGet(pod.ns.podIp, POD_H1_PORT, '/stolen');
  assert.equal(stolen.servedBy, 'user');
  assert.equal(stolen.body, 'user GET /stolen body=0');
  // The agent tells the CLI who the client was and where it meant to go.
  const open = cli.streams.at(-1)!.open;
  assert.deepEqual(open.destination, { host: pod.ns.podIp, port: POD_H1_PORT });
  assert.equal(open.source?.host, pod.ns.hostIp);

  const rules = await pod.kmrdRules();
  assert.ok(rules.some((l) => /-A PREROUTING -p tcp -m comment --comment "kubectl-mirrord agent [0-9a-f]{8} pid \d+ start \d+/.test(l)), rules.join('\n'));
  assert.ok(rules.some((l) => l.includes(`--dport ${POD_H1_PORT}`) && l.includes('REDIRECT')), rules.join('\n'));

  await cli.unsubscribe(subscription);
  assert.equal((await httpGet(pod.ns.podIp, POD_H1_PORT, '/after')).servedBy, 'original');
  // Parked: the port's element left its set, so the REDIRECT that stays for a while matches nothing.
  assert.deepEqual([...(await pod.setMembers()).values()], [[]], 'the port\'s set is empty');
  const again = await cli.subscribe({ port: POD_H1_PORT, mode: 'steal' });
  assert.equal((await httpGet(pod.ns.podIp, POD_H1_PORT, '/again')).servedBy, 'user', 'a new subscribe takes the parked port back');
  assert.deepEqual([...(await pod.setMembers()).values()], [[String(POD_H1_PORT)]]);
  await cli.unsubscribe(again.subscription);
  assert.equal((await httpGet(pod.ns.podIp, POD_H1_PORT, '/after-again')).servedBy, 'original');
  await pod.endAndExpectNoRules(cli);
});

test('steal: with no user app listening the client is reset at once', { skip }, async (t) => {
  const pod = await IncomingFixture.create(t);
  const agent = await pod.startAgent();
  const cli = await pod.connectCli(agent);
  await cli.subscribe({ port: POD_H1_PORT, mode: 'steal' });
  // No user app for the port: the CLI resets each stream with reason refused.
  const err = await httpGet(pod.ns.podIp, POD_H1_PORT, '/').then(() => undefined, (e: NodeJS.ErrnoException) => e);
  assert.ok(err, 'the request must fail');
  assert.match(String(err.code), /ECONNRESET|ECONNREFUSED|EPIPE/);
});

test('steal: half-close passes through both ways', { skip }, async (t) => {
  const pod = await IncomingFixture.create(t);
  const agent = await pod.startAgent();
  const cli = await pod.connectCli(agent);
  // The user app echoes, and only answers once the client has finished sending.
  const { createServer } = await import('node:net');
  const echo = createServer({ allowHalfOpen: true }, (s) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => s.end(Buffer.concat(parts).toString().toUpperCase()));
  }).listen(0, '127.0.0.1');
  await once(echo, 'listening');
  t.after(() => echo.close());
  cli.userPorts.set(POD_H1_PORT, (echo.address() as { port: number }).port);
  await cli.subscribe({ port: POD_H1_PORT, mode: 'steal' });
  const client = connect({ host: pod.ns.podIp, port: POD_H1_PORT, allowHalfOpen: true });
  await once(client, 'connect');
  client.end('half closed');
  let answer = '';
  client.on('data', (d: Buffer) => { answer += d.toString(); });
  await once(client, 'end');
  assert.equal(answer, 'HALF CLOSED');
  client.destroy();
});

test('session end and SIGTERM remove the rules; SIGKILL leaves them to the guard', { skip }, async (t) => {
  const pod = await IncomingFixture.create(t);
  const agent = await pod.startAgent();
  const cli = await pod.connectCli(agent);
  await cli.subscribe({ port: POD_H1_PORT, mode: 'steal' });
  cli.session.destroy();
  await waitFor(async () => (await pod.kmrdRules()).length === 0, 'rules gone after the session ended');
  assert.equal((await httpGet(pod.ns.podIp, POD_H1_PORT, '/')).servedBy, 'original');

  const cli2 = await pod.connectCli(agent);
  await cli2.subscribe({ port: POD_H1_PORT, mode: 'steal' });
  assert.notDeepEqual(await pod.kmrdRules(), []);
  agent.child.kill('SIGTERM');
  await once(agent.child, 'exit');
  assert.deepEqual(await pod.kmrdRules(), [], 'SIGTERM: the agent removed its rules before exiting');

  const agent3 = await pod.startAgent();
  const cli3 = await pod.connectCli(agent3);
  await cli3.subscribe({ port: POD_H1_PORT, mode: 'steal' });
  assert.notDeepEqual(await pod.kmrdRules(), []);
  agent3.child.kill('SIGKILL');
  await waitFor(async () => (await pod.kmrdRules()).length === 0, 'the guard removed the rules after SIGKILL');
  assert.equal((await httpGet(pod.ns.podIp, POD_H1_PORT, '/')).servedBy, 'original');
});

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for: ${what}`);
}
