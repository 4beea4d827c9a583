/**
 * Test support: a pod namespace with the original app (HTTP/1.1 on POD_H1_PORT, h2c on
 * POD_H2_PORT) and a real agent process (agent/main.ts) inside it, listening on the pod address,
 * plus helpers to start the user's apps on the host and to reach the pod as a client would.
 * Everything is torn down in the test's after hook, even when the test fails.
 */
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import http from 'node:http';
import http2 from 'node:http2';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { ChildProcess } from 'node:child_process';
import { PodNetns } from './netns.ts';
import { CliPeer } from './cli-peer.ts';

export const POD_H1_PORT = 8080;
export const POD_H2_PORT = 9090;
const AGENT_MAIN = fileURLToPath(new URL('../../../agent/main.ts', import.meta.url));
const POD_APP = fileURLToPath(new URL('./pod-app.ts', import.meta.url));

interface TestContext { after(fn: () => unknown): void }

export interface AgentProcess {
  child: ChildProcess;
  port: number;
  stderr(): string;
}

export class IncomingFixture {
  readonly ns: PodNetns;
  readonly token = randomBytes(32);
  readonly #closers: Array<() => unknown> = [];

  private constructor(ns: PodNetns) {
    this.ns = ns;
  }

  /** A pod namespace with the original app running. */
  static async create(t: TestContext): Promise<IncomingFixture> {
    const ns = await PodNetns.create();
    const fixture = new IncomingFixture(ns);
    t.after(() => fixture.close());
    await ns.start(process.execPath, [POD_APP, String(POD_H1_PORT), String(POD_H2_PORT)]);
    return fixture;
  }

  /** Starts an agent in the pod; `wrapper` runs it under another command (setpriv ...). */
  async startAgent(env: NodeJS.ProcessEnv = {}, wrapper: string[] = []): Promise<AgentProcess> {
    const hash = createHash('sha256').update(this.token).digest('hex');
    const args = [AGENT_MAIN, '--listen', `${this.ns.podIp}:0`, '--token-sha256', hash, '--idle-timeout', '600000', '--log-level', 'debug'];
    const [cmd, ...rest] = wrapper.length > 0 ? [...wrapper, process.execPath, ...args] : [process.execPath, ...args];
    const { child, ready, stderr } = await this.ns.start(cmd, rest, env);
    return { child, port: ready.port, stderr };
  }

  /** A CLI session to `agent`. */
  async connectCli(agent: AgentProcess): Promise<CliPeer> {
    const cli = await CliPeer.connect(this.ns.podIp, agent.port, this.token);
    this.#closers.push(() => cli.session.destroy());
    return cli;
  }

  /** The user's HTTP/1.1 app on 127.0.0.1 of the host; answers `user METHOD URL`. */
  async userHttp1App(onRequest?: (req: http.IncomingMessage) => void): Promise<number> {
    const server = http.createServer((req, res) => {
      onRequest?.(req);
      let bytes = 0;
      req.on('data', (d: Buffer) => { bytes += d.length; });
      req.on('end', () => {
        res.setHeader('x-served-by', 'user');
        res.end(`user ${req.method} ${req.url} body=${bytes}`);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    this.#closers.push(() => { server.closeAllConnections(); server.close(); });
    return (server.address() as AddressInfo).port;
  }

  /** The user's h2c app on 127.0.0.1 of the host; answers with trailers `x-trailer: user`. */
  async userHttp2App(): Promise<number> {
    const server = http2.createServer();
    server.on('stream', (stream, headers) => {
      stream.resume();
      stream.on('end', () => {
        stream.respond({ ':status': 200, 'x-served-by': 'user' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-trailer': 'user' }));
        stream.end(`user h2 ${headers[':path']}`);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    this.#closers.push(() => server.close());
    return (server.address() as AddressInfo).port;
  }

  /**
   * Lines of `iptables-save` (nat and filter) in the pod that mention our chains, then those of
   * `ip6tables-save` prefixed `ip6: `, and our ipsets.
   */
  async kmrdRules(): Promise<string[]> {
    const lines = `${await this.ns.natRules()}\n${await this.ns.filterRules()}`.split('\n');
    const lines6 = (await this.ns.rules6()).split('\n').map((l) => `ip6: ${l}`);
    return [...lines, ...lines6, ...await this.ns.ipsets()].filter((l) => l.includes('KMRD'));
  }

  /** The members of each of our ipsets (`ipset list`), by set name. */
  async setMembers(): Promise<Map<string, string[]>> {
    const sets = new Map<string, string[]>();
    let name: string | undefined;
    let inMembers = false;
    for (const line of (await this.ns.exec('ipset', ['list'])).stdout.split('\n')) {
      if (line.startsWith('Name: ')) { name = line.slice(6).trim(); inMembers = false; if (name.startsWith('KMRD-')) sets.set(name, []); continue; }
      if (line.startsWith('Members:')) { inMembers = true; continue; }
      if (!line.trim()) { inMembers = false; continue; }
      if (inMembers && name && sets.has(name)) sets.get(name)!.push(line.trim().split(' ')[0]);
    }
    return sets;
  }

  /**
   * Ends `cli`'s session and waits (wide margin) until no chain, rule or set of ours is left in
   * either family: what a parked port leaves after an unsubscribe goes with its session.
   */
  async endAndExpectNoRules(cli: CliPeer, timeoutMs = 30_000): Promise<void> {
    cli.session.destroy();
    const deadline = Date.now() + timeoutMs;
    let rules = await this.kmrdRules();
    while (rules.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      rules = await this.kmrdRules();
    }
    if (rules.length > 0) throw new Error(`rules left ${timeoutMs} ms after the session ended:\n${rules.join('\n')}`);
  }

  async close(): Promise<void> {
    for (const close of this.#closers.splice(0)) {
      try { await close(); } catch { /* best effort */ }
    }
    await this.ns.destroy();
  }
}

/** One HTTP/1.1 request from the host to the pod; resolves with status, who served it, and the body. */
export function httpGet(host: string, port: number, path: string, options: { headers?: Record<string, string>; agent?: http.Agent } = {}):
  Promise<{ status: number; servedBy: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, headers: options.headers, agent: options.agent ?? false, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, servedBy: String(res.headers['x-served-by'] ?? ''), body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`request to ${host}:${port}${path} timed out`)));
    req.on('error', reject);
  });
}
