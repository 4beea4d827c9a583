/**
 * The agent's log lines that `kubectl mirrord status` reads back through `pods/log`: the agent has
 * no service-account token and answers only its own session, so its log is the one place where it
 * says whether a CLI is connected and what it redirects. The agent writes one JSON object per line
 * (agent/log.ts); the lines below carry an `event` field whose name and fields are this contract.
 * Other lines (and any line that is not JSON) are ignored, so the agent may log more freely.
 *
 * The agent imports this file to write the lines; the CLI imports it to read them.
 */
import type { IncomingMode } from '../protocol/requests.ts';

/** The agent image's argument that stops the container's agent (`agent.mjs stop`, agent/stop.ts). */
export const STOP_COMMAND = 'stop';

/** `event` values, and what each line carries besides `time`, `level` and `message`. */
export const AgentEvent = {
  /** A CLI authenticated: `connection` (1, 2, ... per agent), `client` (its name), `sessions` (now open). */
  clientConnected: 'client-connected',
  /** A CLI's session ended: `connection`, `reason`, `sessions` (still open). */
  clientDisconnected: 'client-disconnected',
  /** A -R port is redirected to the CLI: `port`, `mode`, `subscription`, `filter` (steal with a filter). */
  portSubscribed: 'port-subscribed',
  /** A -R subscription ended: `port`, `subscription`. */
  portUnsubscribed: 'port-unsubscribed',
  /** The agent was told to stop (`kubectl mirrord kill`): `why`. */
  agentStopping: 'agent-stopping',
} as const;
export type AgentEvent = (typeof AgentEvent)[keyof typeof AgentEvent];

/** A filter as the subscription line writes it: regex sources, and the ports it applies to. */
export interface LoggedFilter {
  header?: string;
  path?: string;
  ports: number[];
}

/** One -R port in force, as the log tells it. */
export interface LoggedPort {
  port: number;
  mode: IncomingMode;
  filter?: LoggedFilter;
}

/** What an agent's log says about its sessions, up to the last line read. */
export interface AgentLogState {
  /** Sessions open after the last connect/disconnect line (0 before the first). */
  sessions: number;
  /** `time` of the last client-connected line, or undefined. */
  lastConnectedAt?: string;
  /** `time` of the last client-disconnected line, or undefined. */
  lastDisconnectedAt?: string;
  /** Subscriptions in force, by subscription id, in the order they were made. */
  ports: Map<number, LoggedPort>;
  /** The agent logged agent-stopping. */
  stopping: boolean;
}

const MODES: ReadonlySet<string> = new Set(['steal', 'mirror']);

function isPort(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 1 && (value as number) <= 65535;
}

function readFilter(value: unknown): LoggedFilter | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const f = value as Record<string, unknown>;
  const filter: LoggedFilter = { ports: Array.isArray(f.ports) ? f.ports.filter(isPort) : [] };
  if (typeof f.header === 'string') filter.header = f.header;
  if (typeof f.path === 'string') filter.path = f.path;
  return filter.header === undefined && filter.path === undefined ? undefined : filter;
}

/** Applies one parsed line to `state`. Lines of other shapes are ignored. */
function apply(state: AgentLogState, line: Record<string, unknown>): void {
  const time = typeof line.time === 'string' ? line.time : undefined;
  switch (line.event) {
    case AgentEvent.clientConnected:
    case AgentEvent.clientDisconnected:
      if (Number.isInteger(line.sessions) && (line.sessions as number) >= 0) state.sessions = line.sessions as number;
      if (line.event === AgentEvent.clientConnected) state.lastConnectedAt = time;
      else state.lastDisconnectedAt = time;
      return;
    case AgentEvent.portSubscribed: {
      if (!Number.isInteger(line.subscription) || !isPort(line.port) || typeof line.mode !== 'string' || !MODES.has(line.mode)) return;
      const filter = readFilter(line.filter);
      state.ports.set(line.subscription as number, { port: line.port, mode: line.mode as IncomingMode, ...(filter ? { filter } : {}) });
      return;
    }
    case AgentEvent.portUnsubscribed:
      if (Number.isInteger(line.subscription)) state.ports.delete(line.subscription as number);
      return;
    case AgentEvent.agentStopping:
      state.stopping = true;
      return;
    default:
  }
}

/** Reads a whole agent log (`kubectl logs` text: lines of JSON among others). */
export function parseAgentLog(text: string): AgentLogState {
  const state: AgentLogState = { sessions: 0, ports: new Map(), stopping: false };
  for (const raw of text.split('\n')) {
    const trimmed = raw.trim();
    if (!trimmed.startsWith('{')) continue;
    let line: unknown;
    try {
      line = JSON.parse(trimmed);
    } catch {
      continue;
    }
    if (line !== null && typeof line === 'object' && !Array.isArray(line)) apply(state, line as Record<string, unknown>);
  }
  return state;
}

/**
 * One port as status shows it, as mirrord's operator status does: `80 steal header=X-PG-Tenant: Avi.+`,
 * `8080 mirror`. A filter that does not apply to the port (filter.ports) steals it whole, so it is
 * not shown for that port.
 */
export function describePort(p: LoggedPort): string {
  const parts = [String(p.port), p.mode];
  const f = p.filter;
  if (f && (f.ports.length === 0 || f.ports.includes(p.port))) {
    if (f.header !== undefined) parts.push(`header=${f.header}`);
    if (f.path !== undefined) parts.push(`path=${f.path}`);
  }
  return parts.join(' ');
}
