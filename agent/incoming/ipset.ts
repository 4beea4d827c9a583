/**
 * Redirects that expire by themselves. Each REDIRECT rule of the agent also matches an ipset (one
 * per redirected port, `KMRD-<agent id>-<port>`, of type bitmap:port holding just that port)
 * whose element carries a timeout. The agent re-adds the element every RENEW_MS; when nobody
 * renews it (every process of the agent's container was killed, or the agent is stopped), the
 * kernel drops the element after REDIRECT_TTL_S, the rule stops matching, and new connections
 * reach the original app again, with no process of ours involved (ipset(8): "timeout" — entries
 * added with a timeout are deleted by the kernel when it elapses; `-exist` re-adds or refreshes).
 *
 * Sets live in the network namespace like the rules (ipset is namespace-aware since Linux 3.13),
 * so the agent can create them with the NET_ADMIN it already needs for iptables. A set that a rule
 * references cannot be destroyed ("Set cannot be destroyed: it is in use by a kernel component"),
 * so removal always goes rules first, then sets.
 *
 * A set holds ports only (bitmap:port has no address family), so one set serves the IPv4 and the
 * IPv6 REDIRECT of a port alike. A port's set is made, and all renewals are done, with one
 * `ipset -exist restore` run each (ipset(8): restore reads commands from stdin; -exist makes an
 * identical create and a re-add no error), not one process per command.
 *
 * Binary: `ipset` from PATH, or MIRRORD_AGENT_IPSET.
 */
import { execFile, execFileSync } from 'node:child_process';
import { CHAIN_PREFIX } from './iptables.ts';

/** Seconds an element lives after its last renewal: the bound on a dead agent's redirect. */
export const REDIRECT_TTL_S = 8;
/** How often the agent renews: a quarter of the TTL, so three renewals may be late before a lapse. */
export const RENEW_MS = 2_000;

/** The ipset binary: MIRRORD_AGENT_IPSET, else `ipset` found on PATH. */
export function ipsetBinary(env: NodeJS.ProcessEnv = process.env): string {
  return env.MIRRORD_AGENT_IPSET || 'ipset';
}

/** The set of agent `agentId`'s redirect of `port`. */
export function setName(agentId: string, port: number): string {
  return `${CHAIN_PREFIX}${agentId}-${port}`;
}

/** The agent id and port a set name of ours carries, or undefined for someone else's set. */
export function parseSetName(name: string): { agentId: string; port: number } | undefined {
  const m = /^KMRD-([0-9a-f]{8})-(\d{1,5})$/.exec(name);
  return m ? { agentId: m[1], port: Number(m[2]) } : undefined;
}

export class IpsetError extends Error {
  override name = 'IpsetError';
}

function failure(binary: string, args: string[], err: unknown): IpsetError {
  const e = err as { stderr?: Buffer | string; code?: string | number; message: string };
  const stderr = String(e.stderr ?? '').trim() || e.message;
  if (e.code === 'ENOENT') return new IpsetError(`cannot run ${binary}: not found (the agent image ships ipset; set MIRRORD_AGENT_IPSET to its path)`);
  return new IpsetError(`${binary} ${args.join(' ')} failed: ${stderr.split('\n')[0]}`);
}

/** Runs ipset calls, asynchronously or (for exit paths and the guard) synchronously. */
export class Ipset {
  readonly binary: string;

  constructor(binary = ipsetBinary()) {
    this.binary = binary;
  }

  run(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.binary, args, { timeout: 10_000 }, (err, stdout, stderr) => {
        if (err) reject(failure(this.binary, args, Object.assign(err, { stderr })));
        else resolve(stdout);
      });
    });
  }

  /** Runs `ipset -exist restore` with `commands` (one per line, without the program name). */
  restore(commands: string[]): Promise<string> {
    const args = ['-exist', 'restore'];
    return new Promise((resolve, reject) => {
      const child = execFile(this.binary, args, { timeout: 10_000 }, (err, stdout, stderr) => {
        if (err) reject(failure(this.binary, args, Object.assign(err, { stderr })));
        else resolve(stdout);
      });
      child.stdin?.on('error', () => {});
      child.stdin?.end(`${commands.join('\n')}\n`);
    });
  }

  runSync(args: string[]): string {
    try {
      return execFileSync(this.binary, args, { timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    } catch (err) {
      throw failure(this.binary, args, err);
    }
  }

  /**
   * Creates the set of `port` and adds the port with the TTL, in one run. A set of that name left
   * with other parameters makes the create fail; it is then destroyed and made again.
   */
  async createForPort(name: string, port: number): Promise<void> {
    const commands = [`create ${name} bitmap:port range ${port}-${port} timeout ${REDIRECT_TTL_S}`, addCommand(name, port)];
    try {
      await this.restore(commands);
    } catch {
      await this.run(['destroy', name]).catch(() => {});
      await this.restore(commands);
    }
  }

  /** Re-adds `port` with a fresh TTL; an element that already lapsed comes back. */
  renew(name: string, port: number): Promise<string> {
    return this.run(['add', '-exist', name, String(port), 'timeout', String(REDIRECT_TTL_S)]);
  }

  /** Takes `port` out of `name`: a REDIRECT matching the set stops matching. Missing is no error. */
  removeElement(name: string, port: number): Promise<string> {
    return this.run(['del', '-exist', name, String(port)]);
  }

  /** renew for many sets in one run; rejects when any one fails (the others may have been renewed). */
  renewMany(elements: { set: string; port: number }[]): Promise<string> {
    return this.restore(elements.map((e) => addCommand(e.set, e.port)));
  }

  /** Destroys `name`; a set that does not exist is no error. */
  async destroy(name: string): Promise<void> {
    await this.run(['destroy', name]).catch((err: IpsetError) => {
      if (!/does not exist/i.test(err.message)) throw err;
    });
  }

  /** Every set name in the namespace (`ipset list -n`); empty when ipset cannot run. */
  async names(): Promise<string[]> {
    return splitNames(await this.run(['list', '-n']).catch(() => ''));
  }

  /** Destroys every set of agent `agentId`, blocking; returns the names it could not destroy. */
  destroyAgentSetsSync(agentId: string): string[] {
    let listing = '';
    try { listing = this.runSync(['list', '-n']); } catch { return []; }
    const failed: string[] = [];
    for (const name of splitNames(listing)) {
      if (parseSetName(name)?.agentId !== agentId) continue;
      try { this.runSync(['destroy', name]); } catch { failed.push(name); }
    }
    return failed;
  }
}

function addCommand(name: string, port: number): string {
  return `add ${name} ${port} timeout ${REDIRECT_TTL_S}`;
}

function splitNames(listing: string): string[] {
  return listing.split('\n').map((l) => l.trim()).filter(Boolean);
}
