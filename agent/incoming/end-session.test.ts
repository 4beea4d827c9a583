/**
 * endSession removes every rule it can and reports the rest: iptables and ipset replaced by fakes
 * that record each call, one REDIRECT refusing to go. No root needed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { once } from 'node:events';
import type { Session } from '../../src/session/session.ts';
import { silentLog } from '../log.ts';
import { IncomingTraffic } from './incoming-traffic.ts';
import { Iptables, IptablesError, type Table } from './iptables.ts';
import { Ipset } from './ipset.ts';

/**
 * Records calls; `-S` lists the chains made; a `-D` of the REDIRECT of `failPort` fails. Its
 * restore binary (`true-restore`) does not exist, so batches run call by call through run().
 */
class FakeIptables extends Iptables {
  readonly calls: string[] = [];
  readonly #chains = new Set<string>();
  failPort = 0;
  constructor() { super('true'); }
  override run(args: string[], table: Table = 'nat'): Promise<string> {
    this.calls.push(`${table} ${args.join(' ')}`);
    if (args[0] === '-N') this.#chains.add(`${table} ${args[1]}`);
    if (args[0] === '-X') this.#chains.delete(`${table} ${args[1]}`);
    if (args[0] === '-S') return Promise.resolve([...this.#chains].filter((c) => c.startsWith(`${table} `)).map((c) => `-N ${c.split(' ')[1]}`).join('\n'));
    if (args[0] === '-D' && table === 'nat' && args.includes(String(this.failPort)) && args.includes('REDIRECT')) {
      return Promise.reject(new IptablesError(this.binary, args, 'iptables: Bad rule (does a matching rule exist in that chain?).', 1));
    }
    return Promise.resolve('');
  }
}

class FakeIpset extends Ipset {
  constructor() { super('true'); }
  override run(): Promise<string> { return Promise.resolve(''); }
}

async function listeners(n: number): Promise<Server[]> {
  return Promise.all(Array.from({ length: n }, async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    return server;
  }));
}

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
