/**
 * Chains left behind by agents that died without cleaning up (the guard died with them: the pod's
 * container was killed as a whole, or the node rebooted the process tree). Before it adds its own,
 * the agent removes every `KMRD-` chain whose owner is certainly dead.
 */
import { CHAIN_PREFIX, parseRules, ruleComment, ruleTarget, type Iptables, type ListedRule } from './iptables.ts';
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
 * back, so such a chain is what an agent that died in between leaves.
 */
export function judgeChains(listing: string, ownChain: string, state = ownerState): LeftoverVerdict[] {
  const { chains, rules } = parseRules(listing);
  return chains
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

/** Removes the leftover chains and logs each decision. Returns the verdicts. */
export async function cleanLeftovers(iptables: Iptables, ownChain: string, log: AgentLog): Promise<LeftoverVerdict[]> {
  const verdicts = judgeChains(await iptables.list(), ownChain);
  for (const v of verdicts) {
    if (v.action === 'removed') {
      await iptables.removeChain(v.chain);
      log.warn('removed iptables rules left by a dead agent', { chain: v.chain, why: v.why });
    } else {
      log.info('left another agent\'s iptables rules alone', { chain: v.chain, why: v.why });
    }
  }
  return verdicts;
}
