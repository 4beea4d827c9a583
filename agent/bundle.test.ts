/**
 * The shipped agent: `npm run build` bundles agent/main.ts and the iptables guard into dist/agent/,
 * and the bundle alone (no TypeScript, no node_modules) serves a session and can start its guard.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { buildAgent } from '../scripts/build.ts';
import { Session } from '../src/session/session.ts';
import { TOKEN } from '../test/support/session-harness.ts';

test('the bundled agent serves a session, and its guard entry point runs', async () => {
  const dir = await buildAgent();
  const agent = spawn(process.execPath, [`${dir}/agent.mjs`, '--listen', '127.0.0.1:0',
    '--token-sha256', createHash('sha256').update(TOKEN).digest('hex'), '--idle-timeout', '300'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(agent, 'exit') as Promise<[number | null]>;
  try {
    const [line] = await once(createInterface({ input: agent.stdout }), 'line') as [string];
    const { port } = JSON.parse(line) as { port: number };
    const socket = connect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    const session = await Session.connect(socket, { token: TOKEN });
    assert.deepEqual((await session.lookup('localhost')).addresses.includes('127.0.0.1'), true);
    await session.close();
    const [code] = await exited;
    assert.equal(code, 0, 'the bundled agent exits 0 after its idle timeout');
  } finally {
    agent.kill('SIGKILL');
  }
  // The guard refuses a chain that is not one of ours, naming its usage: proof it loads and runs.
  const guard = spawnSync(process.execPath, [`${dir}/guard.mjs`, 'iptables', 'not-ours'], { encoding: 'utf8' });
  assert.equal(guard.status, 2);
  assert.match(guard.stderr, /usage: guard\.ts <iptables binary> <KMRD-chain>/);
});
