/**
 * What one `kubectl mirrord kill` ends, from the listed agents and holds. Pure.
 *
 * A session id names an agent (the SESSION column of status) or a scale_down hold (the copy's id,
 * HELD BY): the two are linked when the agent runs in the hold's copy, and then both are ended,
 * whichever id was given. `--all-mine` takes the agents and holds whose user is the caller.
 */
import type { ScaleHold } from './scale-holds.ts';
import type { SessionAgent } from './session-agents.ts';

/**
 * @param me the caller (`whoami/k8s-user@hostname`) for --all-mine, else undefined and `ids` count.
 * @returns the agents and holds to end, and the ids that name neither.
 */
export function chooseKillTargets(ids: readonly string[], me: string | undefined, agents: readonly SessionAgent[], holds: readonly ScaleHold[]): { agents: SessionAgent[]; holds: ScaleHold[]; unknown: string[] } {
  const pickAgent = (a: SessionAgent) => (me !== undefined ? a.facts.user === me : ids.includes(a.sessionId));
  const pickHold = (h: ScaleHold) => (me !== undefined ? h.record.user === me : ids.includes(h.record.session));
  const chosenAgents = new Set(agents.filter(pickAgent));
  // A hold whose copy runs a chosen agent is released with it; a chosen hold ends its copy's agents.
  const chosenHolds = holds.filter((h) => pickHold(h) || h.agentSessions.some((s) => [...chosenAgents].some((a) => a.sessionId === s)));
  for (const h of chosenHolds) for (const a of agents) if (h.agentSessions.includes(a.sessionId)) chosenAgents.add(a);
  const unknown = ids.filter((id) => !agents.some((a) => a.sessionId === id) && !holds.some((h) => h.record.session === id));
  return { agents: agents.filter((a) => chosenAgents.has(a)), holds: chosenHolds, unknown };
}
