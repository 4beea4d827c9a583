/**
 * Handshake failures, over an in-memory pair and loopback TCP: every one is a clear error on
 * both sides, naming what was wrong.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { FrameFlag, FrameType, GoAwayCode, PROTOCOL_VERSION } from '../protocol/constants.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { decodeGoAway, encodeFrame, encodeHello, encodeWelcome } from '../protocol/frames.ts';
import { Session } from './session.ts';
import { RawPeer, TOKEN, variants, verifyToken, type TransportFactory } from '../../test/support/session-harness.ts';

function isProtocolError(code: string, message: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ProtocolError, `expected a ProtocolError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, message);
    return true;
  };
}

function handshakeSuite(transport: TransportFactory): void {
  test('a wrong token is EAUTH on the client and on the agent', async () => {
    const [clientEnd, agentEnd] = await transport();
    const [client, agent] = await Promise.allSettled([
      Session.connect(clientEnd, { token: Buffer.alloc(32, 1) }),
      Session.accept(agentEnd, { verifyToken }),
    ]);
    assert.equal(client.status, 'rejected');
    assert.equal(agent.status, 'rejected');
    isProtocolError('EAUTH', /agent refused the session: the session token was rejected/)(client.reason);
    isProtocolError('EAUTH', /session token was rejected/)(agent.reason);
  });

  test('the token may be given as hex', async () => {
    const [clientEnd, agentEnd] = await transport();
    const [client, agent] = await Promise.all([
      Session.connect(clientEnd, { token: TOKEN.toString('hex') }),
      Session.accept(agentEnd, { verifyToken }),
    ]);
    client.destroy();
    agent.destroy();
  });

  test('a version mismatch is EVERSION on both sides, naming both versions', async () => {
    const [clientEnd, agentEnd] = await transport();
    const [client, agent] = await Promise.allSettled([
      Session.connect(clientEnd, { token: TOKEN, version: 7, client: 'kubectl-mirrord/9.0.0' }),
      Session.accept(agentEnd, { verifyToken }),
    ]);
    const both = new RegExp(`protocol version ${PROTOCOL_VERSION} but kubectl-mirrord/9.0.0 speaks 7`);
    assert.equal(client.status, 'rejected');
    assert.equal(agent.status, 'rejected');
    isProtocolError('EVERSION', both)(client.reason);
    isProtocolError('EVERSION', both)(agent.reason);
  });

  test('a WELCOME with another version is EVERSION on the client, naming both versions', async () => {
    const [clientEnd, agentEnd] = await transport();
    const raw = new RawPeer(agentEnd);
    const connecting = Session.connect(clientEnd, { token: TOKEN });
    await raw.frame(FrameType.hello);
    raw.send(encodeWelcome({ version: 2, capabilities: 3, agent: 'agent/2.0' }));
    await assert.rejects(connecting, isProtocolError('EVERSION', new RegExp(`agent \\(agent/2.0\\) speaks protocol version 2, this CLI speaks ${PROTOCOL_VERSION}`)));
  });

  test('an HTTP request instead of HELLO is refused as not this protocol', async () => {
    const [clientEnd, agentEnd] = await transport();
    const accepting = Session.accept(agentEnd, { verifyToken });
    clientEnd.on('error', () => {});
    clientEnd.write('GET / HTTP/1.1\r\nHost: agent\r\n\r\n');
    await assert.rejects(accepting, isProtocolError('EPROTO_FRAME_TOO_LARGE', /is it speaking this protocol/));
  });

  test('another frame type first is refused with a GOAWAY naming it', async () => {
    const [clientEnd, agentEnd] = await transport();
    const raw = new RawPeer(clientEnd);
    const accepting = Session.accept(agentEnd, { verifyToken });
    raw.send(encodeFrame(FrameType.ping, 0, 0, Buffer.alloc(8)));
    await assert.rejects(accepting, isProtocolError('EPROTO_UNEXPECTED', /first frame must be HELLO, got frame type 8/));
    const goAway = decodeGoAway((await raw.frame(FrameType.goAway)).payload);
    assert.equal(goAway.code, GoAwayCode.protocolError);
    assert.match(goAway.message, /first frame must be HELLO/);
  });

  test('a HELLO with a bad magic or cut short is EPROTO_MALFORMED', async () => {
    for (const payload of [Buffer.from('HTTP/1.1'), encodeHello({ version: 1, capabilities: 0, token: TOKEN, client: 'c' }).subarray(10, 30)]) {
      const [clientEnd, agentEnd] = await transport();
      const raw = new RawPeer(clientEnd);
      const accepting = Session.accept(agentEnd, { verifyToken });
      raw.send(encodeFrame(FrameType.hello, 0, 0, payload));
      await assert.rejects(accepting, isProtocolError('EPROTO_MALFORMED', /HELLO/));
      assert.match(decodeGoAway((await raw.frame(FrameType.goAway)).payload).message, /HELLO/);
    }
  });

  test('an agent that answers with something else is EPROTO_UNEXPECTED on the client', async () => {
    const [clientEnd, agentEnd] = await transport();
    const raw = new RawPeer(agentEnd);
    const connecting = Session.connect(clientEnd, { token: TOKEN });
    await raw.frame(FrameType.hello);
    raw.send(encodeFrame(FrameType.ping, 0, 0, Buffer.alloc(8)));
    await assert.rejects(connecting, isProtocolError('EPROTO_UNEXPECTED', /answered HELLO with frame type 8, not WELCOME/));
  });

  test('silence during the handshake times out; a close is ECONNRESET', async () => {
    const [clientEnd, agentEnd] = await transport();
    await assert.rejects(Session.accept(agentEnd, { verifyToken, handshakeTimeoutMs: 50 }),
      isProtocolError('ETIMEDOUT', /did not complete the handshake within 50 ms/));
    clientEnd.destroy();
    const [clientEnd2, agentEnd2] = await transport();
    const accepting = Session.accept(agentEnd2, { verifyToken });
    clientEnd2.end();
    await assert.rejects(accepting, isProtocolError('ECONNRESET', /closed the connection during the handshake/));
  });

  test('frames right behind HELLO are not lost', async () => {
    const [clientEnd, agentEnd] = await transport();
    const raw = new RawPeer(clientEnd);
    const accepting = Session.accept(agentEnd, { verifyToken });
    // HELLO and a PING in one write: the PING is leftover for the session to decode.
    raw.send(encodeHello({ version: PROTOCOL_VERSION, capabilities: 3, token: TOKEN, client: 'raw' }),
      encodeFrame(FrameType.ping, 0, 0, Buffer.from('abcdefgh')));
    const agent = await accepting;
    await once(raw.transport, 'data');
    // The session sends a PING of its own at the start (a first round-trip sample); the answer has ACK.
    const pong = await raw.frame(FrameType.ping, FrameFlag.ack);
    assert.equal(pong.payload.toString(), 'abcdefgh');
    agent.destroy();
  });
}

for (const variant of variants.filter((v) => !v.swapped)) {
  describe(`handshake over ${variant.name}`, () => handshakeSuite(variant.transport));
}
