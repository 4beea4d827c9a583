/**
 * A peer that breaks the protocol after a good handshake, played by hand with the codec. Every
 * case ends the session with a ProtocolError that names the problem, and the peer is told the
 * same in a GOAWAY. Runs with the raw peer as the client and as the agent, over both transports.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameType, GoAwayCode, HEADER_SIZE, INITIAL_WINDOW, MAX_FRAME_PAYLOAD, Transport } from '../protocol/constants.ts';
import { ProtocolError } from '../protocol/errors.ts';
import {
  decodeGoAway, encodeDataHeader, encodeFrame, encodeOpen, encodeResponse, encodeWindowUpdate, writeHeader,
} from '../protocol/frames.ts';
import { Session } from './session.ts';
import type { MuxStream } from './stream.ts';
import { RawPeer, TOKEN, closed, track, variants, verifyToken, type TransportFactory } from '../../test/support/session-harness.ts';

interface Setup {
  session: Session;
  raw: RawPeer;
  /** The first stream id the raw peer may open, given its role. */
  firstId: number;
}

/** A real session on one end, the raw peer on the other, handshake done. */
async function setUp(transport: TransportFactory, rawIsAgent: boolean): Promise<Setup> {
  const [clientEnd, agentEnd] = await transport();
  if (rawIsAgent) {
    const raw = new RawPeer(agentEnd);
    const connecting = Session.connect(clientEnd, { token: TOKEN });
    await raw.welcomeAsAgent();
    return { session: track(await connecting), raw, firstId: 2 };
  }
  const raw = new RawPeer(clientEnd);
  const accepting = Session.accept(agentEnd, { verifyToken });
  await raw.helloAsClient();
  return { session: track(await accepting), raw, firstId: 1 };
}

/** Expects the session to end with `code`, and the raw peer to get a GOAWAY saying the same. */
async function expectEnd(setup: Setup, code: string, message: RegExp): Promise<void> {
  const err = await closed(setup.session);
  assert.ok(err instanceof ProtocolError, `the session ended with ${String(err)}`);
  assert.equal(err.code, code);
  assert.match(err.message, message);
  const goAway = decodeGoAway((await setup.raw.frame(FrameType.goAway)).payload);
  assert.equal(goAway.code, GoAwayCode.protocolError);
  assert.match(goAway.message, message);
}

function openFrame(id: number): Buffer {
  return encodeOpen(id, { window: INITIAL_WINDOW, transport: Transport.tcp, destination: { host: '10.0.0.1', port: 80 } });
}

/** The session accepts every stream and never reads from it. */
function acceptWithoutReading(session: Session): MuxStream[] {
  const streams: MuxStream[] = [];
  session.on('stream', (stream: MuxStream) => {
    stream.on('error', () => {});
    stream.accept();
    streams.push(stream);
  });
  return streams;
}

