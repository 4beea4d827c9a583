/**
 * Chains and sets left behind by agents that died without cleaning up (the guard died with them:
 * the pod's container was killed as a whole, or the node rebooted the process tree). Their
 * redirects already stopped matching when the sets' elements expired (ipset.ts); this removes the
 * inert rest. Before it adds its own, the agent removes every `KMRD-` chain whose owner is
 * certainly dead, then every `KMRD-<id>-<port>` set whose chain is gone. Both families' tables
 * are read together (iptables and ip6tables): a chain of an agent that is gone is removed from
 * each, and a set is kept while either family still has its chain.
 */
import { chainName, CHAIN_PREFIX, parseRules, ruleComment, ruleTarget, type Iptables, type ListedRule } from './iptables.ts';
import { parseSetName, type Ipset } from './ipset.ts';
import { ownerState, parseOwnerComment, type Owner } from './owner.ts';
import type { AgentLog } from '../log.ts';

/** What was decided for one chain. */
export interface LeftoverVerdict {
  chain: string;
  owner: Owner | undefined;
  action: 'removed' | 'kept';
  why: string;
}

/**
 * Decides, for every chain of ours except `ownChain`, whether it is a leftover. A chain with no
 * owner comment anywhere is one too: the agent creates a chain and its commented jump back to
 * back, so such a chain is what an agent that died in between leaves. `listing` may hold both
 * tables' `iptables -S` output one after the other.
 */
export function judgeChains(listing: string, ownChain: string, state = ownerState): LeftoverVerdict[] {
  const { chains, rules } = parseRules(listing);
  return [...new Set(chains)]
    .filter((chain) => chain.startsWith(CHAIN_PREFIX) && chain !== ownChain)
    .map((chain) => {
      const owner = findOwner(rules, chain);
      if (!owner) return { chain, owner, action: 'removed', why: 'no owner comment (an agent died while creating it)' };
      const verdict = state(owner);
      if (verdict === 'dead') return { chain, owner, action: 'removed', why: `its agent (pid ${owner.pid}, start ${owner.start}) is gone` };
      if (verdict === 'alive') return { chain, owner, action: 'kept', why: `its agent (pid ${owner.pid}) is running` };
      return { chain, owner, action: 'kept', why: `its agent (pid ${owner.pid}) is in another pid namespace, so it may be alive` };
    });
}

function findOwner(rules: ListedRule[], chain: string): Owner | undefined {
  for (const rule of rules) {
    if (rule.chain !== chain && ruleTarget(rule) !== chain) continue;
    const comment = ruleComment(rule);
    const owner = comment ? parseOwnerComment(comment) : undefined;
    if (owner) return owner;
  }
  return undefined;
}

/**
 * The sets to destroy: ours by name, not `ownChain`'s, and whose chain is absent from `listing` or
 * was just removed. `setNames` must be listed before `listing` was taken: an agent creates its
 * chain before its sets, so a set listed earlier whose chain is missing later belongs to an agent
 * that is gone (or that removed the chain after the set, as it does on its way out).
 */
export function judgeSets(setNames: string[], listing: string, ownChain: string, removedChains: string[]): string[] {
  const present = new Set(parseRules(listing).chains);
  return setNames.filter((name) => {
    const parsed = parseSetName(name);
    if (!parsed) return false;
    const chain = chainName(parsed.agentId);
    return chain !== ownChain && (!present.has(chain) || removedChains.includes(chain));
  });
}

/**
 * Removes the leftover chains (in every family of `families`) and sets and logs each decision.
 * Returns the chain verdicts.
 */
export async function cleanLeftovers(families: Iptables[], ipset: Ipset, ownChain: string, log: AgentLog): Promise<LeftoverVerdict[]> {
  const setNames = await ipset.names();
  const listing = (await Promise.all(families.map((f) => f.listAll()))).join('\n');
  const verdicts = judgeChains(listing, ownChain);
  for (const v of verdicts) {
    if (v.action === 'removed') {
      for (const f of families) await f.removeChain(v.chain);
      log.warn('removed iptables rules left by a dead agent', { chain: v.chain, why: v.why });
    } else {
      log.info('left another agent\'s iptables rules alone', { chain: v.chain, why: v.why });
    }
  }
  const removed = verdicts.filter((v) => v.action === 'removed').map((v) => v.chain);
  for (const name of judgeSets(setNames, listing, ownChain, removed)) {
    // A set still referenced by a rule (its agent is alive after all) refuses to go: fine.
    await ipset.destroy(name).then(
      () => log.warn('removed an ipset left by a dead agent', { set: name }),
      (err: Error) => log.info('left an ipset alone', { set: name, why: err.message }));
  }
  return verdicts;
}
