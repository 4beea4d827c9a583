/**
 * The agent's entry point, the command of the agent image. Settings come from flags or, for the
 * pod spec's convenience, the environment:
 *
 *   --listen HOST:PORT        MIRRORD_AGENT_LISTEN           default 127.0.0.1:7070
 *   --token-sha256 HEX        MIRRORD_AGENT_TOKEN_SHA256     required: SHA-256 of the session token
 *   --idle-timeout MS         MIRRORD_AGENT_IDLE_TIMEOUT_MS  default 60000
 *   --log-level info|debug    MIRRORD_AGENT_LOG              default info
 *   --target-pid PID          MIRRORD_AGENT_TARGET_PID       the target container's main process
 *                             MIRRORD_TARGET_CONTAINER_ID    or: find it by its container id
 *
 * The pod spec carries only the token's hash, so reading the pod does not reveal the token.
 * Prints one JSON line {"event":"listening",...} on stdout once it listens.
 *
 * `scale-keeper` as the first argument runs the scale keeper instead (agent/scale-keeper.ts);
 * `stop` tells this container's agent to stop (agent/stop.ts, what `kubectl mirrord kill` runs).
 * On STOP_SIGNAL the agent ends its sessions with GOAWAY `stopped`, removes its redirects, exits 0.
 */
import { parseArgs } from 'node:util';
import { AgentServer } from './server.ts';
import { createLog } from './log.ts';
import { parseAgentSettings } from './settings.ts';
import { TargetProcess } from './target-process.ts';
import { runScaleKeeper } from './scale-keeper.ts';
import { KEEPER_COMMAND } from '../src/kube/scale-keeper.ts';
import { STOP_COMMAND } from '../src/sessions/agent-events.ts';
import { runStop, STOP_SIGNAL } from './stop.ts';

/** The flags, or undefined once the one that was wrong is printed (parseArgs names it). */
function readFlags(): Record<string, string | boolean | undefined> | undefined {
  try {
    return parseArgs({
      options: {
        listen: { type: 'string' },
        'token-sha256': { type: 'string' },
        'idle-timeout': { type: 'string' },
        'log-level': { type: 'string' },
        'target-pid': { type: 'string' },
      },
      strict: true,
    }).values;
  } catch (err) {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    return undefined;
  }
}

async function main(): Promise<number> {
  // `scale-keeper`: the in-cluster restorer of a scale_down (src/kube/scale-keeper.ts).
  if (process.argv[2] === KEEPER_COMMAND) return await runScaleKeeper(process.env, createLog(process.env.MIRRORD_AGENT_LOG === 'debug'));
  if (process.argv[2] === STOP_COMMAND) return await runStop();
  const values = readFlags();
  if (!values) return 2;
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
    target: new TargetProcess(settings.target),
    log,
    onIdle: (why) => {
      if (why === 'ended') log.info('the client\'s command is over and no session is left; exiting');
      else log.info('no client for the idle timeout; exiting', { idleTimeoutMs: settings.idleTimeoutMs });
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
  process.once(STOP_SIGNAL, () => {
    void server.stop('the session was ended by kubectl mirrord kill').finally(() => process.exit(0));
  });
  // After an uncaught error no async cleanup can be trusted to run: remove the iptables rules
  // with blocking calls (the guard would also remove them once this process is gone).
  process.once('uncaughtException', (err) => {
    log.warn('uncaught error; removing iptables rules and exiting', { error: err.stack ?? err.message });
    server.closeSync();
    process.exit(1);
  });
  return -1;
}

main().then(
  (code) => { if (code >= 0) process.exit(code); },
  (err: Error) => {
    process.stderr.write(`error: ${err.message}\n`);
    process.exit(1);
  },
);
