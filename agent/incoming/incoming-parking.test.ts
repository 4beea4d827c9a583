/**
 * Parked ports and subscriptions that churn: iptables and ipset replaced by fakes that keep their
 * state (test/support/agent-incoming/fake-netfilter.ts). No root needed. The invariant checked throughout: a port
 * with a subscription has its REDIRECT in both families and a live set element; a port without
 * one has no live element (parked) or no rules at all.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Session } from '../../src/session/session.ts';
import { silentLog } from '../log.ts';
import { IncomingTraffic } from './incoming-traffic.ts';
import { FakeIpset, FakeIptables, listeners } from '../../test/support/agent-incoming/fake-netfilter.ts';

function setup(t: { after(fn: () => unknown): void }, parkMs = 60_000) {
  const iptables = new FakeIptables();
  const ip6tables = new FakeIptables();
  const ipset = new FakeIpset();
  const incoming = new IncomingTraffic({ log: silentLog, iptables, ip6tables, ipset, parkMs });
  t.after(() => incoming.close());
  return { iptables, ip6tables, ipset, incoming };
}

async function ports(t: { after(fn: () => unknown): void }, n: number): Promise<number[]> {
  const servers = await listeners(n);
  t.after(() => { for (const s of servers) s.close(); });
  return servers.map((s) => (s.address() as AddressInfo).port);
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(check(), `timed out waiting for: ${what}`);
}

test('unsubscribe parks the port with one ipset del; a new subscribe takes it back with one ipset add; PARK_MS later the rules go', async (t) => {
  const { iptables, ip6tables, ipset, incoming } = setup(t, 300);
  const [port] = await ports(t, 1);
  const session = {} as Session;
  const { subscription } = await incoming.subscribe(session, { port, mode: 'steal' });
  assert.deepEqual([iptables.redirectedPorts(), ip6tables.redirectedPorts(), ipset.liveElements()], [[port], [port], [String(port)]]);

  const before = { v4: iptables.calls.length, v6: ip6tables.calls.length, ipset: ipset.calls.length };
  await incoming.unsubscribe(session, { subscription });
  assert.deepEqual(ipset.liveElements(), [], 'the element is out: the REDIRECT matches nothing');
  assert.deepEqual(ipset.calls.slice(before.ipset), [`del -exist ${incoming.chain}-${port} ${port}`]);
  assert.equal(iptables.calls.length + ip6tables.calls.length, before.v4 + before.v6, 'no iptables run for a park');

  const again = await incoming.subscribe(session, { port, mode: 'mirror' });
  assert.deepEqual(ipset.liveElements(), [String(port)]);
  assert.equal(iptables.calls.length + ip6tables.calls.length, before.v4 + before.v6, 'no iptables run to take a parked port back');
  await incoming.unsubscribe(session, { subscription: again.subscription });

  await waitFor(() => iptables.chains.size === 0 && ip6tables.chains.size === 0, 'the parked port\'s rules and the chain are removed after PARK_MS');
  assert.deepEqual([iptables.rules.size, ip6tables.rules.size, ipset.sets.size], [0, 0, 0]);
});

test('the end of the session that parked a port removes it at once; another session\'s parked port stays', async (t) => {
  const { iptables, ipset, incoming } = setup(t);
  const [a, b] = await ports(t, 2);
  const one = {} as Session;
  const two = {} as Session;
  await incoming.unsubscribe(one, await incoming.subscribe(one, { port: a, mode: 'steal' }));
  await incoming.unsubscribe(two, await incoming.subscribe(two, { port: b, mode: 'steal' }));
  assert.deepEqual(iptables.redirectedPorts(), [a, b].sort((x, y) => x - y), 'both parked');
  assert.deepEqual(await incoming.endSession(one), []);
  assert.deepEqual(iptables.redirectedPorts(), [b]);
  assert.deepEqual(await incoming.endSession(two), []);
  assert.deepEqual([iptables.chains.size, iptables.rules.size, ipset.sets.size], [0, 0, 0]);
});

test('concurrent subscribes and unsubscribes of one port by several sessions leave it redirected exactly while subscribed', async (t) => {
  const { iptables, ip6tables, ipset, incoming } = setup(t);
  const [port] = await ports(t, 1);
  const sessions = Array.from({ length: 4 }, () => ({}) as Session);
  const check = () => {
    const subscribed = incoming.subscriptionCount > 0;
    assert.equal(ipset.liveElements().includes(String(port)), subscribed, `live element ⇔ subscribed (${incoming.subscriptionCount})`);
    if (subscribed) assert.deepEqual([iptables.redirectedPorts(), ip6tables.redirectedPorts()], [[port], [port]]);
    assert.ok(iptables.redirectedPorts().length <= 1, 'never two REDIRECTs for one port');
  };
  // Each session subscribes and unsubscribes 25 times, all four at once; requests interleave.
  await Promise.all(sessions.map(async (session, i) => {
    for (let round = 0; round < 25; round++) {
      const { subscription } = await incoming.subscribe(session, { port, mode: i % 2 ? 'mirror' : 'steal' });
      if ((round + i) % 3 === 0) await new Promise((r) => setImmediate(r));
      await incoming.unsubscribe(session, { subscription });
    }
  }));
  check();
  // One session keeps its subscription; the others end.
  await incoming.subscribe(sessions[0], { port, mode: 'steal' });
  for (const s of sessions.slice(1)) await incoming.endSession(s);
  check();
  assert.equal(incoming.subscriptionCount, 1);
  await incoming.endSession(sessions[0]);
  check();
  assert.deepEqual([iptables.chains.size, ip6tables.chains.size, iptables.rules.size, ip6tables.rules.size, ipset.sets.size], [0, 0, 0, 0, 0]);
});

test('50 ports subscribed at once, then the session ends: the chain goes in one removal per family, the sets in one ipset run', async (t) => {
  const { iptables, ip6tables, ipset, incoming } = setup(t);
  const many = await ports(t, 50);
  const session = {} as Session;
  await Promise.all(many.map((port) => incoming.subscribe(session, { port, mode: 'steal' })));
  assert.equal(iptables.redirectedPorts().length, 50);
  assert.equal(ip6tables.redirectedPorts().length, 50);
  assert.equal(ipset.liveElements().length, 50);
  const before = ipset.restores.length;
  iptables.calls.length = 0;
  assert.deepEqual(await incoming.endSession(session), []);
  assert.ok(!iptables.calls.some((c) => c.includes('-D KMRD')), `no rule is removed one by one:\n${iptables.calls.join('\n')}`);
  assert.deepEqual([iptables.chains.size, ip6tables.chains.size, iptables.rules.size, ip6tables.rules.size, ipset.sets.size], [0, 0, 0, 0, 0]);
  const runs = ipset.restores.slice(before);
  assert.equal(runs.length, 1, 'one ipset run');
  assert.equal(runs[0].filter((c) => c.startsWith('destroy ')).length, 50);
});

test('two concurrent subscribes of one port by one session: one succeeds, the other is refused EEXIST', async (t) => {
  const { iptables, incoming } = setup(t);
  const [port] = await ports(t, 1);
  const session = {} as Session;
  const results = await Promise.allSettled([incoming.subscribe(session, { port, mode: 'steal' }), incoming.subscribe(session, { port, mode: 'steal' })]);
  assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
  const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
  assert.match(refused.reason.message, /already subscribed by this session/);
  assert.equal(incoming.subscriptionCount, 1);
  assert.deepEqual(iptables.redirectedPorts(), [port]);
});
