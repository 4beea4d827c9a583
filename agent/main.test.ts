/**
 * The agent as a real process, the way its image runs it: it prints the listening line, serves a
 * session, exits 0 after its idle timeout, and exits 2 naming a bad flag.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Session } from '../src/session/session.ts';
import { TOKEN, readAll, writeAll } from '../test/support/session-harness.ts';
import { parseAgentLog } from '../src/sessions/agent-events.ts';
import { GoAwayCode } from '../src/protocol/constants.ts';
import { STOP_SIGNAL } from './stop.ts';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));
/** Read from disk here, not imported: the agent's own import of package.json is what is under test. */
const packageVersion = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const hash = createHash('sha256').update(TOKEN).digest('hex');

/** The environment without any MIRRORD_AGENT_* setting, so only the flags count. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MIRRORD_AGENT_')));
}

test('the agent process listens, serves a session, and exits 0 after its idle timeout', async () => {
  const echo = createServer((socket) => socket.pipe(socket));
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  const agent = spawn(process.execPath, [main, '--listen', '127.0.0.1:0', '--token-sha256', hash, '--idle-timeout', '300'], {
    env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  agent.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = once(agent, 'exit') as Promise<[number | null, string | null]>;
  try {
    const [line] = await once(createInterface({ input: agent.stdout }), 'line') as [string];
    const listening = JSON.parse(line) as { event: string; address: string; port: number };
    assert.equal(listening.event, 'listening');
    assert.equal(listening.address, '127.0.0.1');
    assert.ok(listening.port > 0);

    const socket = connect({ host: '127.0.0.1', port: listening.port });
    await once(socket, 'connect');
    const session = await Session.connect(socket, { token: TOKEN });
    // The version the agent reports is package.json's, so an image and a CLI of one release agree.
    assert.equal(session.peerName, `kubectl-mirrord-agent/${packageVersion}`);
    const stream = session.openStream({ host: '127.0.0.1', port: (echo.address() as AddressInfo).port });
    const data = Buffer.alloc(100_000, 7);
    const [echoed] = await Promise.all([readAll(stream), writeAll(stream, data)]);
    assert.ok(echoed.equals(data));
    await session.close();

    const [code, signal] = await exited;
    assert.equal(signal, null);
    assert.equal(code, 0);
    const log = stderr.trim().split('\n').map((l) => JSON.parse(l) as { level: string; message: string });
    assert.deepEqual(log.map((l) => l.message), ['client connected', 'client disconnected', 'no client for the idle timeout; exiting']);
    // What `kubectl mirrord status` reads back through pods/log.
    const state = parseAgentLog(stderr);
    assert.equal(state.sessions, 0);
    assert.ok(state.lastConnectedAt !== undefined && state.lastDisconnectedAt !== undefined);
    assert.equal(state.stopping, false);
  } finally {
    agent.kill();
    echo.close();
  }
});

test('on the stop signal the agent ends its session with GOAWAY stopped, logs it, and exits 0', async () => {
  const agent = spawn(process.execPath, [main, '--listen', '127.0.0.1:0', '--token-sha256', hash, '--idle-timeout', '60000'], {
    env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  agent.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  const exited = once(agent, 'exit') as Promise<[number | null, string | null]>;
  try {
    const [line] = await once(createInterface({ input: agent.stdout }), 'line') as [string];
    const { port } = JSON.parse(line) as { port: number };
    const socket = connect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    const session = await Session.connect(socket, { token: TOKEN });
    const goaway = once(session, 'goaway') as Promise<[{ code: number; message: string }]>;
    const closed = once(session, 'close');
    // The agent logs the connect right after its WELCOME leaves, so the line may trail a little.
    while (parseAgentLog(stderr).sessions !== 1) await once(agent.stderr, 'data');
    agent.kill(STOP_SIGNAL);
    const [{ code, message }] = await goaway;
    assert.equal(code, GoAwayCode.stopped);
    assert.match(message, /kubectl mirrord kill/);
    await closed;
    const [exitCode, signal] = await exited;
    assert.equal(signal, null);
    assert.equal(exitCode, 0);
    const state = parseAgentLog(stderr);
    assert.equal(state.stopping, true);
    assert.equal(state.sessions, 0);
  } finally {
    agent.kill();
  }
});

test('a bad flag exits 2 naming the flag', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [main, ...args], { env: cleanEnv(), encoding: 'utf8', timeout: 8000 });
  const badIdle = run(['--token-sha256', hash, '--idle-timeout', 'soon']);
  assert.equal(badIdle.status, 2);
  assert.equal(badIdle.stdout, '');
  assert.equal(badIdle.stderr, 'error: --idle-timeout / MIRRORD_AGENT_IDLE_TIMEOUT_MS is "soon"; expected whole milliseconds, at least 100\n');

  const noToken = run([]);
  assert.equal(noToken.status, 2);
  assert.match(noToken.stderr, /^error: --token-sha256 \/ MIRRORD_AGENT_TOKEN_SHA256 must be/);

  const unknown = run(['--token-sha256', hash, '--bogus']);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /^error: .*--bogus/);
});
