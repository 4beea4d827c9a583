/** The fault scenarios by name, in the order the suite runs them. */
import type { FaultEnv, FaultObservation } from './fault-env.ts';
import { killAllDuringSteal, stopAgentDuringSteal } from './steal-faults.ts';
import { agentPodDeleted, apiConnectionCut, cliKilled, interruptDuringStartup } from './link-faults.ts';
import { randomBytesIntoPorts, thousandSocksConnections } from './input-faults.ts';

export interface FaultScenario {
  name: string;
  run(env: FaultEnv, scratch: string): Promise<FaultObservation>;
}

export const SCENARIOS: FaultScenario[] = [
  { name: 'kill-all', run: killAllDuringSteal },
  { name: 'sigstop', run: (env) => stopAgentDuringSteal(env) },
  { name: 'pod-deleted', run: agentPodDeleted },
  { name: 'cli-kill9', run: cliKilled },
  { name: 'ctrl-c-startup', run: interruptDuringStartup },
  { name: 'api-cut', run: apiConnectionCut },
  { name: 'socks-1000', run: (env) => thousandSocksConnections(env) },
  { name: 'random-bytes', run: randomBytesIntoPorts },
];
