/**
 * The agent's iptables rules for incoming traffic, in the nat table of the pod's network namespace:
 *
 *   -A PREROUTING -p tcp -m comment --comment "<owner>" -j KMRD-<id>        (inserted first)
 *   -A KMRD-<id> -p tcp --dport P -m comment --comment "<owner>" -j REDIRECT --to-ports L
 *
 * One chain per agent process; one REDIRECT per subscribed port, to the agent's listener for it.
 *
 * Why PREROUTING alone keeps passthrough from looping: the nat table is consulted once per
 * connection, for its first packet, and for a connection made by a process inside the namespace
 * that happens in OUTPUT (where we add nothing); when its packets come back in through loopback
 * they already have a conntrack entry, so PREROUTING's nat rules are not consulted for them
 * (iptables(8): nat "is consulted when a packet that creates a new connection is encountered";
 * iptables-extensions(8), REDIRECT: valid in PREROUTING and OUTPUT). So the agent's own
 * connections to the original app at 127.0.0.1:P reach it. What this does not cover: a process in
 * the pod that calls its own pod IP (or 127.0.0.1) on port P also takes the OUTPUT path, so its
 * requests always reach the original app and are never stolen or mirrored.
 *
 * Connections that were established before a rule was added keep their NAT decision (conntrack
 * made it on their first packet), so keep-alive connections opened before the steal still reach
 * the original app until the client closes them; the same holds after a rule is removed, for
 * connections that were redirected to the agent. mirrord documents the same limitation.
 *
 * Binary: `iptables` from PATH, or MIRRORD_AGENT_IPTABLES. Every call passes `-w` so concurrent
 * callers (another agent, kube-proxy in host-network setups) wait for the lock instead of failing.
 */
import { execFile, execFileSync } from 'node:child_process';

/** Every chain of ours starts with this; the rest is the agent id. */
export const CHAIN_PREFIX = 'KMRD-';
const TABLE = 'nat';

/** The chain name of agent `agentId` (8 hex digits). */
export function chainName(agentId: string): string {
  return `${CHAIN_PREFIX}${agentId}`;
}

/** The iptables binary: MIRRORD_AGENT_IPTABLES, else `iptables` found on PATH. */
export function iptablesBinary(env: NodeJS.ProcessEnv = process.env): string {
  return env.MIRRORD_AGENT_IPTABLES || 'iptables';
}

/** An iptables call failed. `code` is EPERM when the agent lacks NET_ADMIN, else EIPTABLES. */
export class IptablesError extends Error {
  readonly code: 'EPERM' | 'EIPTABLES';
  constructor(binary: string, args: string[], stderr: string, status: number | string | null) {
    const denied = /permission denied|operation not permitted/i.test(stderr);
    super(denied
      ? `iptables refused (${firstLine(stderr)}): the agent lacks the NET_ADMIN capability, which steal and mirror need`
      : status === 'ENOENT'
        ? `cannot run ${binary}: not found (install iptables in the agent image, or set MIRRORD_AGENT_IPTABLES to its path)`
        : `${binary} ${args.join(' ')} failed (exit ${status ?? '?'}): ${firstLine(stderr) || 'no message'}`);
    this.name = 'IptablesError';
    this.code = denied ? 'EPERM' : 'EIPTABLES';
  }
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

/** Runs iptables calls against the nat table, asynchronously or (for exit paths) synchronously. */
export class Iptables {
  readonly binary: string;

  constructor(binary = iptablesBinary()) {
    this.binary = binary;
  }

  /** Runs `iptables -w -t nat ...args`; resolves with stdout, rejects with IptablesError. */
  run(args: string[]): Promise<string> {
    const full = ['-w', '-t', TABLE, ...args];
    return new Promise((resolve, reject) => {
      execFile(this.binary, full, { timeout: 30_000 }, (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const status = (err as NodeJS.ErrnoException).code ?? null;
        reject(new IptablesError(this.binary, args, stderr || err.message, status));
      });
    });
  }

