import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Session } from '../session/session.ts';
import { MirrordError } from '../errors.ts';
import { AgentLink } from './agent-link.ts';
import { GoAwayCode } from '../protocol/constants.ts';

/** Just what the link uses of a Session: 'close', `closed`, `close()`, `call()` (recorded in `log`). */
class FakeSession extends EventEmitter {
  closed = false;
  readonly log: string[] = [];
  drop(err?: Error): void {
    this.closed = true;
    this.emit('close', err);
  }
  async close(): Promise<void> {
    this.log.push('close');
    this.drop();
  }
  async call(contract: { name: string }): Promise<null> {
    this.log.push(contract.name);
    return null;
  }
}
const asSession = (s: FakeSession) => s as unknown as Session;

test('a drop is reported once, connect is retried with backoff, waiters get the new session', async () => {
  const first = new FakeSession();
  const second = new FakeSession();
  let attempts = 0;
  const link = new AgentLink({
    minBackoffMs: 5,
    maxBackoffMs: 20,
    connect: async () => {
      attempts++;
      if (attempts < 3) throw new Error(`attempt ${attempts} failed`);
      return asSession(second);
    },
  });
  const events: string[] = [];
  link.on('disconnected', () => events.push('disconnected'));
  link.on('retrying', (err) => events.push(`retrying: ${err.message}`));
  link.on('reconnected', () => events.push('reconnected'));
  link.start(asSession(first));
  assert.equal(await link.session(), asSession(first));
  first.drop(new Error('transport closed'));
  const waited = link.session(); // asked while reconnecting: waits
  assert.equal(await waited, asSession(second));
  assert.deepEqual(events, ['disconnected', 'retrying: attempt 1 failed', 'retrying: attempt 2 failed', 'reconnected']);
  await link.close();
  assert.equal(second.closed, true, 'close() ends the session');
});

test('waiting for a session is bounded', async () => {
  const first = new FakeSession();
  const link = new AgentLink({ waitForSessionMs: 30, connect: () => new Promise(() => {}) });
  link.start(asSession(first));
  first.drop();
  await assert.rejects(link.session(), (err: unknown) => err instanceof MirrordError && err.code === 'ENOSESSION');
  await link.close();
});

test('exitOnDisconnect: emits lost, never reconnects, fails waiters', async () => {
  const first = new FakeSession();
  let connects = 0;
  const link = new AgentLink({ exitOnDisconnect: true, connect: async () => (connects++, asSession(new FakeSession())) });
  const lost = new Promise<Error | undefined>((resolve) => link.once('lost', resolve));
  link.start(asSession(first));
  const boom = new Error('gone');
  first.drop(boom);
  assert.equal(await lost, boom);
  await assert.rejects(link.session(), /closed/);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(connects, 0);
});

test('an agent told to stop (GOAWAY stopped) ends the link: ended, no reconnect, waiters fail', async () => {
  const first = new FakeSession();
  let connects = 0;
  const link = new AgentLink({ minBackoffMs: 1, connect: async () => (connects++, asSession(new FakeSession())) });
  const events: string[] = [];
  link.on('disconnected', () => events.push('disconnected'));
  const ended = new Promise<string>((resolve) => link.once('ended', resolve));
  link.start(asSession(first));
  first.emit('goaway', { code: GoAwayCode.stopped, message: 'the session was ended by kubectl mirrord kill' });
  first.drop(new Error('the peer ended the session'));
  assert.equal(await ended, 'the session was ended by kubectl mirrord kill');
  await assert.rejects(link.session(), /closed/);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(connects, 0);
  assert.deepEqual(events, []);
});

test('a GOAWAY of another code still reconnects', async () => {
  const first = new FakeSession();
  const second = new FakeSession();
  const link = new AgentLink({ minBackoffMs: 1, connect: async () => asSession(second) });
  const reconnected = new Promise((resolve) => link.once('reconnected', resolve));
  link.start(asSession(first));
  first.emit('goaway', { code: GoAwayCode.internal, message: 'boom' });
  first.drop(new Error('boom'));
  await reconnected;
  assert.equal(await link.session(), asSession(second));
  await link.close();
});

test('close() tells the agent the command is over (sessionEnd), then closes the session', async () => {
  const session = new FakeSession();
  const link = new AgentLink({ connect: async () => { throw new Error('no reconnect expected'); } });
  link.start(asSession(session));
  await link.close();
  assert.deepEqual(session.log, ['sessionEnd', 'close']);
});

test('close() still closes the session when the agent refuses sessionEnd (an older agent: ENOTSUP)', async () => {
  const session = new FakeSession();
  session.call = async (contract: { name: string }) => {
    session.log.push(contract.name);
    throw new Error('ENOTSUP');
  };
  const link = new AgentLink({ connect: async () => { throw new Error('no reconnect expected'); } });
  link.start(asSession(session));
  await link.close();
  assert.deepEqual(session.log, ['sessionEnd', 'close']);
});
