/**
 * The guard: a small process the agent starts before it adds any iptables rule. It holds the read
 * end of a pipe whose write end only the agent has. When the pipe closes, the agent is gone (it
 * exited, crashed, or was killed with SIGKILL, which no handler in the agent can catch), and the
 * guard removes the agent's chains and their jumps, then the chain's ipsets, and exits.
 *
 *   node guard.ts <iptables binary> <chain> [<ipset binary> [<ip6tables binary>]]
 *
 * With an ip6tables binary it removes the chain from the IPv6 tables too (redirect-rules.ts).
 *
 * The guard is the fast path. It dies with the agent when the container is killed as a whole (as
 * containerd does to a container whose main process exited); the redirects then still lapse by
 * themselves (ipset.ts), and the next agent removes what is left (leftovers.ts).
 *
 * It ignores SIGINT and SIGHUP, which a terminal sends to a whole process group, so that it
 * outlives the agent for long enough to clean up; SIGTERM makes it clean up at once and exit.
 * Its log lines (JSON, like the agent's) go to stderr, which it shares with the agent.
 */
import { Iptables, CHAIN_PREFIX } from './iptables.ts';
import { Ipset } from './ipset.ts';
import { createLog } from '../log.ts';

const log = createLog(false);

function main(): void {
  const [binary, chain, ipsetBinary = 'ipset', ip6tablesBinary] = process.argv.slice(2);
  if (!binary || !chain?.startsWith(CHAIN_PREFIX)) {
    process.stderr.write(`usage: guard.ts <iptables binary> <${CHAIN_PREFIX}chain>; got ${process.argv.slice(2).join(' ')}\n`);
    process.exit(2);
  }
  let done = false;
  const cleanUp = (why: string) => {
    if (done) return;
    done = true;
    // Each family alone: a failure in one must not keep the other's rules in place. The sets go
    // last, once no rule of either family refers to them.
    let removed = true;
    for (const tool of [binary, ...(ip6tablesBinary ? [ip6tablesBinary] : [])]) {
      try {
        new Iptables(tool).removeChainSync(chain);
      } catch (err) {
        removed = false;
        log.warn('guard could not remove the agent\'s iptables rules', { chain, why, binary: tool, error: (err as Error).message });
      }
    }
    const kept = new Ipset(ipsetBinary).destroyAgentSetsSync(chain.slice(CHAIN_PREFIX.length));
    if (removed) log.info('guard removed the agent\'s iptables rules', { chain, why, ...(kept.length ? { setsNotDestroyed: kept } : {}) });
    process.exit(0);
  };
  process.on('SIGINT', () => {});
  process.on('SIGHUP', () => {});
  process.on('SIGTERM', () => cleanUp('SIGTERM'));
  process.stdin.on('data', () => {});
  process.stdin.on('end', () => cleanUp('the agent closed its pipe'));
  process.stdin.on('error', () => cleanUp('the agent\'s pipe failed'));
  process.stdin.on('close', () => cleanUp('the agent\'s pipe closed'));
}

main();
