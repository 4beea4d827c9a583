import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentEvent, describePort, parseAgentLog } from './agent-events.ts';

/** Log lines as agent/log.ts writes them. */
const line = (message: string, fields: Record<string, unknown>) => JSON.stringify({ time: '2026-12-02T04:00:00.000Z', level: 'info', message, ...fields });

test('an agent log: connects and disconnects count sessions, subscriptions come and go', () => {
  const text = [
    JSON.stringify({ event: 'listening', address: '127.0.0.1', port: 24000 }),
    line('client connected', { event: AgentEvent.clientConnected, connection: 1, client: 'kubectl-mirrord/0.1.0', sessions: 1 }),
    line('iptables chain created', { chain: 'KMRD-1', guard: 12 }),
    line('port subscribed', { event: AgentEvent.portSubscribed, port: 80, mode: 'steal', subscription: 1, filter: { header: 'X-PG-Tenant: Avi.+', ports: [80, 8080] } }),
    line('port subscribed', { event: AgentEvent.portSubscribed, port: 9000, mode: 'mirror', subscription: 2 }),
    'not json at all',
    '{"broken": ',
    line('client connected', { event: AgentEvent.clientConnected, connection: 2, sessions: 2 }),
    line('client disconnected', { event: AgentEvent.clientDisconnected, connection: 1, reason: 'x', sessions: 1 }),
    line('port unsubscribed', { event: AgentEvent.portUnsubscribed, port: 9000, subscription: 2 }),
    '',
  ].join('\n');
  const state = parseAgentLog(text);
  assert.equal(state.sessions, 1);
  assert.equal(state.stopping, false);
  assert.deepEqual([...state.ports.entries()], [[1, { port: 80, mode: 'steal', filter: { header: 'X-PG-Tenant: Avi.+', ports: [80, 8080] } }]]);
  assert.equal(state.lastConnectedAt, '2026-12-02T04:00:00.000Z');
  assert.equal(state.lastDisconnectedAt, '2026-12-02T04:00:00.000Z');
});

test('the last disconnect leaves no CLI; stopping is seen; malformed event lines are ignored', () => {
  const state = parseAgentLog([
    line('client connected', { event: AgentEvent.clientConnected, sessions: 1 }),
    line('port subscribed', { event: AgentEvent.portSubscribed, port: 0, mode: 'steal', subscription: 1 }),
    line('port subscribed', { event: AgentEvent.portSubscribed, port: 80, mode: 'teleport', subscription: 2 }),
    line('port subscribed', { event: AgentEvent.portSubscribed, port: 80, mode: 'steal', subscription: 'three' }),
    line('client disconnected', { event: AgentEvent.clientDisconnected, sessions: -4 }),
    line('stopping', { event: AgentEvent.agentStopping, why: 'kill' }),
    line('client disconnected', { event: AgentEvent.clientDisconnected, sessions: 0 }),
  ].join('\n'));
  assert.equal(state.sessions, 0);
  assert.equal(state.ports.size, 0);
  assert.equal(state.stopping, true);
  assert.equal(parseAgentLog('').sessions, 0);
});

test('ports read as in mirrord operator status; a filter shows only on the ports it applies to', () => {
  const filter = { header: 'X-PG-Tenant: Avi.+', ports: [80, 8080] };
  assert.equal(describePort({ port: 80, mode: 'steal', filter }), '80 steal header=X-PG-Tenant: Avi.+');
  assert.equal(describePort({ port: 9000, mode: 'steal', filter }), '9000 steal');
  assert.equal(describePort({ port: 8080, mode: 'steal', filter: { header: 'a', path: '^/api', ports: [] } }), '8080 steal header=a path=^/api');
  assert.equal(describePort({ port: 80, mode: 'mirror' }), '80 mirror');
});
