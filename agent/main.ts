/**
 * The agent's entry point, the command of the agent image. Settings come from flags or, for the
 * pod spec's convenience, the environment:
 *
 *   --listen HOST:PORT        MIRRORD_AGENT_LISTEN           default 127.0.0.1:7070
 *   --token-sha256 HEX        MIRRORD_AGENT_TOKEN_SHA256     required: SHA-256 of the session token
 *   --idle-timeout MS         MIRRORD_AGENT_IDLE_TIMEOUT_MS  default 60000
 *   --log-level info|debug    MIRRORD_AGENT_LOG              default info
 *
 * The pod spec carries only the token's hash, so reading the pod does not reveal the token.
 * Prints one JSON line {"event":"listening",...} on stdout once it listens.
 */
import { parseArgs } from 'node:util';
import { AgentServer } from './server.ts';
import { createLog } from './log.ts';
import { parseAgentSettings } from './settings.ts';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      listen: { type: 'string' },
      'token-sha256': { type: 'string' },
      'idle-timeout': { type: 'string' },
      'log-level': { type: 'string' },
    },
    strict: true,
  });
  const settings = parseAgentSettings(values, process.env);
  if ('error' in settings) {
    process.stderr.write(`error: ${settings.error}\n`);
    return 2;
  }
  const log = createLog(settings.debug);
  const server = new AgentServer({
    host: settings.host,
    port: settings.port,
    tokenSha256: settings.tokenSha256,
    idleTimeoutMs: settings.idleTimeoutMs,
    log,
    agentName: 'kubectl-mirrord-agent/0.1.0',
    onIdle: () => {
      log.info('no client for the idle timeout; exiting', { idleTimeoutMs: settings.idleTimeoutMs });
      void server.close().finally(() => process.exit(0));
    },
  });
  const address = await server.listen();
  process.stdout.write(`${JSON.stringify({ event: 'listening', address: address.address, port: address.port })}\n`);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      log.info(`${signal}: shutting down`);
      void server.close().finally(() => process.exit(0));
    });
  }
  return -1;
}

main().then(
  (code) => { if (code >= 0) process.exit(code); },
  (err: Error) => {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(1);
  },
);
