/**
 * The agent's redirect rules in both address families: the same chain and rules (iptables.ts) in
 * iptables for IPv4 and in ip6tables for IPv6, so that a dual-stack pod's IPv6 clients are
 * stolen and mirrored like its IPv4 ones. (A dual-stack pod has an address of each family, both
 * in `status.podIPs`; clients reach it over either: kubernetes.io, "IPv4/IPv6 dual-stack".)
 *
 * IPv4 is required: its failures are the request's errors. IPv6 is taken when the pod has it:
 * when the kernel has no IPv6 in the namespace (no /proc/net/if_inet6, or
 * net.ipv6.conf.all.disable_ipv6 = 1), or ip6tables is missing or cannot make the chain (no nat
 * table for IPv6, say), the agent redirects IPv4 only and says so in one log line.
 */
import { readFile } from 'node:fs/promises';
import type { AgentLog } from '../log.ts';
import type { Iptables, RedirectRule } from './iptables.ts';

/** Why the namespace has no usable IPv6, or undefined when it has. */
export async function ipv6Absence(procNet = '/proc/net/if_inet6', disableSysctl = '/proc/sys/net/ipv6/conf/all/disable_ipv6'): Promise<string | undefined> {
  try {
    await readFile(procNet, 'utf8');
  } catch {
    return `the kernel has no IPv6 here (${procNet} is missing)`;
  }
  const disabled = (await readFile(disableSysctl, 'utf8').catch(() => '0')).trim();
  return disabled === '1' ? `IPv6 is disabled in the pod (${disableSysctl} is 1)` : undefined;
}

export class RedirectRules {
  readonly ipv4: Iptables;
  /** ip6tables until it is found unusable; then undefined. */
  #ipv6: Iptables | undefined;
  /** Whether IPv6 was checked (by prepare). */
  #checked = false;
  readonly #log: AgentLog;
  readonly #absence: () => Promise<string | undefined>;

  constructor(ipv4: Iptables, ipv6: Iptables | undefined, log: AgentLog, absence: () => Promise<string | undefined> = () => ipv6Absence()) {
    this.ipv4 = ipv4;
    this.#ipv6 = ipv6;
    this.#log = log;
    this.#absence = absence;
  }

  /** The families in use: IPv4, then IPv6 while it is usable. */
  get families(): Iptables[] {
    return this.#ipv6 ? [this.ipv4, this.#ipv6] : [this.ipv4];
  }

  /** Whether IPv6 connections are redirected too (after prepare). */
  get ipv6(): boolean {
    return this.#ipv6 !== undefined;
  }

  /** The ip6tables binary in use, for the guard; undefined when IPv4 only. */
  get ip6tablesBinary(): string | undefined {
    return this.#ipv6?.binary;
  }

  /**
   * Decides once whether IPv6 is usable: the namespace has IPv6 and ip6tables can list its nat
   * table. Logs the reason when it is not. Never throws.
   */
  async prepare(): Promise<void> {
    if (this.#checked || !this.#ipv6) return;
    this.#checked = true;
    const absent = await this.#absence();
    if (absent) return this.#dropIpv6(absent);
    await this.#ipv6.list('nat').then(() => {}, (err: Error) => this.#dropIpv6(err.message));
  }

  /** Creates the chain in every family; an IPv6 failure drops IPv6 (logged) instead of failing. */
  async createChain(chain: string, comment: string): Promise<void> {
    await this.ipv4.createChain(chain, comment);
    if (!this.#ipv6) return;
    const ipv6 = this.#ipv6;
    await ipv6.createChain(chain, comment).catch(async (err: Error) => {
      await ipv6.removeChain(chain).catch(() => {});
      this.#dropIpv6(err.message);
    });
  }

  /** Adds the port's rules in every family at once; on failure removes what went in, then throws. */
  async addRedirect(chain: string, redirect: RedirectRule, comment: string): Promise<void> {
    const results = await Promise.allSettled(this.families.map((f) => f.addRedirect(chain, redirect, comment)));
    const failed = results.find((r) => r.status === 'rejected');
    if (!failed) return;
    await Promise.allSettled(this.families.map((f, i) => results[i].status === 'fulfilled' ? f.removeRedirect(chain, redirect, comment) : undefined));
    throw (failed as PromiseRejectedResult).reason;
  }

  /** Removes the port's rules in every family; tries each even when one fails. */
  async removeRedirect(chain: string, redirect: RedirectRule, comment: string): Promise<void> {
    await settleAll(this.families.map((f) => f.removeRedirect(chain, redirect, comment)));
  }

  /** Removes the chain in every family; a chain that does not exist is no error. */
  async removeChain(chain: string): Promise<void> {
    await settleAll(this.families.map((f) => f.removeChain(chain)));
  }

  /** removeChain, blocking; tries every family, throws the first failure. */
  removeChainSync(chain: string): void {
    let failure: unknown;
    for (const f of this.families) {
      try { f.removeChainSync(chain); } catch (err) { failure ??= err; }
    }
    if (failure) throw failure;
  }

  #dropIpv6(why: string): void {
    this.#ipv6 = undefined;
    this.#log.warn('IPv6 connections are not redirected (IPv4 only): steal and mirror see only the pod\'s IPv4 clients', { why });
  }
}

/** Waits for every promise; then rethrows the first rejection. */
async function settleAll(work: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(work)).find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}
