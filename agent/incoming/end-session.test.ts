/**
 * endSession removes every rule it can and reports the rest: iptables and ipset replaced by fakes
 * that record each call, one REDIRECT refusing to go. No root needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Session } from '../../src/session/session.ts';
import { silentLog } from '../log.ts';
import { IncomingTraffic } from './incoming-traffic.ts';
import { FakeIpset, FakeIptables, listeners } from '../../test/support/agent-incoming/fake-netfilter.ts';

test('endSession removes every rule it can, and reports the port whose rule would not go', async (t) => {
  const iptables = new FakeIptables();
  const ip6tables = new FakeIptables();
  const incoming = new IncomingTraffic({ log: silentLog, iptables, ip6tables, ipset: new FakeIpset() });
  const servers = await listeners(4);
  t.after(async () => { await incoming.close(); for (const s of servers) s.close(); });
  const [a, b, c, d] = servers.map((s) => (s.address() as AddressInfo).port);
  const ending = {} as Session;
  const staying = {} as Session;
  for (const port of [a, b, c]) await incoming.subscribe(ending, { port, mode: 'steal' });
  await incoming.subscribe(staying, { port: d, mode: 'steal' });
  iptables.failPort = b;
  iptables.calls.length = 0;
  ip6tables.calls.length = 0;

  const failures = await incoming.endSession(ending);

  assert.deepEqual(failures.map((f) => f.port), [b]);
  assert.match(failures[0].error, /Bad rule/);
  const deleted = (fake: FakeIptables, port: number) => fake.calls.some((c) => c.startsWith('nat -D') && c.includes(`--dport ${port} `) && c.includes('REDIRECT'));
  assert.ok(deleted(iptables, a) && deleted(iptables, c), `the ports after the failing one were removed too:\n${iptables.calls.join('\n')}`);
  assert.ok([a, b, c].every((port) => deleted(ip6tables, port)), `IPv6 removed every port, the one stuck in IPv4 too:\n${ip6tables.calls.join('\n')}`);
  assert.ok(!deleted(iptables, d) && !deleted(ip6tables, d), 'the other session keeps its port');
  assert.equal(incoming.subscriptionCount, 1);
});

test('endSession of the last ports removes the chain, which takes a stuck rule along: nothing to report', async (t) => {
  const iptables = new FakeIptables();
  const ip6tables = new FakeIptables();
  const incoming = new IncomingTraffic({ log: silentLog, iptables, ip6tables, ipset: new FakeIpset() });
  const servers = await listeners(2);
  t.after(async () => { await incoming.close(); for (const s of servers) s.close(); });
  const [a, b] = servers.map((s) => (s.address() as AddressInfo).port);
  const session = {} as Session;
  for (const port of [a, b]) await incoming.subscribe(session, { port, mode: 'steal' });
  iptables.failPort = a;
  assert.deepEqual(await incoming.endSession(session), []);
  for (const [family, fake] of [['IPv4', iptables], ['IPv6', ip6tables]] as const) {
    for (const table of ['nat', 'filter']) {
      assert.ok(fake.calls.includes(`${table} -X ${incoming.chain}`), `the ${family} ${table} chain was removed:\n${fake.calls.join('\n')}`);
    }
  }
});
