/**
 * The agent's iptables rules for incoming traffic, in the pod's network namespace:
 *
 *   nat:    -A PREROUTING -p tcp -m comment --comment "<owner>" -j KMRD-<id>      (inserted first)
 *           -A KMRD-<id> -p tcp --dport P -m set --match-set KMRD-<id>-P dst -m comment
 *              --comment "<owner>" -j REDIRECT --to-ports L
 *   filter: -A INPUT -p tcp -m comment --comment "<owner>" -j KMRD-<id>           (inserted first)
 *           -A KMRD-<id> -p tcp --dport L -m conntrack ! --ctstate DNAT -m comment
 *              --comment "<owner>" -j REJECT --reject-with tcp-reset
 *
 * One chain per agent process in each table; one REDIRECT per subscribed port, to the agent's
 * listener for it, which matches only while the port's ipset element lives (ipset.ts: the
 * redirect expires by itself when nobody renews it). The filter rule refuses every connection to
 * the listener that the REDIRECT did not send: REDIRECT is a destination NAT to the incoming
 * interface's primary address (iptables-extensions(8)), so conntrack marks redirected connections
 * DNAT, and another pod dialling <pod IP>:L straight away gets a reset. Binding the listener to
 * an address cannot do that, since the redirected connections arrive at that same address.
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
/** The tables we touch, and the built-in chain each jumps to ours from. */
export type Table = 'nat' | 'filter';
const ENTRY_CHAIN: Record<Table, string> = { nat: 'PREROUTING', filter: 'INPUT' };
const TABLES: Table[] = ['nat', 'filter'];

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

/** Runs iptables calls against one table, asynchronously or (for exit paths) synchronously. */
export class Iptables {
  readonly binary: string;

  constructor(binary = iptablesBinary()) {
    this.binary = binary;
  }

  /** Runs `iptables -w -t <table> ...args`; resolves with stdout, rejects with IptablesError. */
  run(args: string[], table: Table = 'nat'): Promise<string> {
    const full = ['-w', '-t', table, ...args];
    return new Promise((resolve, reject) => {
      execFile(this.binary, full, { timeout: 30_000 }, (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        const status = (err as NodeJS.ErrnoException).code ?? null;
        reject(new IptablesError(this.binary, args, stderr || err.message, status));
      });
    });
  }

  /** The same as run, blocking: only for exit paths, where the event loop will not turn again. */
  runSync(args: string[], table: Table = 'nat'): string {
    try {
      return execFileSync(this.binary, ['-w', '-t', table, ...args], { timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    } catch (err) {
      const e = err as { stderr?: Buffer; status?: number | null; code?: string; message: string };
      throw new IptablesError(this.binary, args, e.stderr?.toString() || e.message, e.status ?? e.code ?? null);
    }
  }

  /** A table's rules as `iptables -S` prints them. */
  list(table: Table = 'nat'): Promise<string> {
    return this.run(['-S'], table);
  }

  /** Both tables' rules, nat first, as one `iptables -S` listing. */
  async listAll(): Promise<string> {
    return `${await this.list('nat')}\n${await this.list('filter')}`;
  }

  /** Creates `chain` in both tables and jumps to it first thing in PREROUTING and INPUT, TCP only. */
  async createChain(chain: string, comment: string): Promise<void> {
    // Not atomic: an agent that dies between these calls leaves a chain with no commented jump,
    // which cleanLeftovers treats as ownerless and removes.
    for (const table of TABLES) {
      await this.run(['-N', chain], table);
      await this.run(['-I', ENTRY_CHAIN[table], '1', ...jumpSpec(chain, comment)], table);
    }
  }

  /**
   * Adds the REDIRECT of TCP port `port` to the agent's listener port `toPort` (matching `set`
   * when given), and the filter rule that refuses connections to `toPort` it did not redirect.
   */
  async addRedirect(chain: string, redirect: RedirectRule, comment: string): Promise<void> {
    await this.run(['-A', chain, ...rejectSpec(redirect.toPort, comment)], 'filter');
    await this.run(['-A', chain, ...redirectSpec(redirect, comment)]);
  }

  /** Removes both rules of addRedirect; tries the second even when the first fails. */
  async removeRedirect(chain: string, redirect: RedirectRule, comment: string): Promise<void> {
    const results = await Promise.allSettled([
      this.run(['-D', chain, ...redirectSpec(redirect, comment)]),
      this.run(['-D', chain, ...rejectSpec(redirect.toPort, comment)], 'filter'),
    ]);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  /** Removes `chain` and every jump to it from both tables. A chain that does not exist is no error. */
  async removeChain(chain: string): Promise<void> {
    for (const table of TABLES) {
      for (const args of planChainRemoval(await this.list(table), chain)) await this.run(args, table);
    }
  }

  /** removeChain, blocking. */
  removeChainSync(chain: string): void {
    for (const table of TABLES) {
      for (const args of planChainRemoval(this.runSync(['-S'], table), chain)) this.runSync(args, table);
    }
  }
}

/** One redirected port: its REDIRECT to the listener port, and the ipset it matches, if any. */
export interface RedirectRule {
  port: number;
  toPort: number;
  /** The ipset whose element must be alive for the rule to match; none in the guard-only fallback. */
  set?: string;
}

function jumpSpec(chain: string, comment: string): string[] {
  return ['-p', 'tcp', '-m', 'comment', '--comment', comment, '-j', chain];
}

function rejectSpec(toPort: number, comment: string): string[] {
  return ['-p', 'tcp', '-m', 'tcp', '--dport', String(toPort), '-m', 'conntrack', '!', '--ctstate', 'DNAT',
    '-m', 'comment', '--comment', comment, '-j', 'REJECT', '--reject-with', 'tcp-reset'];
}

function redirectSpec({ port, toPort, set }: RedirectRule, comment: string): string[] {
  return ['-p', 'tcp', '-m', 'tcp', '--dport', String(port), ...(set ? ['-m', 'set', '--match-set', set, 'dst'] : []),
    '-m', 'comment', '--comment', comment, '-j', 'REDIRECT', '--to-ports', String(toPort)];
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