  /** The same as run, blocking: only for exit paths, where the event loop will not turn again. */
  runSync(args: string[]): string {
    try {
      return execFileSync(this.binary, ['-w', '-t', TABLE, ...args], { timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    } catch (err) {
      const e = err as { stderr?: Buffer; status?: number | null; code?: string; message: string };
      throw new IptablesError(this.binary, args, e.stderr?.toString() || e.message, e.status ?? e.code ?? null);
    }
  }

  /** The nat table's rules as `iptables -S` prints them. */
  list(): Promise<string> {
    return this.run(['-S']);
  }

  /** Creates `chain` and jumps to it first thing in PREROUTING, for TCP only. */
  async createChain(chain: string, comment: string): Promise<void> {
    // Not atomic: an agent that dies between these two calls leaves an empty chain with no
    // comment, which cleanLeftovers treats as ownerless and removes.
    await this.run(['-N', chain]);
    await this.run(['-I', 'PREROUTING', '1', ...jumpSpec(chain, comment)]);
  }

  /** Adds the REDIRECT of TCP port `port` to the agent's listener port `toPort`. */
  async addRedirect(chain: string, port: number, toPort: number, comment: string): Promise<void> {
    await this.run(['-A', chain, ...redirectSpec(port, toPort, comment)]);
  }

  async removeRedirect(chain: string, port: number, toPort: number, comment: string): Promise<void> {
    await this.run(['-D', chain, ...redirectSpec(port, toPort, comment)]);
  }

  /** Removes `chain` and every PREROUTING jump to it. A chain that does not exist is no error. */
  async removeChain(chain: string): Promise<void> {
    for (const args of planChainRemoval(await this.list(), chain)) await this.run(args);
  }

  /** removeChain, blocking. */
  removeChainSync(chain: string): void {
    for (const args of planChainRemoval(this.runSync(['-S']), chain)) this.runSync(args);
  }
}

function jumpSpec(chain: string, comment: string): string[] {
  return ['-p', 'tcp', '-m', 'comment', '--comment', comment, '-j', chain];
}

function redirectSpec(port: number, toPort: number, comment: string): string[] {
  return ['-p', 'tcp', '-m', 'tcp', '--dport', String(port), '-m', 'comment', '--comment', comment,
    '-j', 'REDIRECT', '--to-ports', String(toPort)];
}

/** One rule of `iptables -S` output: its chain and its arguments after `-A <chain>`. */
export interface ListedRule {
  chain: string;
  args: string[];
}

/** Parses `iptables -S`: the chains it declares and the rules it lists. */
export function parseRules(listing: string): { chains: string[]; rules: ListedRule[] } {
  const chains: string[] = [];
  const rules: ListedRule[] = [];
  for (const line of listing.split('\n')) {
    const words = splitRuleLine(line);
    if (words[0] === '-N' && words[1]) chains.push(words[1]);
    else if (words[0] === '-A' && words[1]) rules.push({ chain: words[1], args: words.slice(2) });
  }
  return { chains, rules };
}

/** The comment of a listed rule, or undefined. */
export function ruleComment(rule: ListedRule): string | undefined {
  const at = rule.args.indexOf('--comment');
  return at >= 0 ? rule.args[at + 1] : undefined;
}

/** The target of a listed rule (`-j X`), or undefined. */
export function ruleTarget(rule: ListedRule): string | undefined {
  const at = rule.args.indexOf('-j');
  return at >= 0 ? rule.args[at + 1] : undefined;
}

/**
 * The calls that remove `chain` given the current listing: delete each jump to it (by its exact
 * spec, as -D needs), flush it, delete it. Empty when the chain does not exist.
 */
export function planChainRemoval(listing: string, chain: string): string[][] {
  const { chains, rules } = parseRules(listing);
  const jumps = rules.filter((r) => r.chain !== chain && ruleTarget(r) === chain);
  const plan = jumps.map((r) => ['-D', r.chain, ...r.args]);
  if (chains.includes(chain)) plan.push(['-F', chain], ['-X', chain]);
  return plan;
}

/**
 * Splits one line of `iptables -S` into words. iptables quotes a word with double quotes when it
 * holds spaces (the comment) and escapes `"` and `\` inside with a backslash.
 */
export function splitRuleLine(line: string): string[] {
  const words: string[] = [];
  let at = 0;
  while (at < line.length) {
    while (line[at] === ' ') at++;
    if (at >= line.length) break;
    let word = '';
    if (line[at] === '"') {
      at++;
      while (at < line.length && line[at] !== '"') {
        if (line[at] === '\\' && at + 1 < line.length) at++;
        word += line[at++];
      }
      at++;
    } else {
      while (at < line.length && line[at] !== ' ') word += line[at++];
    }
    words.push(word);
  }
  return words;
}
