/**
 * Test support: iptables and ipset replaced by fakes that record each call and keep the state a
 * real table and set would (chains, rules, set elements), so tests without root can check what
 * IncomingTraffic leaves in place. The fakes' restore binaries do not exist, so batches run call
 * by call through run() (iptables.ts falls back to that when the restore binary is missing).
 */
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { Iptables, IptablesError, type Table } from '../../../agent/incoming/iptables.ts';
import { Ipset } from '../../../agent/incoming/ipset.ts';

/** Records calls; keeps chains and rules; a `-D` of the REDIRECT of `failPort` fails. */
export class FakeIptables extends Iptables {
  readonly calls: string[] = [];
  readonly chains = new Set<string>();
  /** `<table> <rule args>` of every rule in place. */
  readonly rules = new Set<string>();
  failPort = 0;
  constructor() { super('true'); }
  override run(args: string[], table: Table = 'nat'): Promise<string> {
    this.calls.push(`${table} ${args.join(' ')}`);
    const [op, chain, ...rest] = args;
    if (op === '-N') this.chains.add(`${table} ${chain}`);
    if (op === '-X') this.chains.delete(`${table} ${chain}`);
    if (op === '-F') for (const r of [...this.rules]) if (r.startsWith(`${table} ${chain} `)) this.rules.delete(r);
    if (op === '-S') return Promise.resolve([...this.chains].filter((c) => c.startsWith(`${table} `)).map((c) => `-N ${c.split(' ')[1]}`).join('\n'));
    if (op === '-D' && table === 'nat' && args.includes(String(this.failPort)) && args.includes('REDIRECT')) {
      return Promise.reject(new IptablesError(this.binary, args, 'iptables: Bad rule (does a matching rule exist in that chain?).', 1));
    }
    if (op === '-A') this.rules.add(`${table} ${chain} ${rest.join(' ')}`);
    if (op === '-D' && !this.rules.delete(`${table} ${chain} ${rest.join(' ')}`) && chain !== 'PREROUTING' && chain !== 'INPUT') {
      return Promise.reject(new IptablesError(this.binary, args, 'iptables: Bad rule (does a matching rule exist in that chain?).', 1));
    }
    return Promise.resolve('');
  }

  /** The nat REDIRECT rules in place, as `<port>`. */
  redirectedPorts(): number[] {
    return [...this.rules].filter((r) => r.startsWith('nat ') && r.includes('REDIRECT')).map((r) => Number(/--dport (\d+)/.exec(r)?.[1])).sort((a, b) => a - b);
  }
}

/** Records calls; keeps sets and their elements. */
export class FakeIpset extends Ipset {
  readonly calls: string[] = [];
  readonly sets = new Map<string, Set<string>>();
  /** The command lines of each restore run. */
  readonly restores: string[][] = [];
  constructor() { super('true'); }
  override run(args: string[]): Promise<string> {
    this.calls.push(args.join(' '));
    const [op, ...rest] = args.filter((a) => a !== '-exist');
    const [name, element] = rest;
    if (op === 'create') this.sets.set(name, new Set());
    if (op === 'destroy') this.sets.delete(name);
    if (op === 'add') {
      if (!this.sets.has(name)) return Promise.reject(new Error(`ipset add: the set ${name} does not exist`));
      this.sets.get(name)!.add(element);
    }
    if (op === 'del') this.sets.get(name)?.delete(element);
    if (op === 'list') return Promise.resolve([...this.sets.keys()].join('\n'));
    return Promise.resolve('');
  }
  override async restore(commands: string[]): Promise<string> {
    this.restores.push(commands);
    for (const line of commands) await this.run(['-exist', ...line.split(' ')]);
    return '';
  }

  /** The elements of every set that has one. */
  liveElements(): string[] {
    return [...this.sets.values()].flatMap((s) => [...s]).sort();
  }
}

/** `n` TCP listeners on 127.0.0.1, playing the pod's apps (subscribe checks that the port listens). */
export async function listeners(n: number): Promise<Server[]> {
  return Promise.all(Array.from({ length: n }, async () => {
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    return server;
  }));
}
