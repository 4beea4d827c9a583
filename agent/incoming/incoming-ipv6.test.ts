/**
 * IPv6: the pod namespace is dual-stack, as a pod is, and the agent redirects its IPv6 clients as
 * it does its IPv4 ones (redirect-rules.ts); where IPv6 cannot be redirected it says so once and
 * redirects IPv4 alone. A real agent, real iptables and ip6tables, real clients. Root only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { IncomingFixture, POD_H1_PORT, httpGet } from '../../test/support/agent-incoming/incoming-fixture.ts';
import { isRoot } from '../../test/support/agent-incoming/netns.ts';

const skip = isRoot ? false : 'needs root (network namespaces, iptables, ip6tables)';
const NO_IPV6 = /IPv6 connections are not redirected \(IPv4 only\)/g;

async function whoAnswers(host: string, port: number): Promise<string> {
  return httpGet(host, port, '/who').then((r) => r.servedBy, (e: NodeJS.ErrnoException) => e.code ?? e.message);
}

test('steal over IPv6: the user app answers, the CLI sees the client\'s IPv6 address; the session\'s end removes both families\' rules', { skip }, async (t) => {
  const pod = await IncomingFixture.create(t);
  const agent = await pod.startAgent();
  const cli = await pod.connectCli(agent);
  cli.userPorts.set(POD_H1_PORT, await pod.userHttp1App());
  assert.equal(await whoAnswers(pod.ns.podIp6, POD_H1_PORT), 'original', 'the pod app answers IPv6 before the steal');

  const { subscription } = await cli.subscribe({ port: POD_H1_PORT, mode: 'steal' });
  const stolen = await httpGet(pod.ns.podIp6, POD_H1_PORT, '/v6');
  assert.equal(stolen.body, 'user GET /v6 body=0');
  const open = cli.streams.at(-1)!.open;
  assert.deepEqual(open.destination, { host: pod.ns.podIp6, port: POD_H1_PORT });
  assert.equal(open.source?.host, pod.ns.hostIp6);
  assert.equal(await whoAnswers(pod.ns.podIp, POD_H1_PORT), 'user', 'IPv4 is stolen as well');
  assert.equal(cli.streams.at(-1)!.open.source?.host, pod.ns.hostIp, 'an IPv4 client on the dual-stack listener is reported in plain IPv4');

  const rules = await pod.kmrdRules();
  assert.ok(rules.some((l) => l.startsWith('ip6: ') && l.includes(`--dport ${POD_H1_PORT}`) && /--match-set KMRD-[0-9a-f]{8}-8080 dst/.test(l) && l.includes('REDIRECT')),
    `an expiring IPv6 REDIRECT:\n${rules.join('\n')}`);
  assert.ok(rules.some((l) => l.startsWith('ip6: ') && l.includes('! --ctstate DNAT') && l.includes('tcp-reset')), `the IPv6 listener REJECT:\n${rules.join('\n')}`);
  assert.doesNotMatch(agent.stderr(), NO_IPV6);

  await cli.unsubscribe(subscription);
  assert.equal(await whoAnswers(pod.ns.podIp6, POD_H1_PORT), 'original', 'the parked port\'s IPv6 REDIRECT matches nothing');
  await pod.endAndExpectNoRules(cli);
});

test('mirror over IPv6: the original app answers, the copy carries the client\'s IPv6 address', { skip }, async (t) => {
  const pod = await IncomingFixture.create(t);
  const agent = await pod.startAgent();
  const cli = await pod.connectCli(agent);
  const copies: string[] = [];
  cli.userPorts.set(POD_H1_PORT, await pod.userHttp1App((req: IncomingMessage) => copies.push(req.url!)));
  await cli.subscribe({ port: POD_H1_PORT, mode: 'mirror' });
  const res = await httpGet(pod.ns.podIp6, POD_H1_PORT, '/mirrored-v6');
  assert.equal(res.servedBy, 'original');
  assert.equal(res.body, 'original GET /mirrored-v6 body=0');
  const deadline = Date.now() + 10_000;
  while (copies.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(copies, ['/mirrored-v6']);
  assert.equal(cli.streams.at(-1)!.open.source?.host, pod.ns.hostIp6);
});

test('a connection straight to the redirect listener over IPv6 is refused', { skip }, async (t) => {
  const pod = await IncomingFixture.create(t);
  const agent = await pod.startAgent();
  const cli = await pod.connectCli(agent);
  cli.userPorts.set(POD_H1_PORT, await pod.userHttp1App());
  await cli.subscribe({ port: POD_H1_PORT, mode: 'steal' });
  const rule = (await pod.kmrdRules()).find((l) => l.startsWith('ip6: ') && l.includes('REDIRECT'))!;
  const listenerPort = Number(/--to-ports (\d+)/.exec(rule)?.[1]);
  assert.ok(listenerPort > 0, rule);
  const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    const socket = connect({ host: pod.ns.podIp6, port: listenerPort });
    socket.once('connect', () => { socket.destroy(); resolve(undefined); });
    socket.once('error', resolve);
  });
  assert.equal(err?.code, 'ECONNREFUSED', `dialling [${pod.ns.podIp6}]:${listenerPort} straight away must be refused`);
  assert.equal(await whoAnswers(pod.ns.podIp6, POD_H1_PORT), 'user');
  assert.equal(cli.streams.length, 1, 'only the redirected connection reached the CLI');
});

test('without ip6tables the agent says so once and steals IPv4 alone', { skip }, async (t) => {
  const pod = await IncomingFixture.create(t);
  const agent = await pod.startAgent({ MIRRORD_AGENT_IP6TABLES: '/nonexistent/ip6tables' });
  // Two sessions, one after the other: the agent makes its chain twice, and says it once.
  const first = await pod.connectCli(agent);
  await first.subscribe({ port: POD_H1_PORT, mode: 'steal' });
  await pod.endAndExpectNoRules(first);
  const cli = await pod.connectCli(agent);
  cli.userPorts.set(POD_H1_PORT, await pod.userHttp1App());
  const { subscription } = await cli.subscribe({ port: POD_H1_PORT, mode: 'steal' });
  assert.equal(await whoAnswers(pod.ns.podIp, POD_H1_PORT), 'user');
  assert.equal(await whoAnswers(pod.ns.podIp6, POD_H1_PORT), 'original', 'IPv6 clients still reach the pod app');
  const lines = agent.stderr().match(NO_IPV6) ?? [];
  assert.equal(lines.length, 1, `one line, for the agent's life:\n${agent.stderr()}`);
  assert.match(agent.stderr(), /cannot run \/nonexistent\/ip6tables: not found/);
  assert.ok(!(await pod.kmrdRules()).some((l) => l.startsWith('ip6: ')), 'no IPv6 rule');
  await cli.unsubscribe(subscription);
  await pod.endAndExpectNoRules(cli);
});

test('with IPv6 disabled in the pod the agent says so once and steals IPv4 alone', { skip }, async (t) => {
  const pod = await IncomingFixture.create(t);
  await pod.ns.exec('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
  const agent = await pod.startAgent();
  const cli = await pod.connectCli(agent);
  cli.userPorts.set(POD_H1_PORT, await pod.userHttp1App());
  const { subscription } = await cli.subscribe({ port: POD_H1_PORT, mode: 'steal' });
  assert.equal(await whoAnswers(pod.ns.podIp, POD_H1_PORT), 'user');
  assert.equal((agent.stderr().match(NO_IPV6) ?? []).length, 1, agent.stderr());
  assert.match(agent.stderr(), /disable_ipv6 is 1/);
  assert.ok(!(await pod.kmrdRules()).some((l) => l.startsWith('ip6: ')), 'no IPv6 rule');
  await cli.unsubscribe(subscription);
  await pod.endAndExpectNoRules(cli);
});
