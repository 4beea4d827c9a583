/**
 * The agent's log: one JSON object per line on stderr, which `kubectl logs` shows. Debug lines only
 * with MIRRORD_AGENT_LOG=debug.
 */
export interface AgentLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
}

export function createLog(debug: boolean, write: (line: string) => void = (line) => process.stderr.write(line)): AgentLog {
  const emit = (level: string, message: string, fields?: Record<string, unknown>) =>
    write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`);
  return {
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    debug: debug ? (message, fields) => emit('debug', message, fields) : () => {},
  };
}

/** A log that drops everything, for embedding the agent in tests and benchmarks. */
export const silentLog: AgentLog = { info() {}, warn() {}, debug() {} };
