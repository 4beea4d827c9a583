/**
 * The guard: a small process the agent starts before it adds any iptables rule. It holds the read
 * end of a pipe whose write end only the agent has. When the pipe closes, the agent is gone (it
 * exited, crashed, or was killed with SIGKILL, which no handler in the agent can catch), and the
 * guard removes the agent's chain and its PREROUTING jump, then exits.
 *
 *   node guard.ts <iptables binary> <chain>
 *
 * It ignores SIGINT and SIGHUP, which a terminal sends to a whole process group, so that it
 * outlives the agent for long enough to clean up; SIGTERM makes it clean up at once and exit.
 * Its log lines (JSON, like the agent's) go to stderr, which it shares with the agent.
 */
import { Iptables, CHAIN_PREFIX } from './iptables.ts';
import { createLog } from '../log.ts';

const log = createLog(false);

function main(): void {
  const [binary, chain] = process.argv.slice(2);
  if (!binary || !chain?.startsWith(CHAIN_PREFIX)) {
    process.stderr.write(`usage: guard.ts <iptables binary> <${CHAIN_PREFIX}chain>; got ${process.argv.slice(2).join(' ')}\n`);
    process.exit(2);
  }
  let done = false;
  const cleanUp = (why: string) => {
    if (done) return;
    done = true;
    try {
      new Iptables(binary).removeChainSync(chain);
      log.info('guard removed the agent\'s iptables rules', { chain, why });
    } catch (err) {
      log.warn('guard could not remove the agent\'s iptables rules', { chain, why, error: (err as Error).message });
    }
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
