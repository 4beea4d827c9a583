/**
 * Redirects that expire by themselves, and listeners that take only what the redirect sends: a real
 * agent and guard in a namespace playing the pod, real iptables and ipset. Root only. No timing is
 * asserted: the waits are many times the documented bound (ipset.ts REDIRECT_TTL_S).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { readdirSync, readFileSync } from 'node:fs';
import { IncomingFixture, POD_H1_PORT, httpGet } from '../../test/support/agent-incoming/incoming-fixture.ts';
import { isRoot } from '../../test/support/agent-incoming/netns.ts';

const skip = isRoot ? false : 'needs root (network namespaces, iptables, ipset)';
const WIDE_MS = 60_000;

/** Pids whose parent is `pid` (the guard is the agent's child, in a session of its own). */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry));
    } catch { /* gone */ }
  }
  return found;
}

/** Who answers `port` now: 'original', 'user', or the error code. */
async function whoAnswers(host: string, port: number): Promise<string> {
  return httpGet(host, port, '/who').then((r) => r.servedBy, (e: NodeJS.ErrnoException) => e.code ?? e.message);
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = WIDE_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting for: ${what}`);
}

test('agent and guard SIGKILLed together: the redirect lapses by itself; the next agent removes what is left', { skip }, async (t) => {
  const pod = await IncomingFixture.create(t);
  const agent = await pod.startAgent();
  const cli = await pod.connectCli(agent);
  cli.userPorts.set(POD_H1_PORT, await pod.userHttp1App());
  await cli.subscribe({ port: POD_H1_PORT, mode: 'steal' });
  assert.equal(await whoAnswers(pod.ns.podIp, POD_H1_PORT), 'user');
  const rules = await pod.kmrdRules();
  assert.ok(rules.some((l) => /--match-set KMRD-[0-9a-f]{8}-8080 dst/.test(l)), `the REDIRECT matches the port's set:\n${rules.join('\n')}`);

  // What containerd does to a container whose main process exited: every process, at once.
  const guards = childrenOf(agent.child.pid!);
  assert.equal(guards.length, 1, 'the agent runs one guard');
  for (const pid of [agent.child.pid!, ...guards]) process.kill(pid, 'SIGKILL');
  await waitFor(async () => await whoAnswers(pod.ns.podIp, POD_H1_PORT) === 'original', 'the original app answers its port again');
  assert.ok((await pod.kmrdRules()).some((l) => l.includes('REDIRECT')), 'the dead agent\'s rule is still there, inert');

  const next = await pod.startAgent();
  const nextCli = await pod.connectCli(next);
  const { subscription } = await nextCli.subscribe({ port: POD_H1_PORT, mode: 'steal' });
  await nextCli.unsubscribe(subscription);
  await pod.endAndExpectNoRules(nextCli);
  assert.match(next.stderr(), /removed iptables rules left by a dead agent/);
  assert.match(next.stderr(), /removed an ipset left by a dead agent/);
});

test('a stopped agent lets the steal lapse; after SIGCONT it renews the redirect', { skip }, async (t) => {
  const pod = await IncomingFixture.create(t);
  const agent = await pod.startAgent();
  const cli = await pod.connectCli(agent);
  cli.userPorts.set(POD_H1_PORT, await pod.userHttp1App());
  await cli.subscribe({ port: POD_H1_PORT, mode: 'steal' });
  assert.equal(await whoAnswers(pod.ns.podIp, POD_H1_PORT), 'user');

  agent.child.kill('SIGSTOP');
  try {
    await waitFor(async () => await whoAnswers(pod.ns.podIp, POD_H1_PORT) === 'original', 'the target answers its own traffic while the agent is stopped');
  } finally {
    agent.child.kill('SIGCONT');
  }
  await waitFor(async () => await whoAnswers(pod.ns.podIp, POD_H1_PORT) === 'user', 'the steal is back after SIGCONT');
  assert.match(agent.stderr(), /the redirect had lapsed .* and is renewed/);
});

test('a connection straight to the redirect listener is refused; redirected ones get through', { skip }, async (t) => {
  const pod = await IncomingFixture.create(t);
  const agent = await pod.startAgent();
  const cli = await pod.connectCli(agent);
  cli.userPorts.set(POD_H1_PORT, await pod.userHttp1App());
  await cli.subscribe({ port: POD_H1_PORT, mode: 'steal' });
  const rule = (await pod.kmrdRules()).find((l) => l.includes('REDIRECT'))!;
  const listenerPort = Number(/--to-ports (\d+)/.exec(rule)?.[1]);
  assert.ok(listenerPort > 0, rule);

  const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    const socket = connect({ host: pod.ns.podIp, port: listenerPort });
    socket.once('connect', () => { socket.destroy(); resolve(undefined); });
    socket.once('error', resolve);
  });
  assert.equal(err?.code, 'ECONNREFUSED', `another host dialling ${pod.ns.podIp}:${listenerPort} straight away must be refused`);
  assert.equal(await whoAnswers(pod.ns.podIp, POD_H1_PORT), 'user', 'the redirected port still reaches the user app');
  assert.equal(cli.streams.length, 1, 'only the redirected connection reached the CLI');
});

test('without ipset the agent says loudly that redirects will not expire, and steals all the same', { skip }, async (t) => {
  const pod = await IncomingFixture.create(t);
  const agent = await pod.startAgent({ MIRRORD_AGENT_IPSET: '/nonexistent/ipset' });
  const cli = await pod.connectCli(agent);
  cli.userPorts.set(POD_H1_PORT, await pod.userHttp1App());
  const { subscription } = await cli.subscribe({ port: POD_H1_PORT, mode: 'steal' });
  assert.equal(await whoAnswers(pod.ns.podIp, POD_H1_PORT), 'user');
  assert.match(agent.stderr(), /REDIRECTS WILL NOT EXPIRE BY THEMSELVES.*cannot run \/nonexistent\/ipset/);
  assert.ok(!(await pod.kmrdRules()).some((l) => l.includes('--match-set')), 'the fallback rule matches no set');
  await cli.unsubscribe(subscription);
  assert.deepEqual(await pod.kmrdRules(), [], 'without a set there is nothing to park: the rules go at once');
});

test('with NET_ADMIN but not NET_RAW, iptables cannot match the set: the agent names the missing capability and steals unguarded by expiry', { skip }, async (t) => {
  const pod = await IncomingFixture.create(t);
  const agent = await pod.startAgent({}, ['setpriv', '--inh-caps=-all', '--bounding-set=-all,+net_admin', '--']);
  const cli = await pod.connectCli(agent);
  cli.userPorts.set(POD_H1_PORT, await pod.userHttp1App());
  const { subscription } = await cli.subscribe({ port: POD_H1_PORT, mode: 'steal' });
  assert.equal(await whoAnswers(pod.ns.podIp, POD_H1_PORT), 'user');
  assert.match(agent.stderr(), /REDIRECTS WILL NOT EXPIRE BY THEMSELVES.*needs CAP_NET_RAW/);
  await cli.unsubscribe(subscription);
  assert.deepEqual(await pod.kmrdRules(), [], 'the fallback leaves no set behind either, and parks nothing');
});
