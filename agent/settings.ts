/** The agent's settings from its flags and environment, checked. */
import type { TargetHint } from './target-process.ts';

export interface AgentSettings {
  host: string;
  port: number;
  tokenSha256: Buffer;
  idleTimeoutMs: number;
  debug: boolean;
  /** How to find the target container's main process (target-process.ts); empty when targetless. */
  target: TargetHint;
}

type Values = Record<string, string | boolean | undefined>;

export const DEFAULT_AGENT_LISTEN = '127.0.0.1:7070';
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

/** Returns the settings, or `{error}` naming the flag or variable that was wrong and what is accepted. */
export function parseAgentSettings(flags: Values, env: NodeJS.ProcessEnv): AgentSettings | { error: string } {
  const pick = (flag: string, variable: string): string | undefined => {
    const v = flags[flag];
    return typeof v === 'string' ? v : env[variable];
  };
  const listen = pick('listen', 'MIRRORD_AGENT_LISTEN') ?? DEFAULT_AGENT_LISTEN;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:]+):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    return { error: `--listen / MIRRORD_AGENT_LISTEN is "${listen}"; expected HOST:PORT such as 127.0.0.1:7070 or [::1]:7070` };
  }
  const host = m[1].replace(/^\[|\]$/g, '');
  const hash = pick('token-sha256', 'MIRRORD_AGENT_TOKEN_SHA256');
  if (!hash || !/^[0-9a-fA-F]{64}$/.test(hash)) {
    return { error: '--token-sha256 / MIRRORD_AGENT_TOKEN_SHA256 must be the 64 hex digits of the SHA-256 of the session token' };
  }
  const idleText = pick('idle-timeout', 'MIRRORD_AGENT_IDLE_TIMEOUT_MS') ?? String(DEFAULT_IDLE_TIMEOUT_MS);
  const idleTimeoutMs = Number(idleText);
  if (!Number.isInteger(idleTimeoutMs) || idleTimeoutMs < 100) {
    return { error: `--idle-timeout / MIRRORD_AGENT_IDLE_TIMEOUT_MS is "${idleText}"; expected whole milliseconds, at least 100` };
  }
  const level = pick('log-level', 'MIRRORD_AGENT_LOG') ?? 'info';
  if (level !== 'info' && level !== 'debug') {
    return { error: `--log-level / MIRRORD_AGENT_LOG is "${level}"; expected info or debug` };
  }
  const target: TargetHint = {};
  const pidText = pick('target-pid', 'MIRRORD_AGENT_TARGET_PID');
  if (pidText !== undefined && pidText !== '') {
    if (!/^[1-9]\d{0,9}$/.test(pidText)) return { error: `--target-pid / MIRRORD_AGENT_TARGET_PID is "${pidText}"; expected a process id (a positive integer)` };
    target.pid = Number(pidText);
  }
  const containerId = env.MIRRORD_TARGET_CONTAINER_ID;
  if (containerId !== undefined && containerId !== '') {
    if (!/^([a-z0-9-]+:\/\/)?[0-9a-zA-Z_.-]{6,}$/.test(containerId)) {
      return { error: `MIRRORD_TARGET_CONTAINER_ID is "${containerId}"; expected a container id such as containerd://<hex>` };
    }
    target.containerId = containerId;
  }
  return { host, port, tokenSha256: Buffer.from(hash, 'hex'), idleTimeoutMs, debug: level === 'debug', target };
}