function badPeerSuite(transport: TransportFactory, rawIsAgent: boolean): void {
  const run = (name: string, body: (setup: Setup) => Promise<void>) => test(name, async () => {
    const setup = await setUp(transport, rawIsAgent);
    try {
      await body(setup);
    } finally {
      setup.session.destroy();
      setup.raw.transport.destroy();
    }
  });

  run('more DATA than the initial window is EPROTO_WINDOW', async (setup) => {
    const streams = acceptWithoutReading(setup.session);
    const id = setup.firstId;
    // Exactly the window, in two frames, is allowed; one byte more is not.
    setup.raw.send(openFrame(id),
      encodeDataHeader(id, DATA_HALF, false), Buffer.alloc(DATA_HALF, 1),
      encodeDataHeader(id, DATA_HALF, false), Buffer.alloc(DATA_HALF, 2),
      encodeDataHeader(id, 1, false), Buffer.alloc(1, 3));
    await expectEnd(setup, 'EPROTO_WINDOW', new RegExp(`DATA of 1 bytes on stream ${id} exceeds the credit the peer was given \\(window ${INITIAL_WINDOW}\\)`));
    assert.equal(streams.length, 1);
    assert.ok(streams[0].readableLength <= INITIAL_WINDOW, 'the receiver never held more than the window');
  });

  run('one DATA frame larger than the window is EPROTO_WINDOW before its payload is read', async (setup) => {
    acceptWithoutReading(setup.session);
    const id = setup.firstId;
    setup.raw.send(openFrame(id), encodeDataHeader(id, INITIAL_WINDOW + 1, false));
    await expectEnd(setup, 'EPROTO_WINDOW', new RegExp(`DATA of ${INITIAL_WINDOW + 1} bytes`));
  });

  run('a frame longer than MAX_FRAME_PAYLOAD is EPROTO_FRAME_TOO_LARGE', async (setup) => {
    const header = Buffer.alloc(HEADER_SIZE);
    writeHeader(header, 0, MAX_FRAME_PAYLOAD + 1, FrameType.request, 0, 1);
    setup.raw.send(header);
    await expectEnd(setup, 'EPROTO_FRAME_TOO_LARGE', /exceeds the 1048576-byte limit/);
  });

  run('an unknown frame type is EPROTO_UNKNOWN_TYPE naming it', async (setup) => {
    setup.raw.send(encodeFrame(200 as FrameType, 0, 5));
    await expectEnd(setup, 'EPROTO_UNKNOWN_TYPE', /unknown frame type 200 on stream 5/);
  });

  run('a malformed OPEN is EPROTO_MALFORMED naming OPEN', async (setup) => {
    setup.raw.send(encodeFrame(FrameType.open, 0, setup.firstId, Buffer.from('0004000001090000', 'hex')));
    await expectEnd(setup, 'EPROTO_MALFORMED', /malformed OPEN frame: unknown address type 9/);
  });

  run('an OPEN with the wrong parity or a reused id is EPROTO_UNEXPECTED', async (setup) => {
    acceptWithoutReading(setup.session);
    setup.raw.send(openFrame(setup.firstId), openFrame(setup.firstId));
    await expectEnd(setup, 'EPROTO_UNEXPECTED', new RegExp(`OPEN with stream id ${setup.firstId}, which the peer may not use`));
  });

  run('a HELLO after the handshake is EPROTO_UNEXPECTED', async (setup) => {
    setup.raw.send(encodeFrame(FrameType.hello, 0, 0, Buffer.alloc(12)));
    await expectEnd(setup, 'EPROTO_UNEXPECTED', /frame type 1 is only valid during the handshake/);
  });

  run('DATA or WINDOW_UPDATE for a stream never opened is EPROTO_UNEXPECTED', async (setup) => {
    setup.raw.send(encodeWindowUpdate(setup.firstId + 40, 10));
    await expectEnd(setup, 'EPROTO_UNEXPECTED', new RegExp(`WINDOW_UPDATE on stream ${setup.firstId + 40}, which was never opened`));
  });

  run('a RESPONSE nobody asked for is EPROTO_UNEXPECTED', async (setup) => {
    setup.raw.send(encodeResponse(77, 0, null));
    await expectEnd(setup, 'EPROTO_UNEXPECTED', /RESPONSE to request 77, which was never sent/);
  });

  run('a GOAWAY with an error code ends the session with EGOAWAY and its message', async (setup) => {
    const ended = closed(setup.session);
    setup.raw.send(encodeFrame(FrameType.goAway, 0, 0, Buffer.concat([Buffer.from([GoAwayCode.internal]), Buffer.from('disk full')])));
    const err = await ended;
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.code, 'EGOAWAY');
    assert.match(err.message, /the peer ended the session: disk full/);
  });

  run('the transport closing under the session is ECONNRESET', async (setup) => {
    const ended = closed(setup.session);
    setup.raw.transport.end();
    const err = await ended;
    assert.ok(err instanceof ProtocolError);
    assert.equal(err.code, 'ECONNRESET');
  });
}

const DATA_HALF = INITIAL_WINDOW / 2;

for (const variant of variants) {
  const role = variant.swapped ? 'agent' : 'client';
  describe(`a bad ${role} peer over ${variant.name.replace(', agent opens', '')}`, () => badPeerSuite(variant.transport, variant.swapped));
}
