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
 * The same rules go into ip6tables for the pod's IPv6 traffic (redirect-rules.ts decides whether
 * the pod has IPv6): REDIRECT, the conntrack match and REJECT's tcp-reset exist for both families
 * (iptables-extensions(8)), and the bitmap:port sets hold ports only, so one set serves both.
 *
 * Changes that go together (a chain and its jumps, a port's two rules) are applied in one
 * `iptables-restore --noflush` run: one process instead of two to four, and each run is applied
 * as a whole or not at all (iptables-restore(8): a table's changes are committed at its COMMIT
 * line). Where the restore binary is missing the calls run one by one.
 *
 * Binary: `iptables` from PATH, or MIRRORD_AGENT_IPTABLES (ip6tables, MIRRORD_AGENT_IP6TABLES);
 * the restore binary is its name with `-restore` added. Every call passes `-w` so concurrent
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

/** The ip6tables binary: MIRRORD_AGENT_IP6TABLES, else `ip6tables` found on PATH. */
export function ip6tablesBinary(env: NodeJS.ProcessEnv = process.env): string {
  return env.MIRRORD_AGENT_IP6TABLES || 'ip6tables';
}

/** One iptables call of a batch: the table and the arguments after `-t <table>`. */
export interface RuleChange {
  table: Table;
  args: string[];
}

/** An iptables call failed. `code` is EPERM when the agent lacks NET_ADMIN, else EIPTABLES. */
export class IptablesError extends Error {
  readonly code: 'EPERM' | 'EIPTABLES';
  /** The binary was not found. */
  readonly missing: boolean;
  constructor(binary: string, args: string[], stderr: string, status: number | string | null) {
    const denied = /permission denied|operation not permitted/i.test(stderr);
    const tool = /ip6tables/.test(binary) ? 'ip6tables' : 'iptables';
    super(denied
      ? `${tool} refused (${firstLine(stderr)}): the agent lacks the NET_ADMIN capability, which steal and mirror need`
      : status === 'ENOENT'
        ? `cannot run ${binary}: not found (install ${tool} in the agent image, or set MIRRORD_AGENT_${tool.toUpperCase()} to its path)`
        : `${binary} ${args.join(' ')} failed (exit ${status ?? '?'}): ${firstLine(stderr) || 'no message'}`);
    this.name = 'IptablesError';
    this.code = denied ? 'EPERM' : 'EIPTABLES';
    this.missing = status === 'ENOENT';
  }
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

/** Runs iptables (or ip6tables) calls, asynchronously or (for exit paths) synchronously. */
export class Iptables {
  readonly binary: string;
  /** `<binary>-restore`, which applies a batch of changes in one process. */
  readonly restoreBinary: string;
  /** Set once the restore binary was found missing: batches then run call by call. */
  #noRestore = false;

  constructor(binary = iptablesBinary()) {
    this.binary = binary;
    this.restoreBinary = `${binary}-restore`;
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

  /**
   * Applies `changes` in one `iptables-restore -w --noflush` run, grouped by table in the order
   * each table first appears. Rejects with IptablesError naming the line that failed.
   */
  async apply(changes: RuleChange[]): Promise<void> {
    if (changes.length === 0) return;
    if (this.#noRestore) {
      for (const c of changes) await this.run(c.args, c.table);
      return;
    }
    try {
      await this.restore(restoreInput(changes));
    } catch (err) {
      if (!(err instanceof IptablesError && err.missing)) throw err;
      this.#noRestore = true;
      await this.apply(changes);
    }
  }

  /** Runs the restore binary with `input` on stdin. */
  restore(input: string): Promise<void> {
    const args = ['-w', '--noflush'];
    return new Promise((resolve, reject) => {
      const child = execFile(this.restoreBinary, args, { timeout: 30_000 }, (err, _stdout, stderr) => {
        if (!err) return resolve();
        const status = (err as NodeJS.ErrnoException).code ?? null;
        reject(new IptablesError(this.restoreBinary, args, withFailedLine(stderr || err.message, input), status));
      });
      child.stdin?.on('error', () => {});
      child.stdin?.end(input);
    });
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
    // One restore: each table's chain and jump come together. Where the calls run one by one, an
    // agent that dies between them leaves a chain with no commented jump, which cleanLeftovers
    // treats as ownerless and removes.
    await this.apply(TABLES.flatMap((table) => [
      { table, args: ['-N', chain] },
      { table, args: ['-I', ENTRY_CHAIN[table], '1', ...jumpSpec(chain, comment)] },
    ]));
  }

  /**
   * Adds the REDIRECT of TCP port `port` to the agent's listener port `toPort` (matching `set`
   * when given), and the filter rule that refuses connections to `toPort` it did not redirect.
   */
  async addRedirect(chain: string, redirect: RedirectRule, comment: string): Promise<void> {
    // The REJECT goes first: the listener is never reachable from outside while the REDIRECT is in.
    await this.apply([
      { table: 'filter', args: ['-A', chain, ...rejectSpec(redirect.toPort, comment)] },
      { table: 'nat', args: ['-A', chain, ...redirectSpec(redirect, comment)] },
    ]);
  }

  /** Removes both rules of addRedirect; tries each alone when removing both at once fails. */
  async removeRedirect(chain: string, redirect: RedirectRule, comment: string): Promise<void> {
    const both = [
      { table: 'nat' as const, args: ['-D', chain, ...redirectSpec(redirect, comment)] },
      { table: 'filter' as const, args: ['-D', chain, ...rejectSpec(redirect.toPort, comment)] },
    ];
    // A batch with one missing rule fails whole; the one-by-one retry removes the other.
    if (await this.apply(both).then(() => true, () => false)) return;
    const results = await Promise.allSettled([
      this.run(['-D', chain, ...redirectSpec(redirect, comment)]),
      this.run(['-D', chain, ...rejectSpec(redirect.toPort, comment)], 'filter'),
    ]);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  /** Removes `chain` and every jump to it from both tables. A chain that does not exist is no error. */
  async removeChain(chain: string): Promise<void> {
    const changes: RuleChange[] = [];
    for (const table of TABLES) {
      for (const args of planChainRemoval(await this.list(table), chain)) changes.push({ table, args });
    }
    await this.apply(changes);
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

/** The restore input for `changes`: one `*table` ... `COMMIT` block per table. */
export function restoreInput(changes: RuleChange[]): string {
  const tables = [...new Set(changes.map((c) => c.table))];
  return tables.map((table) => [`*${table}`, ...changes.filter((c) => c.table === table).map((c) => c.args.map(quoteWord).join(' ')), 'COMMIT'].join('\n')).join('\n') + '\n';
}

/** Quotes a word for iptables-restore, which splits lines at spaces outside double quotes. */
function quoteWord(word: string): string {
  return /^[^\s"'\\]+$/.test(word) ? word : `"${word.replace(/(["\\])/g, '\\$1')}"`;
}

/** Adds the input line that iptables-restore names in `line N failed` to its message. */
function withFailedLine(stderr: string, input: string): string {
  const n = /line (\d+) failed/.exec(stderr)?.[1];
  const line = n ? input.split('\n')[Number(n) - 1] : undefined;
  return line ? `${firstLine(stderr)} (${line})` : stderr;
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
